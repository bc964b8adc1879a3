// Activities that change Deployments through a cluster's API server, for a Deployment's pod moving to another
// cluster or namespace (plan.deploymentMove): make the target's Deployment ready to adopt the restored copy,
// delete it again on rollback, and scale a Deployment by one.
// Idempotent: the target Deployment is created-or-got and deleted only while it is this migration's and at 0
// replicas; a scale writes the migration's id on the Deployment in the same conditional patch, so a retry
// (after a worker crash, say) finds it and never scales twice.
import type { V1Deployment } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ANNOTATIONS, POD_TEMPLATE_HASH, SCALED_BY_KEPT } from '../api/names.js';
import { apiStatus, ignore404, jsonPointerKey, type Clusters } from '../kubernetes/clusters.js';
import { deleteMadeOwnerWhileEmpty, madeBy, readOrCreateTargetOwner, type OwnerRef } from '../kubernetes/made-owner.js';
import { buildTargetDeployment } from '../kubernetes/target-owner.js';
import { currentReplicaSet, REVISION_ANNOTATION } from '../planning/replicaset-handover.js';
import { heartbeatIfActive, sleep } from './context.js';

export interface DeploymentActivityDeps {
  clusters: Clusters;
  /** Poll interval while waiting for the Deployment controller (ms); tests shorten it. */
  pollIntervalMs?: number;
}

/** One Deployment by name, and the incarnation meant (uid). */
export type DeploymentRef = OwnerRef;

export interface TargetDeploymentInput {
  migrationId: string;
  /** The source pod's Deployment: its spec and labels are copied when the target namespace has none of its name. */
  source: DeploymentRef;
  target: { cluster: string; namespace: string };
  /** The source pod's pod-template-hash, which the target's ReplicaSet must have to adopt the copy. */
  templateHash: string;
  timeoutSeconds: number;
}

/** The target's Deployment, ready to adopt the copy: its ReplicaSet of the source pod's template. */
export interface PreparedDeployment {
  uid: string;
  /** This migration created it (the rollback deletes it while it has 0 replicas). */
  created: boolean;
  replicas: number;
  replicaSet: { name: string; uid: string };
}

