// migratePod: live-migrates one (multi-container) pod to another cluster or node, as a saga.
//
//   plan → freeze source → checkpoint containers → send checkpoint images → copy config → create target
//   → wait Ready (COMMIT) → delete source → finalize
//
// Checkpoint images go through the registry (and the target node's worker pulls each one right after its
// push, so the kubelet finds them present), or node to node (options.transfer: direct) when the target node
// is known (its worker imports them into its runtime).
//
// Within the source's own cluster and namespace the target needs the source's name, so the frozen source
// is deleted right before the target is created (strategy DeleteThenCreate); its undo restores the pod on
// the source node from the checkpoint images.
//
// Each step registers its undo right before it runs (every undo is idempotent and harmless if the step did
// nothing), so a failure or a cancellation anywhere before the commit point runs exactly the undos of the
// steps reached, in reverse, in a non-cancellable scope: the frozen source is thawed and continues exactly
// where it stopped, and nothing the migration created is left behind. After the commit there is no way back,
// only forward: failures there become warnings in the result.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxySinks,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import {
  describeIssues,
  MigratePodInput,
  type CheckpointTransfer,
  type ContainerState,
  type MigratePodRequest,
  type MigrationPhase,
  type MigrationProgress,
  type MigrationResult,
  type MigrationStrategy,
  type PodIdentity,
} from '../api/migration.js';
import { checkpointImageTag, nodeTaskQueue } from '../api/names.js';
import type { KubeletActivities } from '../activities/kubelet.js';
import type { KubernetesActivities, MigrationPlan } from '../activities/kubernetes.js';
import type { NodeActivities } from '../activities/node.js';
import type { PushedCheckpointImage, RegistryActivities } from '../activities/registry.js';
import type { TransferActivities } from '../activities/transfer.js';
import { progressQuery, SEARCH_ATTRIBUTES, type MigrationMetricsSinks, type MigrationOutcome } from './definitions.js';

// ---------------------------------------------------------------------------------------------------------
// The timing contract. Steps wait for their activity to finish even when cancelled
// (WAIT_CANCELLATION_COMPLETED), so an undo never races the step it undoes.

