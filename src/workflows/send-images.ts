// Step 4 of migratePod: one checkpoint image per container, from the source node (the archives exist only
// there) to where the target pod will find it. Node to node when the target node is known and its worker
// answered (options.transfer: direct), else, or if that fails, pushed to the registry and then pulled at once
// on the target node when it is known (the kubelet would pull the images one container after another,
// inside the downtime).
import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { PushedCheckpointImage, PushCheckpointImageInput } from '../activities/registry.js';
import { errorMessage } from '../api/failures.js';
import type { CheckpointTransfer, MigratePodInput } from '../api/migration.js';
import { sourceExecution, targetExecution, type MigrationPlan } from '../api/migration-plan.js';
import { checkpointImageTag, nodeTaskQueue } from '../api/names.js';
import { forEachContainer, throwFirst } from './per-container.js';
import type { ProgressTracker } from './progress.js';
import type { Saga } from './saga.js';
import { nodeTransfer, persistent } from './timing.js';
import type { NodeWorkerActivities } from '../worker/node.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';

/** A checkpoint image at the target: pushed to the registry, or sent node to node (offered at offerUrl). */
export type SentCheckpointImage = PushedCheckpointImage & { via: CheckpointTransfer; offerUrl?: string; pullMs?: number };

export interface SendImagesInput {
  plan: MigrationPlan;
  options: MigratePodInput['options'];
  /** Target nodes whose worker answered the base-image pre-pull (they can receive images). */
  answering: Set<string>;
  /** What the source node needs to make a container's checkpoint image. */
  imageOf: (container: string) => Omit<PushCheckpointImageInput, 'tag'>;
  saga: Saga;
  progress: ProgressTracker;
  /** Images sent so far (the undo deletes exactly these). */
  sent: SentCheckpointImage[];
}

export async function sendCheckpointImages(input: SendImagesInput): Promise<SentCheckpointImage[]> {
  const { plan, options, progress, saga, sent } = input;
  const migrationId = plan.migrationId;
  const containers = plan.containers.map((c) => c.name);
  // Where the archives are, and where the target's containers will run (Liqo: in the provider).
  const [runsAt, restoringAt] = [sourceExecution(plan), targetExecution(plan)];
  const sourceQueue = nodeTaskQueue(runsAt.cluster, runsAt.node);
  const source = proxyActivities<NodeWorkerActivities>(nodeTransfer(sourceQueue));
  const registryCleanup = proxyActivities<OrchestratorActivities>(persistent());
  const tags = Object.fromEntries(containers.map((c) => [c, checkpointImageTag(migrationId, c)]));

  const landingNode = restoringAt.node ?? (plan.prepullNodes.length === 1 ? plan.prepullNodes[0] : undefined);
  const receiver = landingNode && input.answering.has(landingNode) && (options.transfer === 'direct' || options.pullOnTarget) ? landingNode : undefined;
  const directTo = options.transfer === 'direct' && receiver && receiver === restoringAt.node ? receiver : undefined;

  saga.onFailureCleanUp('delete checkpoint images', () =>
    Promise.all(containers.map((c) => registryCleanup.deleteImage({ tag: tags[c]! }))),
  );
  /** Checkpoint images placed in the receiving node's runtime (imported or pulled). */
  const onReceiver: string[] = [];
  const receiverQueue = receiver ? nodeTaskQueue(restoringAt.cluster, receiver) : undefined;
  const receiverCalls = receiverQueue ? proxyActivities<NodeWorkerActivities>(nodeTransfer(receiverQueue)) : undefined;
  if (receiverQueue) {
    const receiverCleanup = proxyActivities<NodeWorkerActivities>(persistent(receiverQueue));
    saga.onFailureCleanUp('remove checkpoint images from the target node', () => receiverCleanup.removeCheckpointImages({ refs: onReceiver }));
  }

  const push = async (container: string): Promise<SentCheckpointImage> => {
    const result = await source.pushCheckpointImage({ ...input.imageOf(container), tag: tags[container]! });
    if (!receiverCalls || !options.pullOnTarget) return { ...result, via: 'registry' };
    try {
      onReceiver.push(result.ref);
      const pulled = await receiverCalls.pullCheckpointImage({ container, ref: result.ref });
      return { ...result, via: 'registry', pullMs: pulled.durationMs };
    } catch (err) {
      if (isCancellation(err)) throw err;
      progress.warn(`pulling the checkpoint image of ${container} on node ${receiver} ahead of the kubelet failed (the kubelet pulls it): ${errorMessage(err)}`);
      return { ...result, via: 'registry' };
    }
  };
  const sendDirect = async (container: string): Promise<SentCheckpointImage> => {
    const offered = await source.offerCheckpointImage({ ...input.imageOf(container), receiver: { cluster: restoringAt.cluster, node: directTo! } });
    onReceiver.push(offered.ref);
    const received = await receiverCalls!.importCheckpointImage({
      container,
      url: offered.url,
      ref: offered.ref,
      source: { cluster: runsAt.cluster, node: runsAt.node },
    });
    return {
      container,
      ref: offered.ref,
      tag: tags[container]!,
      manifestDigest: offered.manifestDigest,
      layerDigest: offered.layerDigest,
      archiveBytes: offered.archiveBytes,
      bytesPushed: received.bytes,
      durationMs: received.durationMs,
      via: 'direct',
      offerUrl: offered.url,
    };
  };

  const sends = await forEachContainer(containers, options.parallel, async (container) => {
    progress.container(container, 'Pushing');
    let result: SentCheckpointImage;
    try {
      result = directTo ? await sendDirect(container) : await push(container);
    } catch (err) {
      if (!directTo || isCancellation(err)) throw err;
      progress.warn(`sending the checkpoint of ${container} to node ${directTo} failed (${errorMessage(err)}): pushing it to the registry instead`);
      result = await push(container);
    }
    sent.push(result);
    progress.container(container, 'Pushed', { image: result.ref, archiveBytes: result.archiveBytes });
    return result;
  });
  progress.failContainers(sends.failures);
  throwFirst(sends.failures);
  return containers.map((c) => sends.values[c]!);
}
