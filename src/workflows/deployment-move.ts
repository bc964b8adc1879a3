// The steps a Deployment's pod adds to its move to another cluster or namespace (CreateThenDelete with
// plan.deploymentMove, planning/deployment-move.ts).
//
// Before the freeze: the target namespace's Deployment of the name is made ready to adopt the copy (created with
// 0 replicas when missing, its ReplicaSet of the source pod's template found), and that ReplicaSet's pod creation
// is fenced (deploy/admission), proven to hold. Both undone on rollback. The fence is raised this early so that a
// missing policy, or another migration into the same Deployment, refuses the move while it can still be undone.
//
// After the commit (the copy, without labels or owner, Ready), forward only: the target's Deployment is scaled up by
// one (its ReplicaSet cannot create the pod it now lacks), the copy gets its labels back and is adopted, the fence
// is lifted, and the source's Deployment is scaled down by one: its ReplicaSet deletes the frozen source, its
// cheapest pod. A step that fails leaves the source frozen, and the failure lists what is left to do by hand.
import { proxyActivities } from '@temporalio/workflow';
import type { PreparedDeployment } from '../activities/deployments.js';
import type { OwnerFenceInput } from '../activities/pod-name-fence.js';
import type { MigrationPlan } from '../api/migration-plan.js';
import type { PodIdentity } from '../api/migration.js';
import { ANNOTATIONS, liftFenceByHand, ownerFenceKey } from '../api/names.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';
import type { Saga } from './saga.js';
import { API_CALL, persistent, podWait } from './timing.js';

const cluster = proxyActivities<OrchestratorActivities>(API_CALL);
const clusterPersistent = proxyActivities<OrchestratorActivities>(persistent());
/** How long the target's Deployment controller may take to make (or show) the ReplicaSet of the template. */
const TARGET_DEPLOYMENT_SECONDS = 60;
const targetDeploymentWait = proxyActivities<OrchestratorActivities>(podWait(TARGET_DEPLOYMENT_SECONDS));
/** How long the target's ReplicaSet may take to adopt the copy once it has its labels (measured: 20-40 ms). */
const ADOPTION_SECONDS = 30;
const adoptionWait = proxyActivities<OrchestratorActivities>(podWait(ADOPTION_SECONDS));

/**
 * Before the freeze: the target's Deployment ready to adopt the copy, its ReplicaSet's pod creation fenced. Undone
 * (cleanups): the fence lifted; the Deployment deleted if this migration created it and it still has 0 replicas.
 */
export async function prepareTargetDeployment(plan: MigrationPlan, saga: Saga): Promise<PreparedDeployment> {
  const move = plan.deploymentMove!;
  const target = { cluster: plan.target.cluster, namespace: plan.target.namespace };
  saga.onFailureCleanUp('delete the target Deployment this migration created', () =>
    clusterPersistent.deleteCreatedDeployment({ migrationId: plan.migrationId, ...target, name: move.deployment }),
  );
  const prepared = await targetDeploymentWait.prepareTargetDeployment({
    migrationId: plan.migrationId,
    source: { cluster: plan.source.cluster, namespace: plan.source.namespace, name: move.deployment, uid: move.source.uid },
    target,
    templateHash: move.templateHash,
    timeoutSeconds: TARGET_DEPLOYMENT_SECONDS,
  });
  const fence = ownerFenceOf(plan, prepared);
  saga.onFailureCleanUp('lift the owner fence', () => clusterPersistent.liftOwnerFence(fence));
  await cluster.raiseOwnerFence(fence);
  return prepared;
}

/**
 * After the commit: the copy handed to the target's Deployment, then the source's scaled down (its ReplicaSet
 * deletes the frozen source). Returns when the copy got its labels back (it serves through the Deployment's
 * Services from then on). A step that fails throws what committedBut makes of it, with the steps left to do by hand.
 */