/** Short calls to an API server or the registry. */
const API_CALL: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/** One kubelet checkpoint: bounded by the checkpoint timeout passed to the kubelet. */
const checkpointCall = (timeoutSeconds: number): ActivityOptions => ({
  startToCloseTimeout: `${timeoutSeconds + 60}s`,
  retry: { initialInterval: '2s', maximumAttempts: 2 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
/** Deleting the frozen source before the commit point: the deletion may wait for the pod object to go. */
const SOURCE_DELETION: ActivityOptions = {
  startToCloseTimeout: '90s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/** Waiting for the target pod: long, heartbeating (a vanished worker is noticed within 10 s). */
const podWait = (timeoutSeconds: number): ActivityOptions => ({
  startToCloseTimeout: `${timeoutSeconds + 30}s`,
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});
/**
 * Short work on the source node's own worker. scheduleToClose bounds the wait in the queue too, so a
 * missing node worker fails the step within a minute instead of hanging.
 */
const nodeLocal = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToCloseTimeout: '60s',
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
/** Streaming an archive to the registry from the node: long, heartbeating, resumable. */
const nodeTransfer = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToCloseTimeout: '30m',
  startToCloseTimeout: '20m',
  heartbeatTimeout: '60s',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
/**
 * Optional preparation on the target node's worker (pre-pulling base images). A target node without a
 * worker must not delay the migration: give up after 10 s in the queue.
 */
const targetNodePrep = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToStartTimeout: '10s',
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});
/**
 * Undos and post-commit cleanup: retried for a long time, because giving up on "thaw the source" means the
 * workload stays frozen. (A node worker that comes back within 15 minutes still thaws it.)
 */
const persistent = (taskQueue?: string): ActivityOptions => ({
  ...(taskQueue ? { taskQueue } : {}),
  startToCloseTimeout: '60s',
  scheduleToCloseTimeout: '15m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

const cluster = proxyActivities<KubernetesActivities & RegistryActivities>(API_CALL);
const clusterDeletion = proxyActivities<KubernetesActivities>(SOURCE_DELETION);
const clusterPersistent = proxyActivities<KubernetesActivities & RegistryActivities>(persistent());
const { migrationMetrics } = proxySinks<MigrationMetricsSinks>();

// ---------------------------------------------------------------------------------------------------------

interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

/** A checkpoint image at the target: pushed to the registry, or sent node to node (offered at offerUrl). */
type SentCheckpointImage = PushedCheckpointImage & { via: CheckpointTransfer; offerUrl?: string; pullMs?: number };

export async function migratePod(request: MigratePodRequest): Promise<MigrationResult> {
  const parsed = MigratePodInput.safeParse(request);
  if (!parsed.success) {
    // Before any side effect: nothing to undo.
    throw ApplicationFailure.nonRetryable(`invalid input: ${describeIssues(parsed.error)}`, 'InvalidInput', parsed.error.issues);
  }
  const input = parsed.data;
  const { options } = input;
  const migrationId = workflowInfo().workflowId;
  const targetNamespace = input.target.namespace ?? input.source.namespace;
  const progress = new ProgressTracker(migrationId);
  setHandler(progressQuery, () => progress.snapshot());

  const compensations: Compensation[] = [];
  const undo = (name: string, run: () => Promise<unknown>) => compensations.unshift({ name, run });
  const startedAt = Date.now();
  let frozenAt: number | undefined;
  let pushed: SentCheckpointImage[] = [];
  let plan: MigrationPlan | undefined;
  const checkpointMs: Record<string, number> = {};
  const archiveOf: Record<string, string> = {};
  let targetPod: PodIdentity | undefined;
  let readyAt = 0;
  const archives: string[] = [];
  /** DeleteThenCreate: the source is gone and not restored; the checkpoint must not be deleted. */
  let workloadOnlyInCheckpoint = false;
  /** What a failed migration must say about a workload restored from its checkpoint. */
  let restoredAtSource: PodIdentity | undefined;
  /** What the source node needs to make a container's checkpoint image (once planned and checkpointed). */
  const imageOf = (container: string) => ({
    migrationId,
    container,
    archivePath: archiveOf[container]!,
    repository: options.registryRepository,
    originalImage: plan!.containers.find((c) => c.name === container)?.image,
  });
  const keepCheckpointIfOnlyCopy = (what: string, refs: string[]) => {
    if (!workloadOnlyInCheckpoint) return;
    throw ApplicationFailure.nonRetryable(`kept the checkpoint ${what} (${refs.join(', ')}): the source pod was not restored and the workload exists only in them`, 'CheckpointKept');
  };

  try {
    // 1. Plan: read the source pod and refuse early, with a reason, what cannot migrate.
    progress.enter('Planning');
    plan = await cluster.planMigration({
      migrationId,
      source: input.source,
      target: { cluster: input.target.cluster, namespace: targetNamespace, node: input.target.node },
    });
    const thePlan = plan;
    progress.planned(plan.strategy, plan.containers.map((c) => c.name), plan.warnings);
    const nodeQueue = nodeTaskQueue(plan.source.cluster, plan.source.node);
    const node = proxyActivities<NodeActivities>(nodeLocal(nodeQueue));
    const nodeTransferCalls = proxyActivities<RegistryActivities & TransferActivities>(nodeTransfer(nodeQueue));
    const nodePersistent = proxyActivities<NodeActivities & TransferActivities>(persistent(nodeQueue));
    const kubelet = proxyActivities<KubeletActivities>(checkpointCall(options.checkpointTimeoutSeconds));
    const containers = plan.containers.map((c) => c.name);

    // 1b. Pre-pull the containers' original images on the target node(s), before the downtime starts:
    //     the runtime needs them to restore. Best effort: a failure is only a warning.
    //     A target node whose worker answers can also receive the checkpoint images directly.
    const baseImages = [...new Set(plan.containers.map((c) => c.imageId || c.image))];
    const answering = new Set<string>();
    await Promise.all(
      plan.prepullNodes.map(async (targetNode) => {
        try {
          const queue = nodeTaskQueue(thePlan.target.cluster, targetNode);
          const pulled = await proxyActivities<NodeActivities>(targetNodePrep(queue)).pullImages({ images: baseImages });
          answering.add(targetNode);
          if (pulled.skipped) progress.warn(`base images not pre-pulled: ${pulled.skipped}`);
        } catch (err) {
          if (isCancellation(err)) throw err;
          progress.warn(`base images not pre-pulled on ${targetNode} (the restore pulls them, inside the downtime): ${errorMessage(err)}`);
        }
      }),
    );

    // 2. Freeze the whole source pod: from here on it makes no progress, so no state is lost after the
    //    checkpoints, and all containers are checkpointed at one instant. Downtime starts here.
    progress.enter('Freezing');
    const podContainers = { podUid: plan.source.uid, containerIds: plan.containers.map((c) => c.containerId) };
    undo('thaw source pod', () => nodePersistent.thawPod(podContainers));
    const frozen = await node.freezePod(podContainers);
    frozenAt = frozen.frozenAt;
    progress.step();

    // 3. Checkpoint every container through the kubelet API (parallel unless options.parallel=false).
    progress.enter('Checkpointing');
    undo('delete checkpoint archives', async () => {
      keepCheckpointIfOnlyCopy('archives', archives);
      await nodePersistent.deleteArchives({
        paths: archives,
        pod: { namespace: thePlan.source.namespace, name: thePlan.source.pod, containers },
      });
    });
    const checkpoints = await forEachContainer(containers, options.parallel, async (container) => {
      progress.container(container, 'Checkpointing');
      const result = await kubelet.checkpointContainer({
        cluster: thePlan.source.cluster,
        node: thePlan.source.node,
        namespace: thePlan.source.namespace,
        pod: thePlan.source.pod,
        container,
        timeoutSeconds: options.checkpointTimeoutSeconds,
      });
      archives.push(result.archivePath);
      archiveOf[container] = result.archivePath;
      checkpointMs[container] = result.durationMs;
      progress.container(container, 'Checkpointed', { archivePath: result.archivePath });
      return result;
    });
    progress.failContainers(checkpoints.failures);
    throwFirst(checkpoints.failures);

    // 4. Send one checkpoint image per container from the source node (the archives exist only there):
    //    node to node when the target node is known and its worker answered, else (or if that fails) pushed
    //    to the registry, and then pulled at once on the target node when it is known (the kubelet would pull
    //    the images one container after another, inside the downtime).
    progress.enter('Pushing');
    const tags = Object.fromEntries(containers.map((c) => [c, checkpointImageTag(migrationId, c)]));
    const landingNode = plan.target.node ?? (plan.prepullNodes.length === 1 ? plan.prepullNodes[0] : undefined);
    const receiver = landingNode && answering.has(landingNode) && (options.transfer === 'direct' || options.pullOnTarget) ? landingNode : undefined;
    const directTo = options.transfer === 'direct' && receiver && receiver === plan.target.node ? receiver : undefined;
    undo('delete checkpoint images', async () => {
      keepCheckpointIfOnlyCopy('images', pushed.map((p) => p.ref));
      await Promise.all(containers.map((c) => clusterPersistent.deleteImage({ repository: options.registryRepository, tag: tags[c]! })));
    });
    /** Checkpoint images placed in the receiving node's runtime (imported or pulled). */
    const onReceiver: string[] = [];
    const receiverQueue = receiver ? nodeTaskQueue(plan.target.cluster, receiver) : undefined;
    const receiverCalls = receiverQueue ? proxyActivities<TransferActivities>(nodeTransfer(receiverQueue)) : undefined;
    if (receiverQueue) {
      const receiverPersistent = proxyActivities<TransferActivities>(persistent(receiverQueue));
      undo('remove checkpoint images from the target node', () => receiverPersistent.removeCheckpointImages({ refs: onReceiver }));
    }
    const push = async (container: string): Promise<SentCheckpointImage> => {
      const result = await nodeTransferCalls.pushCheckpointImage({ ...imageOf(container), tag: tags[container]! });
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
      const offered = await nodeTransferCalls.offerCheckpointImage(imageOf(container));
      onReceiver.push(offered.ref);
      const received = await receiverCalls!.importCheckpointImage({ container, url: offered.url, ref: offered.ref });
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
    const pushes = await forEachContainer(containers, options.parallel, async (container) => {
      progress.container(container, 'Pushing');
      let result: SentCheckpointImage;
      try {
        result = directTo ? await sendDirect(container) : await push(container);
      } catch (err) {
        if (!directTo || isCancellation(err)) throw err;
        progress.warn(`sending the checkpoint of ${container} to node ${directTo} failed (${errorMessage(err)}): pushing it to the registry instead`);
        result = await push(container);
      }
      progress.container(container, 'Pushed', { image: result.ref, archiveBytes: result.archiveBytes });
      return result;
    });
    progress.failContainers(pushes.failures);
    throwFirst(pushes.failures);
    pushed = containers.map((c) => pushes.values[c]!);
    const images = Object.fromEntries(pushed.map((p) => [p.container, p.ref]));

    // 4b. DeleteThenCreate: free the name. From here until the target is Ready the workload exists only in
    //     its checkpoint images; the undo restores it from them on the source node.
    if (plan.strategy === 'DeleteThenCreate') {
      progress.enter('DeletingSource');
      undo('restore source from its checkpoint images', async () => {
        restoredAtSource = await restoreSourceFromCheckpoint(thePlan, pushed, options.readyTimeoutSeconds, nodePersistent);
        workloadOnlyInCheckpoint = false;
      });
      workloadOnlyInCheckpoint = true;
      await deleteFrozenSource(thePlan, clusterDeletion, node, { removeAtOnce: true });
      progress.step();
    }

    // 5. Create the pod in the target cluster: first the ConfigMaps/Secrets it needs, then the pod itself.
    progress.enter('CreatingTarget');
    undo('delete copied config', () =>
      clusterPersistent.deleteCopiedConfig({ migrationId, cluster: thePlan.target.cluster, namespace: thePlan.target.namespace }),
    );
    const copied = await cluster.ensureTargetConfig({ plan });
    for (const missing of copied.missing) progress.warn(`${missing.kind} ${missing.name} is referenced but exists in neither cluster`);
    progress.step();
    undo('delete target pod', () =>
      clusterPersistent.deletePod({
        cluster: thePlan.target.cluster,
        namespace: thePlan.target.namespace,
        name: thePlan.source.pod,
        onlyIfMigrationId: migrationId,
        gracePeriodSeconds: 0,
        waitSeconds: 50,
      }),
    );
    targetPod = await cluster.createTargetPod({ plan, images });
    progress.step();

    // 6. Wait until the target pod is Ready: the commit point. Downtime ends here.
    progress.enter('WaitingReady');
    const ready = await proxyActivities<KubernetesActivities>(podWait(options.readyTimeoutSeconds)).waitPodReady({
      cluster: targetPod.cluster,
      namespace: targetPod.namespace,
      name: targetPod.name,
      timeoutSeconds: options.readyTimeoutSeconds,
    });
    readyAt = ready.readyAt;
    targetPod = { ...targetPod, uid: ready.uid || targetPod.uid, node: ready.node ?? targetPod.node };
    for (const c of containers) progress.container(c, 'Restored');
    progress.step();
    workloadOnlyInCheckpoint = false;
  } catch (err) {
    // Before the commit point: put everything back. The source thaws and continues where it stopped (or,
    // DeleteThenCreate, is restored on its node from the checkpoint).
    const cancelled = isCancellation(err);
    progress.fail(err);
    progress.enter('Compensating');
    const failedUndos = await CancellationScope.nonCancellable(() => runCompensations(compensations, progress));
    const outcome: MigrationOutcome = failedUndos.length > 0 ? 'failed' : cancelled ? 'cancelled' : 'rolled_back';
    progress.enter(failedUndos.length > 0 ? 'Failed' : 'RolledBack');
    migrationMetrics.finished({ outcome, durationMs: Date.now() - startedAt, bytesPushed: sum(pushed.map((p) => p.bytesPushed)) });
    if (cancelled && failedUndos.length === 0) throw err;
    if (failedUndos.length > 0) {
      throw ApplicationFailure.create({
        message:
          `migration failed (${errorMessage(err)}) and could not be fully rolled back: ${failedUndos.join('; ')}. ` +
          (frozenAt !== undefined && failedUndos.some((u) => u.startsWith('thaw'))
            ? `The source pod may still be frozen: thaw it on node ${plan?.source.node} (freezer.state THAWED for pod uid ${plan?.source.uid}).`
            : '') +
          (workloadOnlyInCheckpoint
            ? `The source pod was deleted and could not be restored: the workload is in its checkpoint images ${pushed.map((p) => p.ref).join(', ')} ` +
              `and archives on node ${plan?.source.node} (${archives.join(', ')}), which were kept; create the pod from them to restore it.`
            : ''),
        type: 'MigrationFailed',
        nonRetryable: true,
        cause: err as Error,
        details: [progress.snapshot()],
      });
    }
    throw ApplicationFailure.create({
      message: restoredAtSource
        ? `migration rolled back, the pod was restored from its checkpoint on its source node ${restoredAtSource.node ?? ''} and continues where it was: ${errorMessage(err)}`
        : `migration rolled back, the source pod continues where it was: ${errorMessage(err)}`,
      type: 'MigrationRolledBack',
      nonRetryable: true,
      cause: err as Error,
      details: [progress.snapshot()],
    });
  }

  // ---- Committed: the target runs the workload. From here only forward; problems become warnings.
  const committed = plan!;
  const result = await CancellationScope.nonCancellable(async () => {
    const nodeQueue = nodeTaskQueue(committed.source.cluster, committed.source.node);
    const nodePersistent = proxyActivities<NodeActivities & RegistryActivities>(persistent(nodeQueue));
    const forward = async (what: string, step: () => Promise<unknown>): Promise<boolean> => {
      try {
        await step();
        return true;
      } catch (err) {
        progress.warn(`${what} failed: ${errorMessage(err)}`);
        return false;
      }
    };

    // 7. Delete the source (DeleteThenCreate did so before creating the target).
    if (committed.strategy === 'CreateThenDelete') {
      progress.enter('DeletingSource');
      await forward(`deleting source pod ${committed.source.namespace}/${committed.source.pod}`, () =>
        deleteFrozenSource(committed, clusterPersistent, nodePersistent),
      );
      progress.step();
    }

    // 8. Finalize. Images sent node to node reach the registry only if they are to be kept (before the
    //    archives they are made of go). Archives are copies of the workload's memory (secrets included):
    //    deleted by default.
    progress.enter('Finalizing');
    if (options.cleanup.images === 'keep') {
      for (const image of pushed.filter((p) => p.via === 'direct')) {
        await forward(`pushing the checkpoint image of ${image.container} to the registry`, () =>
          nodePersistent.pushCheckpointImage({ ...imageOf(image.container), tag: image.tag }),
        );
      }
    }
    if (options.cleanup.archives === 'delete') {
      await forward('deleting checkpoint archives', () =>
        nodePersistent.deleteArchives({
          paths: archives,
          pod: { namespace: committed.source.namespace, name: committed.source.pod, containers: committed.containers.map((c) => c.name) },
        }),
      );
    }
    const imagesDeleted =
      options.cleanup.images === 'delete' &&
      (await forward('deleting checkpoint images', () =>
        Promise.all(pushed.filter((p) => p.via === 'registry').map((p) => clusterPersistent.deleteImage({ repository: options.registryRepository, tag: p.tag }))),
      ));
    progress.step();
    progress.enter('Succeeded');

    const downtimeMs = frozenAt !== undefined && readyAt >= frozenAt ? readyAt - frozenAt : 0;
    const migrationResult: MigrationResult = {
      migrationId,
      source: { cluster: committed.source.cluster, namespace: committed.source.namespace, name: committed.source.pod, uid: committed.source.uid, node: committed.source.node },
      target: targetPod!,
      phasesMs: progress.phaseDurations(),
      containers: Object.fromEntries(
        pushed.map((p) => [
          p.container,
          { checkpointMs: checkpointMs[p.container] ?? 0, pushMs: p.durationMs, archiveBytes: p.archiveBytes, bytesPushed: p.bytesPushed, via: p.via, ...(p.pullMs !== undefined ? { pullMs: p.pullMs } : {}) },
        ]),
      ),
      totalMs: Date.now() - startedAt,
      downtimeMs,
      bytesPushed: sum(pushed.map((p) => p.bytesPushed)),
      images: pushed.map((p) => ({
        container: p.container,
        ref: p.ref,
        tag: p.tag,
        manifestDigest: p.manifestDigest,
        originalImage: committed.containers.find((c) => c.name === p.container)?.image ?? '',
        deleted: imagesDeleted,
      })),
      parallel: options.parallel,
      strategy: committed.strategy,
      warnings: progress.snapshot().warnings,
    };
    return migrationResult;
  });
  migrationMetrics.finished({ outcome: 'succeeded', durationMs: result.totalMs, downtimeMs: result.downtimeMs, bytesPushed: result.bytesPushed });
  return result;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Deletes the frozen source pod: request the deletion (so the kubelet does not restart what dies), kill the
 * frozen processes (a frozen task cannot exit on its own), then wait until the pod object is gone. Inside
 * the downtime (DeleteThenCreate) the object is removed at once (grace period 0) once its processes are
 * dead, instead of waiting for the kubelet to report them: the kubelet cleans up the rest on its own.
 */
async function deleteFrozenSource(
  plan: MigrationPlan,
  api: Pick<KubernetesActivities, 'deletePod'>,
  node: Pick<NodeActivities, 'killFrozenPod'>,
  options: { removeAtOnce?: boolean } = {},
): Promise<void> {
  const sourcePod = { cluster: plan.source.cluster, namespace: plan.source.namespace, name: plan.source.pod, uid: plan.source.uid };
  await api.deletePod({ ...sourcePod, waitSeconds: 0 });
  await node.killFrozenPod({ podUid: plan.source.uid, containerIds: plan.containers.map((c) => c.containerId) });
  await api.deletePod({ ...sourcePod, waitSeconds: 50, ...(options.removeAtOnce ? { gracePeriodSeconds: 0 } : {}) });
}

/**
 * The undo of deleting the frozen source (DeleteThenCreate): if its deletion never started, nothing to do
 * (the thaw undo resumes it); otherwise finish the deletion and create the pod again on its own node from
 * the checkpoint images, so it continues where it was frozen. Returns the restored pod, or undefined.
 */
async function restoreSourceFromCheckpoint(
  plan: MigrationPlan,
  sent: SentCheckpointImage[],
  readyTimeoutSeconds: number,
  node: Pick<NodeActivities & TransferActivities, 'killFrozenPod' | 'importCheckpointImage'>,
): Promise<PodIdentity | undefined> {
  const source = { cluster: plan.source.cluster, namespace: plan.source.namespace, name: plan.source.pod, uid: plan.source.uid };
  const lifecycle = await clusterPersistent.podLifecycle(source);
  if (lifecycle === 'present') return undefined;
  if (lifecycle === 'terminating') await deleteFrozenSource(plan, clusterPersistent, node);
  // Images sent node to node exist only at the target: the source node imports them from its own offers.
  await Promise.all(sent.filter((s) => s.offerUrl).map((s) => node.importCheckpointImage({ container: s.container, url: s.offerUrl!, ref: s.ref })));
  const atSource = { ...plan, target: { cluster: source.cluster, namespace: source.namespace, node: plan.source.node }, targetNodeTaints: [] };
  const images = Object.fromEntries(sent.map((s) => [s.container, s.ref]));
  const restored = await clusterPersistent.createTargetPod({ plan: atSource, images });
  if (restored.node !== plan.source.node) {
    // createTargetPod returns an existing pod of this migration: the failed target still holds the name.
    throw ApplicationFailure.nonRetryable(`the name ${source.name} is still held by the failed target pod on ${restored.node ?? 'no node'}`, 'NameStillHeld');
  }
  const ready = await proxyActivities<KubernetesActivities>(podWait(readyTimeoutSeconds)).waitPodReady({
    cluster: source.cluster,
    namespace: source.namespace,
    name: source.name,
    timeoutSeconds: readyTimeoutSeconds,
  });
  return { ...restored, uid: ready.uid || restored.uid };
}

/** Runs the undos in order (they are kept newest first); one failing does not stop the others. */
async function runCompensations(compensations: Compensation[], progress: ProgressTracker): Promise<string[]> {
  const failed: string[] = [];
  for (const compensation of compensations) {
    try {
      await compensation.run();
      progress.compensated(compensation.name, true);
    } catch (err) {
      failed.push(`${compensation.name}: ${errorMessage(err)}`);
      progress.compensated(compensation.name, false, errorMessage(err));
    }
  }
  return failed;
}

interface PerContainer<T> {
  values: Record<string, T>;
  failures: Array<{ container: string; error: unknown }>;
}

/**
 * Runs one step for every container, all at once (allSettled: we learn which succeeded before undoing
 * anything) or one after another, stopping at the first failure (the sequential baseline).
 */
async function forEachContainer<T>(containers: string[], parallel: boolean, step: (container: string) => Promise<T>): Promise<PerContainer<T>> {
  const out: PerContainer<T> = { values: {}, failures: [] };
  if (parallel) {
    const settled = await Promise.allSettled(containers.map(step));
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') out.values[containers[i]!] = s.value;
      else out.failures.push({ container: containers[i]!, error: s.reason });
    });
    return out;
  }
  for (const container of containers) {
    try {
      out.values[container] = await step(container);
    } catch (error) {
      out.failures.push({ container, error });
      break;
    }
  }
  return out;
}

function throwFirst(failures: Array<{ container: string; error: unknown }>): void {
  if (failures.length === 0) return;
  // A cancellation wins: the workflow must end as cancelled, not as failed.
  const cancellation = failures.find((f) => isCancellation(f.error));
  throw (cancellation ?? failures[0]!).error;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    // Activity failures wrap the activity's own error: its message is the useful one.
    if (cause instanceof Error && cause.message && /^Activity task/.test(err.message)) return cause.message;
    return err.message;
  }
  return String(err);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Keeps MigrationProgress for the query, the Web UI details, the memo and the search attributes. */
class ProgressTracker {
  private readonly state: MigrationProgress;
  private readonly useSearchAttributes: boolean;

  constructor(migrationId: string) {
    this.state = {
      migrationId,
      phase: 'Pending',
      phaseStartedAt: { Pending: new Date().toISOString() },
      containers: {},
      stepsDone: 0,
      stepsTotal: 9,
      compensations: [],
      warnings: [],
    };
    // Set at start by the client only when the namespace has them registered.
    this.useSearchAttributes = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase) !== undefined;
  }

  snapshot(): MigrationProgress {
    return JSON.parse(JSON.stringify(this.state)) as MigrationProgress; // no structuredClone in the workflow sandbox
  }

  enter(phase: MigrationPhase): void {
    this.state.phase = phase;
    this.state.phaseStartedAt[phase] = new Date().toISOString();
    if (phase === 'Succeeded') this.state.stepsDone = this.state.stepsTotal;
    upsertMemo({ phase });
    if (this.useSearchAttributes) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
    this.publish();
  }

  planned(strategy: MigrationStrategy, containers: string[], warnings: string[]): void {
    this.state.strategy = strategy;
    for (const c of containers) this.state.containers[c] = { state: 'Pending' };
    // plan, freeze, checkpoint×n, push×n, config, create, ready, delete source, finalize
    this.state.stepsTotal = 7 + 2 * containers.length;
    this.state.warnings.push(...warnings);
    this.step();
  }

  step(): void {
    this.state.stepsDone = Math.min(this.state.stepsDone + 1, this.state.stepsTotal);
    this.publish();
  }

  container(name: string, state: ContainerState, extra: { archivePath?: string; image?: string; archiveBytes?: number } = {}): void {
    this.state.containers[name] = { ...this.state.containers[name], ...extra, state };
    if (state === 'Checkpointed' || state === 'Pushed') this.state.stepsDone++;
    this.publish();
  }

  failContainers(failures: Array<{ container: string; error: unknown }>): void {
    for (const f of failures) this.state.containers[f.container] = { ...this.state.containers[f.container], state: 'Failed', error: errorMessage(f.error) };
  }

  warn(message: string): void {
    this.state.warnings.push(message);
  }

  fail(err: unknown): void {
    this.state.error = errorMessage(err);
  }

  compensated(name: string, ok: boolean, error?: string): void {
    this.state.compensations.push({ name, ok, ...(error ? { error } : {}) });
    this.publish();
  }

  phaseDurations(): Partial<Record<MigrationPhase, number>> {
    const entries = Object.entries(this.state.phaseStartedAt).map(([phase, at]) => [phase, Date.parse(at)] as const);
    entries.sort((a, b) => a[1] - b[1]);
    const out: Partial<Record<MigrationPhase, number>> = {};
    entries.forEach(([phase, at], i) => {
      const next = entries[i + 1]?.[1];
      if (next !== undefined && phase !== 'Pending') out[phase as MigrationPhase] = next - at;
    });
    return out;
  }

  private publish(): void {
    const s = this.state;
    const rows = Object.entries(s.containers).map(([name, c]) => `| ${name} | ${c.state} | ${c.image ?? ''} |`);
    setCurrentDetails(
      [
        `**Phase:** ${s.phase} (${s.stepsDone}/${s.stepsTotal} steps)`,
        '',
        '| container | state | checkpoint image |',
        '| --- | --- | --- |',
        ...rows,
        ...(s.error ? ['', `**Error:** ${s.error}`] : []),
        ...(s.compensations.length ? ['', `**Compensations:** ${s.compensations.map((c) => `${c.name}${c.ok ? '' : ' (failed)'}`).join(' → ')}`] : []),
      ].join('\n'),
    );
  }
}
