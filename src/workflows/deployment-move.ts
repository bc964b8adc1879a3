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
import { adoptionStep, kubectl, labelsBackStep, runHandOverSteps, type CommittedBut } from './hand-over-steps.js';
import { API_CALL, persistent, podWait } from './timing.js';

const cluster = proxyActivities<OrchestratorActivities>(API_CALL);
const clusterPersistent = proxyActivities<OrchestratorActivities>(persistent());
/** How long the target's Deployment controller may take to make (or show) the ReplicaSet of the template. */
const TARGET_DEPLOYMENT_SECONDS = 60;
const targetDeploymentWait = proxyActivities<OrchestratorActivities>(podWait(TARGET_DEPLOYMENT_SECONDS));

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
export async function handOverToTargetDeployment(plan: MigrationPlan, copy: PodIdentity, prepared: PreparedDeployment, committedBut: CommittedBut): Promise<{ labelledAt: number }> {
  const move = plan.deploymentMove!;
  const { migrationId } = plan;
  const source = { cluster: plan.source.cluster, namespace: plan.source.namespace, name: move.deployment, uid: move.source.uid };
  const target = { cluster: plan.target.cluster, namespace: plan.target.namespace, name: move.deployment, uid: prepared.uid };
  const replicaSet = prepared.replicaSet;
  let labelledAt = 0;
  await runHandOverSteps(
    [
      {
        what: `scaling Deployment ${target.namespace}/${target.name} in cluster ${target.cluster} up by one`,
        byHand:
          `${kubectl(target)} scale deployment ${target.name} --current-replicas=${prepared.replicas} --replicas=${prepared.replicas + 1} ` +
          `(unless its annotation ${ANNOTATIONS.scaledBy} names ${migrationId})`,
        run: () => clusterPersistent.scaleDeployment({ ...target, by: 1, migrationId }),
      },
      labelsBackStep(plan, copy, () => (labelledAt = Date.now())),
      adoptionStep(copy, { kind: 'ReplicaSet', ...replicaSet }),
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
    ],
    committedBut,
  );
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