export function createDeploymentActivities(deps: DeploymentActivityDeps) {
  const { clusters } = deps;
  const pollIntervalMs = deps.pollIntervalMs ?? 250;

  /**
   * Makes sure the target namespace has the Deployment (created with 0 replicas from the source's when missing),
   * then waits until its controller has made the ReplicaSet of its current template, which must have the source
   * pod's pod-template-hash (else TargetDeploymentDiffers: its ReplicaSet would not adopt the copy).
   */
  async function prepareTargetDeployment(input: TargetDeploymentInput): Promise<PreparedDeployment> {
    const { source, target } = input;
    const apps = clusters.apps(target.cluster);
    const at = `Deployment ${target.namespace}/${source.name} in cluster ${target.cluster}`;
    const deployment = await readOrCreateTargetOwner('Deployment', source, target.cluster, {
      readTarget: () => ignore404(apps.readNamespacedDeployment({ name: source.name, namespace: target.namespace })),
      readSource: () => ignore404(clusters.apps(source.cluster).readNamespacedDeployment({ name: source.name, namespace: source.namespace })),
      build: (original) => buildTargetDeployment({ source: original, sourceCluster: source.cluster, targetNamespace: target.namespace, migrationId: input.migrationId }),
      create: (body) => apps.createNamespacedDeployment({ namespace: target.namespace, body }),
    });
    const created = madeBy(deployment, input.migrationId);
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    let last = 'its controller has not observed it yet';
    while (Date.now() < deadline) {
      const current = await apps.readNamespacedDeployment({ name: source.name, namespace: target.namespace });
      if ((current.status?.observedGeneration ?? 0) >= (current.metadata?.generation ?? 1)) {
        const replicaSets = await apps.listNamespacedReplicaSet({ namespace: target.namespace });
        const replicaSet = currentReplicaSet(current, replicaSets.items);
        const hash = replicaSet?.metadata?.labels?.[POD_TEMPLATE_HASH];
        if (replicaSet && hash === input.templateHash) {
          return { uid: current.metadata!.uid!, created, replicas: current.spec?.replicas ?? 1, replicaSet: { name: replicaSet.metadata!.name!, uid: replicaSet.metadata!.uid! } };
        }
        if (replicaSet) {
          throw ApplicationFailure.nonRetryable(
            `${at} has pod template hash ${hash ?? '(none)'} (ReplicaSet ${replicaSet.metadata?.name}), the source pod's is ${input.templateHash}: ` +
              "its ReplicaSet would not adopt the moved pod; make its pod template the source's, or move into another namespace",
            'TargetDeploymentDiffers',
          );
        }
        last = `it has no ReplicaSet of its revision ${current.metadata?.annotations?.[REVISION_ANNOTATION] ?? '(none)'} yet`;
      }
      heartbeatIfActive({ last });
      await sleep(pollIntervalMs);
    }
    throw ApplicationFailure.nonRetryable(`${at} is not ready to adopt the moved pod after ${input.timeoutSeconds}s (${last}): is the controller manager running?`, 'TargetDeploymentNotReady');
  }

  /** The undo of prepareTargetDeployment: deletes the target's Deployment if this migration created it and it still has 0 replicas. */
  async function deleteCreatedDeployment(input: { migrationId: string; cluster: string; namespace: string; name: string }): Promise<{ deleted: boolean; kept?: string }> {
    const apps = clusters.apps(input.cluster);
    const { name, namespace } = input;
    return deleteMadeOwnerWhileEmpty(
      `Deployment ${namespace}/${name} in cluster ${input.cluster}`,
      input.migrationId,
      () => ignore404(apps.readNamespacedDeployment({ name, namespace })),
      (body) => apps.deleteNamespacedDeployment({ name, namespace, body }),
    );
  }

  /**
   * Scales one Deployment by one (up at the target, down at the source), writing the migration's id on it
   * (ANNOTATIONS.scaledBy) in the same patch, conditional on the resourceVersion read: a Deployment that already
   * names this migration was scaled by it. Returns its replicas after.
   */
  async function scaleDeployment(input: DeploymentRef & { by: 1 | -1; migrationId: string }): Promise<{ replicas: number; scaled: boolean }> {
    const at = `Deployment ${input.namespace}/${input.name} in cluster ${input.cluster}`;
    const apps = clusters.apps(input.cluster);
    const deployment = await ignore404(apps.readNamespacedDeployment({ name: input.name, namespace: input.namespace }));
    if (deployment?.metadata?.uid !== input.uid) {
      throw ApplicationFailure.nonRetryable(`${at} (uid ${input.uid}) is gone or was replaced: it was not scaled by ${input.by}`, 'DeploymentGone');
    }
    const replicas = deployment.spec?.replicas ?? 1;
    const marks = scaledBy(deployment);
    if (marks.includes(input.migrationId)) return { replicas, scaled: false };
    const annotation = JSON.stringify([...marks, input.migrationId].slice(-SCALED_BY_KEPT));
    try {
      await apps.patchNamespacedDeployment({
        name: input.name,
        namespace: input.namespace,
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: deployment.metadata?.resourceVersion },
          { op: 'add', path: '/spec/replicas', value: replicas + input.by },
          deployment.metadata?.annotations
            ? { op: 'add', path: `/metadata/annotations/${jsonPointerKey(ANNOTATIONS.scaledBy)}`, value: annotation }
            : { op: 'add', path: '/metadata/annotations', value: { [ANNOTATIONS.scaledBy]: annotation } },
        ],
      });
    } catch (err) {
      const status = apiStatus(err);
      // Changed since the read (a test failed, or a conflict): the retry reads it again.
      if (status === 409 || status === 422) throw ApplicationFailure.retryable(`${at} changed while being scaled by ${input.by}`, 'DeploymentChanged');
      throw err;
    }
    return { replicas: replicas + input.by, scaled: true };
  }

  return { prepareTargetDeployment, deleteCreatedDeployment, scaleDeployment };
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;

/** The migrations that scaled the Deployment (ANNOTATIONS.scaledBy); unreadable: none. */
function scaledBy(deployment: V1Deployment): string[] {
  try {
    const marks: unknown = JSON.parse(deployment.metadata?.annotations?.[ANNOTATIONS.scaledBy] ?? '[]');
    return Array.isArray(marks) ? marks.filter((m): m is string => typeof m === 'string') : [];
  } catch {
    return [];
  }
}
