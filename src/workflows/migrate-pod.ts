// migratePod: live-migrates one (multi-container) pod to another cluster or node, as a saga.
//
//   plan (lock the source) → freeze source → checkpoint containers → send checkpoint images → copy config
//   → create target → wait Ready (COMMIT) → delete source (kill, then remove) → finalize
//
// The invariants it keeps (README, "Safety"):
// 1. At most one copy runs: the source resumes only once the target pod is proven stopped (deleted through
//    its kubelet, the object gone); when that cannot be proven the source stays frozen and the failure says
//    so. After the commit the source's processes are dead before the workflow reports success.
// 2. At least one copy survives: a failure ends with the workload running (target, source thawed, or
//    restored from its checkpoint) or, only when rule 1 forbids that, frozen or kept in its checkpoint
//    images, named in the failure. Nothing that may be the workload's only copy is deleted.
// 3. Bounded freeze: options.maxFrozenSeconds before the commit aborts the migration; the source resumes
//    before any cleanup runs.
// 4. The source node's worker records the freeze and, should this workflow end without finishing (even
//    terminated), thaws, holds or kills the source as the memo `sourceOnAbort` says.
// 5. One migration per pod: planning takes a lock on the source pod (an annotation, written conditionally).
// 6. Node calls are fenced: each decision about the frozen source carries a higher fence than the last.
//
// Within the source's own cluster and namespace the target needs the source's name, so the frozen source
// is deleted right before the target is created (strategy DeleteThenCreate); its undo restores the pod on
// the source node from the checkpoint images. A StatefulSet's pod moves the same way (its name is its identity),
// with its name fenced from before the freeze until the move has ended: the StatefulSet's own creates of it are
// refused (deploy/admission), the restored pod (and a pod restored at the source) passes and is adopted.
//
// A ReplicaSet's pod (AdoptByReplicaSet, same cluster and namespace) moves as a copy of its own name, made
// without labels or owner so nothing selects it; the source gets the lowest pod-deletion-cost before the
// freeze. Once the copy is Ready, one patch gives it its labels back (the hand-over): the ReplicaSet adopts
// it and deletes its cheapest pod. The COMMIT POINT is that deletion of the source, observed: from the
// hand-over until then either pod may go. If the ReplicaSet deletes the copy instead (it was not Ready at
// that instant), or chooses neither in time, the move rolls back: the labels come off the copy again, and
// once the ReplicaSet has let go of it the copy is stopped and the source thawed. Should the ReplicaSet have
// deleted the source meanwhile, the copy is the workload: it is handed back, the source killed, and the
// failure says so (CommittedByReplicaSet).
//
// A Deployment's pod leaving its cluster or namespace (CreateThenDelete with plan.deploymentMove) moves as a copy
// made without labels or owner, committed once Ready as any CreateThenDelete; around that, the source gets the
// lowest pod-deletion-cost and the target's Deployment is made ready (its ReplicaSet fenced) before the freeze,
// and after the commit the copy is handed to the target's Deployment and the source's is scaled down, so that its
// ReplicaSet deletes the frozen source (workflows/deployment-move.ts). A StatefulSet's pod leaving its cluster or
// namespace (plan.statefulSetMove) moves the same way, its name kept: the target's StatefulSet is made ready before the
// freeze, and after the commit its range takes the ordinal in and adopts the copy, then the source's range gives the
// ordinal up, so that its StatefulSet does not recreate the frozen source (workflows/statefulset-move.ts).
import { ApplicationFailure, CancellationScope, isCancellation, patched, proxyActivities, proxySinks, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { HandOverPods, PullSecretInput } from '../activities/kubernetes.js';
import { errorMessage, OUTCOME_FAILURES } from '../api/failures.js';
import { describeIssues, MigratePodInput, type MigratePodRequest, type MigrationResult, type PodIdentity } from '../api/migration.js';
import { sourceExecution, targetExecution, type MigrationPlan } from '../api/migration-plan.js';
import type { PreparedDeployment } from '../activities/deployments.js';
import type { PodNameFenceInput } from '../activities/pod-name-fence.js';
import type { PreparedStatefulSet } from '../activities/statefulsets.js';
import type { CheckpointArchiveImageInput } from '../activities/transfer.js';
import { liftFenceByHand, MIN_POD_DELETION_COST, nodeTaskQueue, ownerFenceKey } from '../api/names.js';
import { progressQuery, type MigrationMetricsSinks, type MigrationOutcome } from './definitions.js';
import { handOverToTargetDeployment, prepareTargetDeployment } from './deployment-move.js';
import { handOverToTargetStatefulSet, prepareTargetStatefulSet } from './statefulset-move.js';
import { forEachContainer, throwFirst } from './per-container.js';
import { announce } from './pod-events.js';
import { ProgressTracker } from './progress.js';
import { Saga, type CompensationReport } from './saga.js';
import { sendCheckpointImages, type SentCheckpointImage } from './send-images.js';
import { awaitPages, checkpointLazily, endPostCopy, preparePostCopy, removeLazyImages, startLazyPagesDaemons } from './postcopy.js';
import type { LazyCheckpoint } from '../activities/postcopy.js';
import { API_CALL, checkpointCall, nodeCheckpointCall, nodeDescription, nodeLocal, persistent, podWait, SOURCE_DELETION, TARGET_STOP, targetNodePrep } from './timing.js';
import type { RuntimeDescription } from '../api/runtime-description.js';
import { targetPodName } from '../planning/migration.js';
import { describedRestoreCheck, sourceRuntime as sourceRuntimeOf } from '../planning/restore-support.js';
import type { NodeWorkerActivities } from '../worker/node.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';

const cluster = proxyActivities<OrchestratorActivities>(API_CALL);
const clusterDeletion = proxyActivities<OrchestratorActivities>(SOURCE_DELETION);
const clusterPersistent = proxyActivities<OrchestratorActivities>(persistent());
const targetStop = proxyActivities<OrchestratorActivities>(TARGET_STOP);
const { migrationMetrics } = proxySinks<MigrationMetricsSinks>();

/** Grace period of the target pod's deletion in a rollback: > 0, so its kubelet stops the containers before the object goes. */
const TARGET_STOP_GRACE_SECONDS = 1;
/** The node's safety net acts this long after the freeze deadline: the workflow's own rollback comes first. */
const SAFETY_NET_MARGIN_MS = 10_000;
/** patched() id of the checkpoint through the node's runtime (runs recorded before it checkpointed through the kubelet). */
const CHECKPOINT_THROUGH_RUNTIME = 'checkpoint-through-the-runtime';
/** patched() id of the undo that imports node-to-node images at the source from its own archives (offers are one-shot and bound to the target now). */
const SOURCE_RESTORE_FROM_OWN_ARCHIVES = 'source-restore-from-own-archives';
/** patched() id of the pull secret per migration (runs recorded before it had their kubelets pull anonymously). */
const PULL_SECRET_PER_MIGRATION = 'pull-secret-per-migration';
/** How long the ReplicaSet may take to delete one pod after the hand-over (measured: 38–63 ms). */
const HANDOVER_WAIT_SECONDS = 30;
/** How long the undo of the hand-over waits for the ReplicaSet to let go of the copy. */
const TAKE_BACK_SECONDS = 60;
/** How long the source's ReplicaSet may take to delete the frozen source after its Deployment's scale-down (measured: ~50 ms). */
const SCALE_DOWN_SECONDS = 10;
/** The name of the hand-over's undo (rollbackFailure tells its failure apart). */
const TAKE_BACK = 'take the copy back from the ReplicaSet';
/** patched() id of asking the target node's worker what its runtime can restore (runs recorded before trusted the kubelet's report alone). */
const ASK_TARGET_RUNTIME = 'ask-target-runtime';

/** What the migration has done so far: what the undos, the failure message and the result read. */
interface MigrationState {
  plan?: MigrationPlan;
  frozenAt?: number;
  /** Per container: the archive on the source node and how long its checkpoint took. */
  checkpoints: Record<string, { archivePath: string; durationMs: number }>;
  sent: SentCheckpointImage[];
  targetPod?: PodIdentity;
  readyAt?: number;
  /** The pod restored on its source node by a DeleteThenCreate rollback. */
  restoredAtSource?: PodIdentity;
  /** The freeze lasted options.maxFrozenSeconds: the pre-commit work was cancelled for that. */
  frozenTooLong: boolean;
  /** The last fence handed to the source node (each decision about the frozen source takes the next). */
  fence: number;
  /** Where the migration's pull secret was made (the plan's pullSecret), once asked for. */
  pullSecret?: PullSecretInput;
  /** A Deployment's pod leaving the cluster or namespace: the target's Deployment, once ready to adopt the copy. */
  targetDeployment?: PreparedDeployment;
  /** A StatefulSet's pod leaving the cluster or namespace: the target's StatefulSet, once of the source's revision. */
  targetStatefulSet?: PreparedStatefulSet;
  /** Post-copy (options.mode): what its steps made, and whether the target may have run (the commit point). */
  postCopy?: PostCopyState;
}

interface PostCopyState {
  /** The target's CRIU configuration per container (the archives name it). */
  criuConfigs: Record<string, string>;
  lazy: Record<string, LazyCheckpoint>;
  lazyPageBytes: Record<string, number>;
  /** The target pod's creation was asked for: from here the source is never resumed by the workflow. */
  targetCreated: boolean;
  pagesArrivedAt?: number;
}

export async function migratePod(request: MigratePodRequest): Promise<MigrationResult> {
  const parsed = MigratePodInput.safeParse(request);
  if (!parsed.success) {
    // Before any side effect: nothing to undo.
    throw ApplicationFailure.nonRetryable(`invalid input: ${describeIssues(parsed.error)}`, OUTCOME_FAILURES.invalidInput, parsed.error.issues);
  }
  const input = parsed.data;
  const { options } = input;
  const migrationId = workflowInfo().workflowId;
  const targetNamespace = input.target.namespace ?? input.source.namespace;
  const progress = new ProgressTracker(migrationId);
  setHandler(progressQuery, () => progress.snapshot());

  const saga = new Saga();
  const state: MigrationState = { checkpoints: {}, sent: [], frozenTooLong: false, fence: 0 };
  const nextFence = () => ++state.fence;
  const startedAt = Date.now();
  const imageOf = (container: string) => checkpointImageOf(state, container);
  // Everything before the commit runs in this scope: the freeze deadline (or a cancel) cancels it.
  const beforeCommit = new CancellationScope();
  let deadline: CancellationScope | undefined;

  try {
    await beforeCommit.run(async () => {
      // 1. Plan: read the source pod, refuse early (with a reason) what cannot migrate, take the pod's lock.
      progress.enter('Planning');
      saga.onFailureCleanUp('release the source pod lock', () =>
        clusterPersistent.releaseSourceLock({ migrationId, cluster: input.source.cluster, namespace: input.source.namespace, name: input.source.pod, uid: state.plan?.source.uid }),
      );
      const plan = await cluster.planMigration({
        migrationId,
        source: input.source,
        target: { cluster: input.target.cluster, namespace: targetNamespace, node: input.target.node },
        maxFrozenSeconds: options.maxFrozenSeconds,
        allowSecretsToOtherNamespace: options.allowSecretsToOtherNamespace,
        allowUnschedulableTargetNode: options.allowUnschedulableTargetNode,
        checkpointVia: options.checkpointVia,
        mode: options.mode,
        transfer: options.transfer,
      });
      state.plan = plan;
      progress.planned(plan.strategy, plan.containers.map((c) => c.name), plan.warnings);
      // 1a. A named target node's worker says whether its runtime restores (and with which CRIU), before the freeze.
      //     (For a Liqo virtual node: the provider's node, when the plan knows it.)
      const restoringNode = targetExecution(plan).node;
      if (restoringNode !== undefined && patched(ASK_TARGET_RUNTIME)) await requireTargetCanRestore(plan, restoringNode, progress);
      const sourcePodRef = sourcePodOf(plan);
      announce({
        pod: sourcePodRef,
        migrationId,
        type: 'Normal',
        reason: 'MigrationStarted',
        message: `podferry moves this pod to cluster ${plan.target.cluster}, namespace ${plan.target.namespace}${plan.target.node ? `, node ${plan.target.node}` : ''} (${plan.strategy})`,
      });
      // Node-local steps go where the containers run (for a pod on a Liqo virtual node: the provider's pod and node).
      const runsAt = sourceExecution(plan);
      const sourceQueue = nodeTaskQueue(runsAt.cluster, runsAt.node);
      const sourceNode = proxyActivities<NodeWorkerActivities>(nodeLocal(sourceQueue));
      const sourceNodePersistent = proxyActivities<NodeWorkerActivities>(persistent(sourceQueue));
      const kubelet = proxyActivities<OrchestratorActivities>(checkpointCall(options.checkpointTimeoutSeconds));
      const sourceRuntime = proxyActivities<NodeWorkerActivities>(nodeCheckpointCall(sourceQueue, options.checkpointTimeoutSeconds));
      const containers = plan.containers.map((c) => c.name);
      const pod = { podUid: runsAt.uid, containerIds: plan.containers.map((c) => c.containerId), migrationId };

      // 1b. Pre-pull the containers' original images on the target node(s), before the downtime starts:
      //     the runtime needs them to restore. Best effort: a failure is only a warning.
      //     A target node whose worker answers can also receive the checkpoint images directly.
      const answering = await prepullBaseImages(plan, progress);

      // 1c. The pull secret the target's kubelet pulls the checkpoint images with (registry.pull), made
      //     before the downtime. Within the namespace (DeleteThenCreate) it serves the restore at the source too.
      if (plan.pullSecret !== undefined && patched(PULL_SECRET_PER_MIGRATION)) {
        const pullSecret = { migrationId, cluster: plan.target.cluster, namespace: plan.target.namespace };
        state.pullSecret = pullSecret;
        saga.onFailureCleanUp('delete the pull secret', () => clusterPersistent.deletePullSecret(pullSecret));
        await cluster.ensurePullSecret(pullSecret);
      }

      // 1d. A ReplicaSet's pod: make the source its ReplicaSet's cheapest pod, so that the hand-over (AdoptByReplicaSet)
      //     or its Deployment's scale-down (a Deployment's pod leaving the cluster or namespace) deletes it.
      const handOver = plan.replicaSetHandOver;
      const cheapened = handOver ?? plan.deploymentMove;
      if (cheapened) {
        saga.onFailureCleanUp("restore the source's deletion cost", () => clusterPersistent.setPodDeletionCost({ ...sourcePodOf(plan), cost: cheapened.previousDeletionCost }));
        await cluster.setPodDeletionCost({ ...sourcePodOf(plan), cost: MIN_POD_DELETION_COST });
      }

      // 1e. A Deployment's pod leaving the cluster or namespace: the target's Deployment ready to adopt the copy
      //     (created with 0 replicas when missing), its ReplicaSet's pod creation fenced until the copy is adopted.
      if (plan.deploymentMove) state.targetDeployment = await prepareTargetDeployment(plan, saga);
      //     A StatefulSet's pod: the target's StatefulSet ready to take the ordinal (created with no replicas when missing).
      if (plan.statefulSetMove) state.targetStatefulSet = await prepareTargetStatefulSet(plan, saga);

      // 1f. A StatefulSet's pod: fence its name, since the StatefulSet would start a fresh pod of it once the
      //     source is deleted; proven to hold before the freeze, lifted once the move has ended.
      const nameFence = podNameFenceOf(plan);
      if (nameFence) {
        saga.onFailureCleanUp('lift the pod name fence', () => clusterPersistent.liftPodNameFence(nameFence));
        await cluster.raisePodNameFence(nameFence);
      }

      // 1g. Post-copy: both nodes can, and the target has each container's CRIU configuration ready.
      if (options.mode === 'postcopy') {
        state.postCopy = { criuConfigs: await preparePostCopy(plan, saga), lazy: {}, lazyPageBytes: {}, targetCreated: false };
      }

      // 2. Freeze the whole source pod: from here on it makes no progress, so no state is lost after the
      //    checkpoints, and all containers are checkpointed at one instant. Downtime starts here, and so
      //    does the freeze deadline.
      progress.enter('Freezing');
      progress.sourceOnAbort('thaw');
      saga.onFailureRestore('thaw source pod', () =>
        state.postCopy?.targetCreated ? holdSourceAfterTargetRan(plan) : sourceNodePersistent.thawPod({ ...pod, fence: nextFence() }),
      );
      deadline = armFreezeDeadline(options.maxFrozenSeconds, () => {
        state.frozenTooLong = true;
        beforeCommit.cancel();
      });
      const frozen = await sourceNode.freezePod({ ...pod, fence: nextFence(), sweepAfterMs: options.maxFrozenSeconds * 1000 + SAFETY_NET_MARGIN_MS });
      state.frozenAt = frozen.frozenAt;
      announce({ pod: sourcePodRef, migrationId, type: 'Normal', reason: 'SourceFrozen', message: `frozen for its checkpoint; it resumes here if the move does not commit within ${options.maxFrozenSeconds}s` });
      progress.step();

      // 3. Checkpoint every container (parallel unless options.parallel=false): by the source node's worker
      //    through its runtime, or through the kubelet API. (Runs started before the runtime way existed
      //    replay the kubelet way.)
      progress.enter('Checkpointing');
      const throughRuntime = options.checkpointVia === 'runtime' && patched(CHECKPOINT_THROUGH_RUNTIME);
      saga.onFailureCleanUp('delete checkpoint archives', () =>
        sourceNodePersistent.deleteArchives({
          paths: Object.values(state.checkpoints).map((c) => c.archivePath),
          pod: { namespace: runsAt.namespace, name: runsAt.pod, containers },
        }),
      );
      const checkpoints = await forEachContainer(containers, options.parallel, async (container) => {
        progress.container(container, 'Checkpointing');
        const where = { namespace: runsAt.namespace, pod: runsAt.pod, container, timeoutSeconds: options.checkpointTimeoutSeconds };
        const postCopy = state.postCopy;
        const result = postCopy
          ? (postCopy.lazy[container] = await checkpointLazily(plan, container, postCopy.criuConfigs[container]!, options.checkpointTimeoutSeconds))
          : throughRuntime
            ? await sourceRuntime.checkpointThroughRuntime({ ...where, podUid: runsAt.uid, containerId: plan.containers.find((c) => c.name === container)!.containerId })
            : await kubelet.checkpointContainer({ ...where, cluster: runsAt.cluster, node: runsAt.node });
        state.checkpoints[container] = { archivePath: result.archivePath, durationMs: result.durationMs };
        progress.container(container, 'Checkpointed', { archivePath: result.archivePath });
        return result;
      });
      progress.failContainers(checkpoints.failures);
      throwFirst(checkpoints.failures);

      // 4. Send one checkpoint image per container to the target (registry, or node to node).
      progress.enter('Pushing');
      // Post-copy: node to node whatever options.transfer says (the target's daemons read the images before the pod exists).
      const sendOptions = state.postCopy ? { ...options, transfer: 'direct' as const } : options;
      const sent = await sendCheckpointImages({ plan, options: sendOptions, answering, imageOf, saga, progress, sent: state.sent });
      const images = Object.fromEntries(sent.map((s) => [s.container, s.ref]));
      if (state.postCopy) state.postCopy.lazyPageBytes = await startLazyPagesDaemons(plan, sent, state.postCopy.lazy, options.parallel);

      // 4b. DeleteThenCreate: free the name. From here until the target is Ready the workload exists only in
      //     its checkpoint images; the undo restores it from them on the source node.
      if (plan.strategy === 'DeleteThenCreate') {
        progress.enter('DeletingSource');
        saga.onFailureRestore('restore source from its checkpoint images', async () => {
          state.restoredAtSource = await restoreSourceFromCheckpoint(plan, state.sent, options.readyTimeoutSeconds, sourceNodePersistent, nextFence, (c) =>
            checkpointImageOf(state, c),
          );
        });
        progress.sourceOnAbort('hold');
        await deleteFrozenSource(plan, clusterDeletion, sourceNode, nextFence(), { removeAtOnce: true });
        progress.step();
      }

      // 5. Create the pod in the target cluster: first the ConfigMaps/Secrets it needs, then the pod itself.
      progress.enter('CreatingTarget');
      saga.onFailureCleanUp('delete copied config', () =>
        clusterPersistent.deleteCopiedConfig({ migrationId, cluster: plan.target.cluster, namespace: plan.target.namespace }),
      );
      const copied = await cluster.ensureTargetConfig({ plan });
      for (const missing of copied.missing) progress.warn(`${missing.kind} ${missing.name} is referenced but exists in neither cluster`);
      progress.step();
      saga.onFailureRestore('stop the target pod', async () => {
        await targetStop.deletePod({
          cluster: plan.target.cluster,
          namespace: plan.target.namespace,
          name: targetPodName(plan),
          onlyIfMigrationId: migrationId,
          onlyIfSourceUid: plan.source.uid,
          gracePeriodSeconds: TARGET_STOP_GRACE_SECONDS,
          waitSeconds: 60,
        });
        const offloadedTo = plan.target.runsAt;
        if (offloadedTo) {
          // On a Liqo virtual node the local pod's deletion proves nothing of the containers: the provider's pod
          // must be gone too (Liqo deletes it with the local pod; this waits for it, and shortens its grace period).
          await targetStop.deletePod({
            cluster: offloadedTo.cluster,
            namespace: offloadedTo.namespace,
            name: plan.source.pod,
            onlyIfMigrationId: migrationId,
            onlyIfSourceUid: plan.source.uid,
            gracePeriodSeconds: TARGET_STOP_GRACE_SECONDS,
            waitSeconds: 60,
          });
        }
        // Proven: the target's kubelet stopped its containers (or it never had any). The source may resume, unless
        // post-copy's target may have run.
        progress.sourceOnAbort(plan.strategy === 'DeleteThenCreate' || state.postCopy?.targetCreated ? 'hold' : 'thaw');
      });
      progress.sourceOnAbort('hold');
      if (state.postCopy) {
        // Post-copy's commit point: the target may run from its creation on, with pages only the source has. The
        // freeze bound ends here; what follows is bounded by readyTimeoutSeconds.
        state.postCopy.targetCreated = true;
        deadline.cancel();
      }
      state.targetPod = await cluster.createTargetPod({ plan, images });
      progress.step();

      // 6. Wait until the target pod is Ready: the commit point. Downtime ends here. (AdoptByReplicaSet:
      //    the commit point and the downtime's end are the hand-over's, step 6b.)
      progress.enter('WaitingReady');
      const readyWait = proxyActivities<OrchestratorActivities>(podWait(options.readyTimeoutSeconds)).waitPodReady({
        cluster: state.targetPod.cluster,
        namespace: state.targetPod.namespace,
        name: state.targetPod.name,
        timeoutSeconds: options.readyTimeoutSeconds,
      });
      // Post-copy: the pages stream from the target's start; a lost stream ends the wait for Ready too (the target's
      // processes die on the first page that cannot come).
      const pagesArrived = state.postCopy ? awaitPages(plan, options.readyTimeoutSeconds) : undefined;
      const ready = await (pagesArrived ? Promise.race([readyWait, pagesArrived.then(() => readyWait)]) : readyWait);
      // 6b. AdoptByReplicaSet: the copy gets its labels back; the ReplicaSet deletes the source (COMMIT) or the copy.
      const handedOverAt = handOver
        ? await handOverToReplicaSet(plan, { ...state.targetPod, uid: ready.uid || state.targetPod.uid }, saga, progress, () =>
            sourceNodePersistent.killFrozenPod({ ...pod, fence: nextFence() }),
          )
        : undefined;
      if (state.postCopy) {
        progress.enter('StreamingPages');
        state.postCopy.pagesArrivedAt = await pagesArrived;
      }
      deadline.cancel();
      state.readyAt = handedOverAt ?? ready.readyAt;
      state.targetPod = { ...state.targetPod, uid: ready.uid || state.targetPod.uid, node: ready.node ?? state.targetPod.node };
      for (const c of containers) progress.container(c, 'Restored');
      progress.step();
    });
  } catch (err) {
    // Before the commit point: put the workload back (stop the target, then resume or restore the source),
    // then clean up.
    const frozenTooLong = state.frozenTooLong && isCancellation(err);
    const cause = frozenTooLong
      ? ApplicationFailure.create({
          message: `the source pod was frozen for options.maxFrozenSeconds (${options.maxFrozenSeconds}s) before the target was Ready: aborted to let it run again`,
          type: 'FrozenTooLong',
          nonRetryable: true,
          cause: err as Error,
        })
      : err;
    deadline?.cancel();
    const cancelled = isCancellation(err) && !frozenTooLong;
    progress.fail(cause);
    progress.enter('Compensating');
    const report = await saga.compensate((name, ok, error) => progress.compensated(name, ok, error));
    const outcome: MigrationOutcome = !report.workloadRestored ? 'failed' : cancelled ? 'cancelled' : 'rolled_back';
    progress.enter(report.workloadRestored ? 'RolledBack' : 'Failed');
    migrationMetrics.finished({ outcome, durationMs: Date.now() - startedAt, bytesPushed: sum(state.sent.map((p) => p.bytesPushed)) });
    const failure = rollbackFailure(cause, report, state, progress);
    if (state.plan) {
      const pod = state.restoredAtSource ?? sourcePodOf(state.plan);
      await announce({ pod, migrationId, type: 'Warning', reason: report.workloadRestored ? 'MigrationRolledBack' : 'MigrationFailed', message: failure.message });
    }
    if (cancelled && report.workloadRestored && report.failed.length === 0) throw err;
    throw failure;
  }

  // ---- Committed: the target runs the workload. From here only forward.
  return CancellationScope.nonCancellable(() => finishAfterCommit(state, input, progress, nextFence, startedAt));
}

/**
 * After the commit: the source's processes must be dead before success is reported (a frozen process left
 * behind could be resumed by a runtime restart: a second copy). Deletion is requested first, so the kubelet
 * does not restart what dies; if it cannot be requested the source stays frozen and the failure says so.
 */
async function finishAfterCommit(
  state: MigrationState,
  input: MigratePodInput,
  progress: ProgressTracker,
  nextFence: () => number,
  startedAt: number,
): Promise<MigrationResult> {
  const { options } = input;
  const plan = state.plan!;
  const runsAt = sourceExecution(plan);
  const sourceNode = proxyActivities<NodeWorkerActivities>(persistent(nodeTaskQueue(runsAt.cluster, runsAt.node)));
  const migrationId = plan.migrationId;
  const sourcePod = sourcePodOf(plan);
  /** Committed, but a step that removes the source failed; byHand: what is left to do before deleting the source. */
  const notRemoved = (what: string, err: unknown, byHand: string[] = []) =>
    ApplicationFailure.create({
      message:
        `migration committed: the target pod ${state.targetPod!.namespace}/${state.targetPod!.name} in cluster ${state.targetPod!.cluster} runs the workload, ` +
        `but ${what} failed (${errorMessage(err)}). ` +
        (byHand.length > 0 ? `Left to do by hand, in this order: ${byHand.map((step, i) => `${i + 1}. ${step}`).join('; ')}. ` : '') +
        `The source pod ${plan.source.namespace}/${plan.source.pod} on node ${plan.source.node} ` +
        `(cluster ${plan.source.cluster}, uid ${plan.source.uid}) is still frozen; ${byHand.length > 0 ? 'then, if its owner has not, ' : ''}` +
        `delete it (kubectl delete pod -n ${plan.source.namespace} ${plan.source.pod} --wait=false): ` +
        'its node worker kills the frozen processes once this migration has ended',
      type: OUTCOME_FAILURES.sourceNotRemoved,
      nonRetryable: true,
      details: [progress.snapshot()],
    });
  const target = state.targetPod!;
  const announced = [
    announce({ pod: sourcePod, migrationId, type: 'Normal', reason: 'Migrated', message: `now runs as pod ${target.namespace}/${target.name} in cluster ${target.cluster}${target.node ? ` on node ${target.node}` : ''}` }),
    announce({ pod: target, migrationId, type: 'Normal', reason: 'Restored', message: `restored from the checkpoint of pod ${plan.source.namespace}/${plan.source.pod} in cluster ${plan.source.cluster} (uid ${plan.source.uid})` }),
  ];
  const forward = async (what: string, step: () => Promise<unknown>): Promise<boolean> => {
    try {
      await step();
      return true;
    } catch (err) {
      progress.warn(`${what} failed: ${errorMessage(err)}`);
      return false;
    }
  };

  // The target is Ready, so its kubelet has its images: the pull secret has served.
  const { pullSecret } = state;
  if (pullSecret) await forward(`deleting the pull secret ${plan.pullSecret}`, () => clusterPersistent.deletePullSecret(pullSecret));

  // The restored pod holds the name now: a StatefulSet's own creates would fail on it anyway.
  const nameFence = podNameFenceOf(plan);
  if (nameFence) {
    await forward(`lifting the fence of pod name ${nameFence.namespace}/${nameFence.pod} (${liftFenceByHand(nameFence.cluster, nameFence.namespace, nameFence.pod)})`, () => clusterPersistent.liftPodNameFence(nameFence));
  }

  // 7. Delete the source (DeleteThenCreate did so before creating the target; with AdoptByReplicaSet its
  //    ReplicaSet requested the deletion, which was the commit): kill its frozen processes, wait until it is gone.
  //    A Deployment's pod leaving the cluster or namespace first goes to the target's Deployment, and the source's
  //    is scaled down by one, so that its ReplicaSet deletes the frozen source (the copy serves from its labels on).
  //    A StatefulSet's goes to the target's StatefulSet, and the source's range gives its ordinal up.
  if (plan.strategy !== 'DeleteThenCreate') {
    if (plan.strategy === 'CreateThenDelete') {
      progress.enter('DeletingSource');
      if (plan.deploymentMove) {
        const { labelledAt } = await handOverToTargetDeployment(plan, state.targetPod!, state.targetDeployment!, notRemoved);
        state.readyAt = labelledAt;
        await awaitScaleDownChoice(plan, progress);
      }
      if (plan.statefulSetMove) {
        const { labelledAt } = await handOverToTargetStatefulSet(plan, state.targetPod!, state.targetStatefulSet!, notRemoved);
        state.readyAt = labelledAt;
      }
      progress.sourceOnAbort('hold');
      try {
        await requestSourceDeletion(plan, clusterPersistent);
      } catch (err) {
        throw notRemoved('requesting the deletion of the source pod', err);
      }
    }
    progress.sourceOnAbort('kill');
    try {
      await sourceNode.killFrozenPod({ podUid: runsAt.uid, containerIds: plan.containers.map((c) => c.containerId), migrationId, fence: nextFence() });
    } catch (err) {
      throw notRemoved('killing the frozen source processes', err);
    }
    await forward(`waiting for source pod ${plan.source.namespace}/${plan.source.pod} to be gone`, () =>
      clusterPersistent.deletePod({ ...sourcePod, waitSeconds: 50 }),
    );
    progress.step();
  }
  progress.sourceOnAbort('kill');

  // 8. Finalize. Images sent node to node reach the registry only if they are to be kept (before the
  //    archives they are made of go). Archives are copies of the workload's memory (secrets included):
  //    deleted by default.
  progress.enter('Finalizing');
  if (state.postCopy) {
    await forward('removing the post-copy files of both nodes', () => endPostCopy(plan, true));
    await forward('removing the memoryless checkpoint images from the target node', () => removeLazyImages(plan, state.sent.map((s) => s.ref)));
  }
  if (options.cleanup.images === 'keep') {
    for (const image of state.sent.filter((p) => p.via === 'direct')) {
      await forward(`pushing the checkpoint image of ${image.container} to the registry`, () =>
        sourceNode.pushCheckpointImage({ ...checkpointImageOf(state, image.container), tag: image.tag }),
      );
    }
  }
  if (options.cleanup.archives === 'delete') {
    await forward('deleting checkpoint archives', () =>
      sourceNode.deleteArchives({
        paths: Object.values(state.checkpoints).map((c) => c.archivePath),
        pod: { namespace: runsAt.namespace, name: runsAt.pod, containers: plan.containers.map((c) => c.name) },
      }),
    );
  }
  const imagesDeleted =
    options.cleanup.images === 'delete' &&
    (await forward('deleting checkpoint images', () =>
      Promise.all(state.sent.filter((p) => p.via === 'registry').map((p) => clusterPersistent.deleteImage({ tag: p.tag }))),
    ));
  progress.step();
  progress.enter('Succeeded');

  const downtimeMs = state.frozenAt !== undefined && state.readyAt !== undefined && state.readyAt >= state.frozenAt ? state.readyAt - state.frozenAt : 0;
  const result: MigrationResult = {
    migrationId,
    source: { ...sourcePodOf(plan), node: plan.source.node },
    target: state.targetPod!,
    phasesMs: progress.phaseDurations(),
    containers: Object.fromEntries(
      state.sent.map((p) => [
        p.container,
        {
          checkpointMs: state.checkpoints[p.container]?.durationMs ?? 0,
          pushMs: p.durationMs,
          archiveBytes: p.archiveBytes,
          bytesPushed: p.bytesPushed,
          via: p.via,
          ...(p.pullMs !== undefined ? { pullMs: p.pullMs } : {}),
        },
      ]),
    ),
    totalMs: Date.now() - startedAt,
    downtimeMs,
    mode: options.mode,
    ...(state.postCopy?.pagesArrivedAt !== undefined && state.frozenAt !== undefined
      ? { pagesArrivedMs: state.postCopy.pagesArrivedAt - state.frozenAt, lazyPageBytes: sum(Object.values(state.postCopy.lazyPageBytes)) }
      : {}),
    bytesPushed: sum(state.sent.map((p) => p.bytesPushed)),
    images: state.sent.map((p) => ({
      container: p.container,
      ref: p.ref,
      tag: p.tag,
      manifestDigest: p.manifestDigest,
      originalImage: plan.containers.find((c) => c.name === p.container)?.image ?? '',
      deleted: imagesDeleted,
    })),
    parallel: options.parallel,
    strategy: plan.strategy,
    warnings: progress.snapshot().warnings,
  };
  migrationMetrics.finished({ outcome: 'succeeded', durationMs: result.totalMs, downtimeMs: result.downtimeMs, bytesPushed: result.bytesPushed });
  await Promise.all(announced);
  return result;
}

// ---------------------------------------------------------------------------------------------------------

/** Pre-pulls the base images on the target node(s); returns the nodes whose worker answered. */
async function prepullBaseImages(plan: MigrationPlan, progress: ProgressTracker): Promise<Set<string>> {
  const baseImages = [...new Set(plan.containers.map((c) => c.imageId || c.image))];
  const answering = new Set<string>();
  await Promise.all(
    plan.prepullNodes.map(async (targetNode) => {
      try {
        const queue = nodeTaskQueue(targetExecution(plan).cluster, targetNode);
        const pulled = await proxyActivities<NodeWorkerActivities>(targetNodePrep(queue)).pullImages({ images: baseImages });
        answering.add(targetNode);
        if (pulled.skipped) progress.warn(`base images not pre-pulled: ${pulled.skipped}`);
      } catch (err) {
        if (isCancellation(err)) throw err;
        progress.warn(`base images not pre-pulled on ${targetNode} (the restore pulls them, inside the downtime): ${errorMessage(err)}`);
      }
    }),
  );
  return answering;
}

/**
 * Asks the target node's worker (and the source's, for its CRIU) what their runtimes can restore; refuses
 * (TargetCannotRestore) what the target cannot. A node whose worker does not answer leaves the plan's own
 * checks (the kubelet's report) standing, with a warning.
 */
async function requireTargetCanRestore(plan: MigrationPlan, targetNode: string, progress: ProgressTracker): Promise<void> {
  const describe = async (cluster: string, node: string): Promise<RuntimeDescription | undefined> => {
    try {
      return await proxyActivities<NodeWorkerActivities>(nodeDescription(nodeTaskQueue(cluster, node))).describeRuntime();
    } catch (err) {
      if (isCancellation(err)) throw err;
      progress.warn(`node ${node} of cluster ${cluster} did not say what its runtime can restore (${errorMessage(err)}): the plan's checks stand`);
      return undefined;
    }
  };
  const [restoringAt, runsAt] = [targetExecution(plan), sourceExecution(plan)];
  const sameNode = restoringAt.cluster === runsAt.cluster && targetNode === runsAt.node;
  const target = await describe(restoringAt.cluster, targetNode);
  if (!target) return;
  const source = sameNode ? target : await describe(runsAt.cluster, runsAt.node);
  const { refusal, warnings } = describedRestoreCheck(target, source, sourceRuntimeOf(plan.containers.map((c) => c.containerId)));
  for (const warning of warnings) progress.warn(warning);
  if (refusal) throw ApplicationFailure.nonRetryable(`${refusal.message} (cluster ${restoringAt.cluster})`, refusal.type);
}

/**
 * AdoptByReplicaSet's hand-over (the copy Ready): one patch gives the copy its labels back, so its ReplicaSet
 * adopts it and deletes one pod. Returns when it deleted the source, the commit point (with the time of the
 * hand-over: the copy serves from then on); throws when it deleted the copy or neither in time. Its undo takes
 * the copy back; should the source turn out deleted then, the copy holds the workload: it is handed back,
 * the frozen source killed (killSource), and the undo fails, saying so.
 */
async function handOverToReplicaSet(
  plan: MigrationPlan,
  copy: PodIdentity,
  saga: Saga,
  progress: ProgressTracker,
  killSource: () => Promise<unknown>,
): Promise<number> {
  const { replicaSet } = plan.replicaSetHandOver!;
  const pods: HandOverPods = {
    cluster: plan.source.cluster,
    namespace: plan.source.namespace,
    source: { name: plan.source.pod, uid: plan.source.uid },
    copy: { name: copy.name, migrationId: plan.migrationId, sourceUid: plan.source.uid },
  };
  const labels = plan.sourcePod.metadata.labels ?? {};
  const where = `ReplicaSet ${plan.source.namespace}/${replicaSet.name} in cluster ${plan.source.cluster}`;
  progress.enter('DeletingSource');
  saga.onFailureRestore(TAKE_BACK, async () => {
    const { sourceDeleted } = await targetStop.takeBackFromReplicaSet({ ...pods, labels, timeoutSeconds: TAKE_BACK_SECONDS });
    if (!sourceDeleted) return;
    await clusterPersistent.handOverToReplicaSet({ ...pods, labels });
    progress.sourceOnAbort('kill');
    await killSource();
    throw ApplicationFailure.nonRetryable(
      `${where} deleted the source pod ${plan.source.pod} while the move rolled back: the copy ${copy.name} (node ${copy.node ?? '?'}) runs the workload, ` +
        'handed back to the ReplicaSet; the frozen source was killed',
      'CommittedByReplicaSet',
    );
  });
  await cluster.handOverToReplicaSet({ ...pods, labels });
  const handedOverAt = Date.now();
  const { deleted } = await proxyActivities<OrchestratorActivities>(podWait(HANDOVER_WAIT_SECONDS)).awaitReplicaSetChoice({
    ...pods,
    copyUid: copy.uid,
    timeoutSeconds: HANDOVER_WAIT_SECONDS,
  });
  if (deleted === 'copy') {
    throw ApplicationFailure.nonRetryable(
      `${where} deleted the copy ${copy.name} instead of the frozen source pod ${plan.source.pod} (the copy was not Ready at that instant): the move rolls back`,
      'ReplicaSetDeletedCopy',
    );
  }
  return handedOverAt;
}

/**
 * After its Deployment's scale-down, the source's ReplicaSet deletes its cheapest pod: the frozen source (measured:
 * ~50 ms), unless a sibling not Ready at that instant ranks below it. Should the source still be there, a warning
 * says so; the source is deleted all the same (step 7) and the ReplicaSet replaces the sibling.
 */
async function awaitScaleDownChoice(plan: MigrationPlan, progress: ProgressTracker): Promise<void> {
  const replicaSet = `ReplicaSet ${plan.source.namespace}/${plan.deploymentMove!.source.replicaSet.name} in cluster ${plan.source.cluster}`;
  const notChosen = (why: string) =>
    progress.warn(
      `${replicaSet} ${why}: it may have deleted another of its pods (one not Ready at that instant) instead; podferry deletes the source itself, ` +
        'and the ReplicaSet starts a fresh pod in place of the one it deleted',
    );
  try {
    const { deleted } = await proxyActivities<OrchestratorActivities>(podWait(SCALE_DOWN_SECONDS)).awaitPodDeletion({ ...sourcePodOf(plan), timeoutSeconds: SCALE_DOWN_SECONDS });
    if (!deleted) notChosen(`did not delete the frozen source pod ${plan.source.pod} within ${SCALE_DOWN_SECONDS}s of the scale-down`);
  } catch (err) {
    notChosen(`could not be watched deleting the frozen source pod ${plan.source.pod} (${errorMessage(err)})`);
  }
}

/**
 * Post-copy's undo of the freeze once the target may have run: the source is not resumed (it would run the workload
 * from the freeze instant while the target's effects stand). Its page servers stop (the frozen processes keep their
 * memory, whole), and the undo fails, so that the failure says where the workload is: held frozen at the source.
 */
async function holdSourceAfterTargetRan(plan: MigrationPlan): Promise<never> {
  await endPostCopy(plan, false);
  throw ApplicationFailure.nonRetryable('not resumed: the post-copy target may have run', 'SourceHeld');
}

/** A timer that calls onExpiry after `seconds`, unless cancelled first (at the commit). */
function armFreezeDeadline(seconds: number, onExpiry: () => void): CancellationScope {
  const scope = new CancellationScope();
  scope.run(() => sleep(seconds * 1000)).then(onExpiry, () => undefined);
  return scope;
}

/** The failure a rollback ends with: rolled back (the workload runs again), or what is left and where. */
function rollbackFailure(cause: unknown, report: CompensationReport, state: MigrationState, progress: ProgressTracker): ApplicationFailure {
  const plan = state.plan;
  if (report.workloadRestored) {
    // Every restore succeeded, so what failed are cleanups: things left behind.
    const leftovers = report.failed;
    return ApplicationFailure.create({
      message:
        (state.restoredAtSource
          ? `migration rolled back, the pod was restored from its checkpoint on its source node ${state.restoredAtSource.node ?? ''} and continues where it was: ${errorMessage(cause)}`
          : `migration rolled back, the source pod continues where it was: ${errorMessage(cause)}`) +
        (leftovers.length > 0 ? `. Left behind (clean up by hand): ${leftovers.join('; ')}` : ''),
      type: OUTCOME_FAILURES.rolledBack,
      nonRetryable: true,
      cause: cause as Error,
      details: [progress.snapshot()],
    });
  }
  const runsAt = plan?.source.runsAt;
  const where = plan
    ? `pod ${plan.source.namespace}/${plan.source.pod} (uid ${plan.source.uid}) on node ${plan.source.node} of cluster ${plan.source.cluster}` +
      (runsAt ? ` (running as pod ${runsAt.namespace}/${plan.source.pod}, uid ${runsAt.uid}, on node ${runsAt.node} of cluster ${runsAt.cluster})` : '')
    : 'the source pod';
  // The archives are where the source's containers ran (a pod on a Liqo virtual node: the provider's node).
  const archiveNode = plan ? sourceExecution(plan).node : undefined;
  const offloadedTo = plan?.target.runsAt;
  const images = state.sent.map((p) => p.ref).join(', ');
  const archives = Object.values(state.checkpoints).map((c) => c.archivePath).join(', ');
  const kept = images || archives ? ` Its checkpoint images (${images || 'none'}) and archives on node ${archiveNode} (${archives || 'none'}) were kept.` : '';
  const fence = plan && podNameFenceOf(plan);
  const targetNotStopped = report.failed.find((f) => f.startsWith('stop the target'));
  const heldAfterPostCopy = state.postCopy?.targetCreated && !targetNotStopped;
  const committedByReplicaSet = report.failed.find((f) => f.startsWith(TAKE_BACK));
  const message = committedByReplicaSet
    ? `migration failed (${errorMessage(cause)}) and was not rolled back: ${committedByReplicaSet}.${kept}`
    : heldAfterPostCopy
    ? `post-copy migration failed after the target pod was created (${errorMessage(cause)}): the target ran from its lazy restore, so the source is not resumed. ` +
      `The target pod was stopped. The source ${where} is held frozen with all its memory, as at the freeze${state.frozenAt ? ` (${new Date(state.frozenAt).toISOString()})` : ''}: ` +
      `podferry resume ${plan?.migrationId} runs it again from there (what the target did since is lost), deleting it gives the workload up.${kept}`
    : targetNotStopped
    ? `migration failed (${errorMessage(cause)}) and the target pod could not be proven stopped (${targetNotStopped}): so that the workload never runs twice, ` +
      `the source ${where} stays frozen and locked.${kept} Check the target pod ${plan?.source.pod} in ${plan?.target.cluster}/${plan?.target.namespace}` +
      `${offloadedTo ? ` and the pod Liqo runs for it in ${offloadedTo.cluster}/${offloadedTo.namespace}` : ''}: ` +
      'once it is gone and none of its containers runs on its node, delete it there if needed and resume the source (or delete the source if the target runs).'
    : report.failed.some((f) => f.startsWith('restore'))
      ? `migration failed (${errorMessage(cause)}) and could not be fully rolled back (${report.failed.join('; ')}). The source pod was deleted and could not be restored: ` +
        `the workload is in its checkpoint images ${images} and archives on node ${archiveNode} (${archives}), which were kept` +
        `${state.pullSecret ? ` with the pull secret ${plan?.pullSecret} that pulls the images` : ''}; create the pod from them to restore it.` +
        (fence ? ` Its name stays fenced, so that StatefulSet ${plan?.statefulSet?.statefulSet.name} starts no fresh pod of it; once the workload runs again (or to let the StatefulSet start a fresh one): ${liftFenceByHand(fence.cluster, fence.namespace, fence.pod)}.` : '')
      : `migration failed (${errorMessage(cause)}) and the source could not be resumed (${report.failed.join('; ')}): ${where} may still be frozen; ` +
        "its node worker's safety net thaws it once this migration has ended." + kept;
  // No cleanup ran: a Deployment's move leaves the target's ReplicaSet unable to create pods until its fence goes.
  const prepared = state.targetDeployment;
  const ownerFenced = prepared
    ? ` The pods of ReplicaSet ${plan?.target.namespace}/${prepared.replicaSet.name} in cluster ${plan?.target.cluster} stay fenced` +
      `${prepared.created ? ` (and Deployment ${plan?.deploymentMove?.deployment}, made for the move with 0 replicas, stays)` : ''}; once the workload is settled: ` +
      `${liftFenceByHand(plan!.target.cluster, plan!.target.namespace, ownerFenceKey(prepared.replicaSet.uid))}.`
    : '';
  const madeStatefulSet = state.targetStatefulSet?.created
    ? ` StatefulSet ${plan?.target.namespace}/${plan?.statefulSetMove?.statefulSet.name} in cluster ${plan?.target.cluster}, made for the move with no replicas, stays.`
    : '';
  return ApplicationFailure.create({ message: message + ownerFenced + madeStatefulSet, type: OUTCOME_FAILURES.failed, nonRetryable: true, cause: cause as Error, details: [progress.snapshot()] });
}

/**
 * Deletes the frozen source pod: request the deletion (so the kubelet does not restart what dies), kill the
 * frozen processes (a frozen task cannot exit on its own), then wait until the pod object is gone. Inside
 * the downtime (DeleteThenCreate) the object is removed at once (grace period 0) once its processes are
 * dead, instead of waiting for the kubelet to report them: the kubelet cleans up the rest on its own.
 */
async function deleteFrozenSource(
  plan: MigrationPlan,
  api: Pick<OrchestratorActivities, 'deletePod'>,
  node: Pick<NodeWorkerActivities, 'killFrozenPod'>,
  fence: number,
  options: { removeAtOnce?: boolean } = {},
): Promise<void> {
  const sourcePod = sourcePodOf(plan);
  await requestSourceDeletion(plan, api);
  await node.killFrozenPod({ podUid: sourceExecution(plan).uid, containerIds: plan.containers.map((c) => c.containerId), migrationId: plan.migrationId, fence });
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
  node: Pick<NodeWorkerActivities, 'killFrozenPod' | 'importCheckpointImage' | 'importLocalCheckpointImage'>,
  nextFence: () => number,
  imageOf: (container: string) => CheckpointArchiveImageInput,
): Promise<PodIdentity | undefined> {
  const source = sourcePodOf(plan);
  const lifecycle = await clusterPersistent.podLifecycle(source);
  if (lifecycle === 'present') return undefined;
  if (lifecycle === 'terminating') await deleteFrozenSource(plan, clusterPersistent, node, nextFence());
  // Images sent node to node exist only at the target: the source node imports them from its own archives
  // (runs recorded before that fetched them again from its own offers).
  const direct = sent.filter((s) => s.offerUrl);
  if (patched(SOURCE_RESTORE_FROM_OWN_ARCHIVES)) {
    await Promise.all(direct.map((s) => node.importLocalCheckpointImage({ ...imageOf(s.container), ref: s.ref })));
  } else {
    const { cluster, node: offeringNode } = sourceExecution(plan);
    const offeredBy = { cluster, node: offeringNode };
    await Promise.all(direct.map((s) => node.importCheckpointImage({ container: s.container, url: s.offerUrl!, ref: s.ref, source: offeredBy })));
  }
  const atSource = { ...plan, target: { cluster: source.cluster, namespace: source.namespace, node: plan.source.node }, targetNodeTaints: [] };
  const images = Object.fromEntries(sent.map((s) => [s.container, s.ref]));
  const restored = await clusterPersistent.createTargetPod({ plan: atSource, images });
  if (restored.node !== plan.source.node) {
    // createTargetPod returns an existing pod of this migration: the failed target still holds the name.
    throw ApplicationFailure.nonRetryable(`the name ${source.name} is still held by the failed target pod on ${restored.node ?? 'no node'}`, 'NameStillHeld');
  }
  const ready = await proxyActivities<OrchestratorActivities>(podWait(readyTimeoutSeconds)).waitPodReady({
    cluster: source.cluster,
    namespace: source.namespace,
    name: source.name,
    timeoutSeconds: readyTimeoutSeconds,
  });
  return { ...restored, uid: ready.uid || restored.uid };
}

/**
 * Requests the source pod's deletion, so that no kubelet restarts what the kill ends. A pod on a Liqo virtual
 * node runs in the provider, whose kubelet learns of it only when Liqo deletes the pod there in turn: that
 * pod's deletion is requested at once too.
 */
async function requestSourceDeletion(plan: MigrationPlan, api: Pick<OrchestratorActivities, 'deletePod'>): Promise<void> {
  await api.deletePod({ ...sourcePodOf(plan), waitSeconds: 0 });
  const runsAt = plan.source.runsAt;
  if (runsAt) await api.deletePod({ cluster: runsAt.cluster, namespace: runsAt.namespace, name: plan.source.pod, uid: runsAt.uid, waitSeconds: 0 });
}

/** The fenced pod name of a StatefulSet's pod (plan.statefulSet), or undefined. */
function podNameFenceOf(plan: MigrationPlan): PodNameFenceInput | undefined {
  return plan.statefulSet ? { cluster: plan.source.cluster, namespace: plan.source.namespace, pod: plan.source.pod, migrationId: plan.migrationId } : undefined;
}

/** The source pod as the Kubernetes activities name it. */
function sourcePodOf(plan: MigrationPlan): { cluster: string; namespace: string; name: string; uid: string } {
  return { cluster: plan.source.cluster, namespace: plan.source.namespace, name: plan.source.pod, uid: plan.source.uid };
}

/** What the source node needs to make a container's checkpoint image (once planned and checkpointed). */
function checkpointImageOf(state: MigrationState, container: string) {
  return {
    migrationId: state.plan!.migrationId,
    container,
    archivePath: state.checkpoints[container]!.archivePath,
    originalImage: state.plan!.containers.find((c) => c.name === container)?.image,
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