export async function handOverToTargetDeployment(
  plan: MigrationPlan,
  copy: PodIdentity,
  prepared: PreparedDeployment,
  committedBut: (what: string, err: unknown, byHand: string[]) => Error,
): Promise<{ labelledAt: number }> {
  const move = plan.deploymentMove!;
  const { migrationId } = plan;
  const source = { cluster: plan.source.cluster, namespace: plan.source.namespace, name: move.deployment, uid: move.source.uid };
  const target = { cluster: plan.target.cluster, namespace: plan.target.namespace, name: move.deployment, uid: prepared.uid };
  const labels = plan.sourcePod.metadata.labels ?? {};
  const kubectl = (at: { cluster: string; namespace: string }) => `kubectl --context ${at.cluster} -n ${at.namespace}`;
  const replicaSet = prepared.replicaSet;
  let labelledAt = 0;
  const steps: Array<{ what: string; byHand: string; run: () => Promise<unknown> }> = [
    {
      what: `scaling Deployment ${target.namespace}/${target.name} in cluster ${target.cluster} up by one`,
      byHand:
        `${kubectl(target)} scale deployment ${target.name} --current-replicas=${prepared.replicas} --replicas=${prepared.replicas + 1} ` +
        `(unless its annotation ${ANNOTATIONS.scaledBy} names ${migrationId})`,
      run: () => clusterPersistent.scaleDeployment({ ...target, by: 1, migrationId }),
    },
    {
      what: `giving the restored pod ${copy.namespace}/${copy.name} in cluster ${copy.cluster} its labels back`,
      byHand:
        `${kubectl(copy)} label pod ${copy.name} ${Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(' ')} && ` +
        `${kubectl(copy)} annotate pod ${copy.name} ${ANNOTATIONS.stashedLabels}-`,
      run: async () => {
        await clusterPersistent.handOverToReplicaSet({
          cluster: copy.cluster,
          namespace: copy.namespace,
          copy: { name: copy.name, migrationId, sourceUid: plan.source.uid },
          labels,
        });
        labelledAt = Date.now();
      },
    },
    {
      what: `waiting for ReplicaSet ${replicaSet.name} to adopt the restored pod ${copy.name} in cluster ${copy.cluster}`,
      byHand: `check that ReplicaSet ${replicaSet.name} owns the pod: ${kubectl(copy)} get pod ${copy.name} -o jsonpath='{.metadata.ownerReferences[*].name}'`,
      run: () => adoptionWait.awaitPodOwner({ ...copy, ownerUid: replicaSet.uid, timeoutSeconds: ADOPTION_SECONDS }),
    },
    {
      what: `lifting the fence of ReplicaSet ${replicaSet.name}'s pods in cluster ${target.cluster}`,
      byHand: liftFenceByHand(target.cluster, target.namespace, ownerFenceKey(replicaSet.uid)),
      run: () => clusterPersistent.liftOwnerFence(ownerFenceOf(plan, prepared)),
    },
    {
      what: `scaling Deployment ${source.namespace}/${source.name} in cluster ${source.cluster} down by one`,
      byHand:
        `${kubectl(source)} scale deployment ${source.name} --current-replicas=${move.source.replicas} --replicas=${move.source.replicas - 1} ` +
        `(unless its annotation ${ANNOTATIONS.scaledBy} names ${migrationId}); its ReplicaSet then deletes the frozen source, its cheapest pod`,
      run: () => clusterPersistent.scaleDeployment({ ...source, by: -1, migrationId }),
    },
  ];
  for (const [i, step] of steps.entries()) {
    try {
      await step.run();
    } catch (err) {
      throw committedBut(step.what, err, steps.slice(i).map((s) => s.byHand));
    }
  }
  return { labelledAt };
}

/** The owner fence of the target's ReplicaSet that adopts the copy. */
function ownerFenceOf(plan: MigrationPlan, prepared: PreparedDeployment): OwnerFenceInput {
  return {
    cluster: plan.target.cluster,
    namespace: plan.target.namespace,
    owner: { kind: 'ReplicaSet', name: prepared.replicaSet.name, uid: prepared.replicaSet.uid },
    migrationId: plan.migrationId,
  };
}
