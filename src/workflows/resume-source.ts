// resumeSource: gives an operator back a source that a failed migration kept frozen on purpose
// (`podferry resume <migration-id>`). The migration holds the source when it could not prove its target pod
// stopped; thawing it then could run the workload twice. This workflow thaws it only once that proof exists.
//
//   validate → find the migration's pods in every cluster → refuse while any target pod it created exists
//   → thaw the source on its node (fenced above every decision of the migration) → release the lock
//   → lift the pod name fence the migration may hold on it → event
//
// A target pod object that is gone was stopped by its kubelet (podferry deletes with a grace period); an
// operator who force-deleted one on an unreachable node must make sure its containers stopped first.
import { ApplicationFailure, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { RESUME_FENCE, ResumeSourceInput, type HeldPod, type ResumedSource, type ResumeSourceRequest } from '../api/held-source.js';
import { describeIssues } from '../api/migration.js';
import { nodeTaskQueue } from '../api/names.js';
import type { NodeWorkerActivities } from '../worker/node.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';
import { announce } from './pod-events.js';
import { API_CALL, nodeLocal } from './timing.js';

const api = proxyActivities<OrchestratorActivities>(API_CALL);
/** patched() id of lifting the migration's pod name fence once the source runs again. */
const LIFT_FENCE_ON_RESUME = 'lift-fence-on-resume';

export async function resumeSource(request: ResumeSourceRequest): Promise<ResumedSource> {
  const parsed = ResumeSourceInput.safeParse(request);
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid input: ${describeIssues(parsed.error)}`, 'InvalidInput', parsed.error.issues);
  const { migrationId } = parsed.data;

  // 1. Where the migration's pods are: the source holds its lock, the targets carry its id.
  const held = await api.findHeldMigration({ migrationId });
  const source = held.source;
  if (!source) {
    throw ApplicationFailure.nonRetryable(
      `no pod in any configured cluster holds the lock of migration ${migrationId}: nothing to resume (it was resumed already, or the migration did not hold its source)`,
      'NothingHeld',
    );
  }
  // A source on a Liqo virtual node runs (frozen) in the provider: the thaw goes there.
  const runsAt = source.runsAt ?? source;
  if (!runsAt.node) throw ApplicationFailure.nonRetryable(`${describe(source)} has no node: nothing runs it, nothing to thaw`, 'NothingHeld');

  // 2. Never two copies: no pod this migration created may exist anywhere, stopping or not.
  if (held.targets.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `the source ${describe(source)} stays frozen: migration ${migrationId} still has a target pod (${held.targets.map(describe).join('; ')}). ` +
        'Delete it (kubectl delete pod -n NAMESPACE NAME in that cluster) and wait until it is gone; its kubelet stops its containers first. ' +
        'If its node is unreachable, make sure none of its containers runs there before you force-delete it. Then run podferry resume again.',
      'TargetStillExists',
      held.targets,
    );
  }

  // 3. Thaw, with a fence above every decision of the failed migration: a late call of it cannot freeze again.
  const node = proxyActivities<NodeWorkerActivities>(nodeLocal(nodeTaskQueue(runsAt.cluster, runsAt.node)));
  const { thawed } = await node.thawPod({ podUid: runsAt.uid, containerIds: runsAt.containerIds, migrationId, fence: RESUME_FENCE });

  // 4. The pod may be migrated again; a StatefulSet's pod's name is no longer fenced (it runs under it). Runs
  //    recorded before the fence existed lifted none.
  const { released } = await api.releaseSourceLock({ migrationId, cluster: source.cluster, namespace: source.namespace, name: source.name, uid: source.uid });
  if (patched(LIFT_FENCE_ON_RESUME)) await api.liftPodNameFence({ cluster: source.cluster, namespace: source.namespace, pod: source.name, migrationId });
  await announce({
    pod: { cluster: source.cluster, namespace: source.namespace, name: source.name, uid: source.uid },
    migrationId,
    type: 'Normal',
    reason: 'SourceResumed',
    message: `resumed by ${workflowInfo().workflowId} after the migration kept it frozen; no target pod of the migration exists`,
  });
  return { migrationId, source, thawed, lockReleased: released };
}

function describe(pod: HeldPod): string {
  return `pod ${pod.namespace}/${pod.name} in cluster ${pod.cluster}${pod.node ? ` on node ${pod.node}` : ''}${pod.terminating ? ' (terminating)' : ''}`;
}
