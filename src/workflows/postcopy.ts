// migratePod's post-copy steps (options.mode: postcopy, docs/postcopy.md). The target restores from checkpoint
// images that hold no memory and pulls the pages from the frozen source while it runs:
//
//   before the freeze: both nodes can (else PostCopyUnavailable), the target writes each container's CRIU
//   configuration → freeze → lazy checkpoint of every container (the source serves its pages) → images node to
//   node → a lazy-pages daemon per container on the target → create the target (COMMIT: it may run from here)
//   → Ready, and every page arrived → the source is deleted.
//
// The commit point moves to the target's creation: from then the source's memory holds pages the target lacks,
// and once the target has run, resuming the source would run the workload from an older state while the target's
// effects stand. So a failure from the creation on stops the target (proven, as any rollback) and holds the source
// frozen, its memory intact, the decision left to the operator (podferry resume, or delete the source); the
// failure says so, and what was lost. Before the creation, a failure rolls back as a stop-and-copy move does.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { LazyCheckpoint } from '../activities/postcopy.js';
import { sourceExecution, targetExecution, type MigrationPlan } from '../api/migration-plan.js';
import { nodeTaskQueue } from '../api/names.js';
import { forEachContainer, throwFirst } from './per-container.js';
import type { Saga } from './saga.js';
import type { SentCheckpointImage } from './send-images.js';
import { nodeCheckpointCall, nodeDescription, nodeLocal, nodeTransfer, persistent, podWait } from './timing.js';
import type { NodeWorkerActivities } from '../worker/node.js';

/** The node calls of a post-copy move. */
function nodes(plan: MigrationPlan) {
  const [source, target] = [sourceExecution(plan), targetExecution(plan)];
  return { sourceQueue: nodeTaskQueue(source.cluster, source.node), targetQueue: nodeTaskQueue(target.cluster, target.node!) };
}

/**
 * Before the freeze: both nodes say they can, and the target writes each container's CRIU configuration (the
 * archive names it). Returns the configuration per container. Its undo removes what either node made.
 */
export async function preparePostCopy(plan: MigrationPlan, saga: Saga): Promise<Record<string, string>> {
  const { sourceQueue, targetQueue } = nodes(plan);
  const migrationId = plan.migrationId;
  const source = await proxyActivities<NodeWorkerActivities>(nodeDescription(sourceQueue)).describePostCopy();
  if (!source.available) {
    throw ApplicationFailure.nonRetryable(`post-copy: the source node ${sourceExecution(plan).node} cannot take part: ${source.reason}`, 'PostCopyUnavailable');
  }
  const containers = plan.containers.map((c) => c.name);
  saga.onFailureCleanUp('remove post-copy files on the target node', () =>
    proxyActivities<NodeWorkerActivities>(persistent(targetQueue)).endPostCopy({ migrationId, containers, restored: false }),
  );
  saga.onFailureCleanUp('stop the page servers and remove post-copy files on the source node', () =>
    proxyActivities<NodeWorkerActivities>(persistent(sourceQueue)).endPostCopy({ migrationId, containers, restored: false }),
  );
  const { criuConfigs } = await proxyActivities<NodeWorkerActivities>(nodeLocal(targetQueue)).prepareLazyRestore({ migrationId, containers });
  return criuConfigs;
}

/** The lazy checkpoint of one container, by the source node's worker (its page server runs on after it). */
export function checkpointLazily(plan: MigrationPlan, container: string, criuConfigAtTarget: string, timeoutSeconds: number): Promise<LazyCheckpoint> {
  const runsAt = sourceExecution(plan);
  return proxyActivities<NodeWorkerActivities>(nodeCheckpointCall(nodes(plan).sourceQueue, timeoutSeconds)).checkpointLazily({
    migrationId: plan.migrationId,
    podUid: runsAt.uid,
    namespace: runsAt.namespace,
    pod: runsAt.pod,
    container,
    containerId: plan.containers.find((c) => c.name === container)!.containerId,
    criuConfigAtTarget,
    timeoutSeconds,
  });
}

/**
 * Once the images are at the target node: a lazy-pages daemon per container, connected to its page server when the
 * restore asks for the first page. The images must be in the target's runtime before the pod exists (the daemon reads
 * them): sent node to node, or pulled there ahead of the kubelet. Returns the lazy bytes per container.
 */
export async function startLazyPagesDaemons(
  plan: MigrationPlan,
  sent: SentCheckpointImage[],
  lazy: Record<string, LazyCheckpoint>,
  parallel: boolean,
): Promise<Record<string, number>> {
  const notThere = sent.filter((s) => s.via !== 'direct' && s.pullMs === undefined).map((s) => s.container);
  if (notThere.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `post-copy: the checkpoint images of ${notThere.join(', ')} did not reach node ${targetExecution(plan).node} ahead of the pod (see the warnings), and its lazy-pages daemons need them first`,
      'PostCopyUnavailable',
    );
  }
  const target = proxyActivities<NodeWorkerActivities>(nodeTransfer(nodes(plan).targetQueue));
  const started = await forEachContainer(
    sent.map((s) => s.container),
    parallel,
    async (container) => {
      const image = sent.find((s) => s.container === container)!;
      const { lazyPageBytes } = await target.startLazyPages({ migrationId: plan.migrationId, container, layerDigest: image.layerDigest, pageServer: lazy[container]!.pageServer });
      return lazyPageBytes;
    },
  );
  throwFirst(started.failures);
  return started.values as Record<string, number>;
}

/**
 * After the target's creation: every page of every container has reached the target (its daemons ended well), and the
 * source's page servers have ended (CRIU let the frozen processes go). Returns when the last page arrived; fails as
 * soon as one container's stream fails (the pages stream side by side, whatever options.parallel says).
 */
export async function awaitPages(plan: MigrationPlan, timeoutSeconds: number): Promise<number> {
  const { sourceQueue, targetQueue } = nodes(plan);
  const target = proxyActivities<NodeWorkerActivities>({ ...podWait(timeoutSeconds), taskQueue: targetQueue });
  const source = proxyActivities<NodeWorkerActivities>({ ...podWait(timeoutSeconds), taskQueue: sourceQueue });
  const arrived = await Promise.all(
    plan.containers.map(async ({ name: container }) => {
      const received = await target.awaitPagesReceived({ migrationId: plan.migrationId, container, timeoutSeconds });
      await source.awaitPagesSent({ migrationId: plan.migrationId, container, timeoutSeconds });
      return received.arrivedAt;
    }),
  );
  return Math.max(...arrived);
}

/**
 * After the move: the checkpoint images leave the target node's runtime. They hold no memory, so a restart of a
 * restored container must not restore from them again (CRIU would run the processes without their pages): the kubelet
 * then fails to pull them, and the container stays down instead of coming back wrong.
 */
export async function removeLazyImages(plan: MigrationPlan, refs: string[]): Promise<void> {
  await proxyActivities<NodeWorkerActivities>(persistent(nodes(plan).targetQueue)).removeCheckpointImages({ refs });
}

/**
 * After the move (restored: the target runs, the files its containers name stay), or with the source held (the target
 * stopped): stop and remove what post-copy left on both nodes.
 */
export async function endPostCopy(plan: MigrationPlan, restored: boolean): Promise<void> {
  const { sourceQueue, targetQueue } = nodes(plan);
  const input = { migrationId: plan.migrationId, containers: plan.containers.map((c) => c.name), restored };
  await Promise.all([sourceQueue, targetQueue].map((queue) => proxyActivities<NodeWorkerActivities>(persistent(queue)).endPostCopy(input)));
}
