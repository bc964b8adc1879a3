// drainNode: empties a node by migrating its pods elsewhere, as migratePod children.
//
//   validate → cordon → list pods → split (migratable / skipped with the reason) → migratePod children,
//   at most `concurrency` at a time → mark moved pods → report
//
// The cordon and its undo. The node is cordoned first so nothing new lands on it while it empties. It is
// uncordoned again (only if this drain cordoned it) when the drain moved nothing and did not finish: then
// the drain changed nothing, and leaving the node cordoned would only take capacity away. As soon as one pod
// has moved, or when nothing had to move, the node stays cordoned: the operator drains it to do maintenance,
// and an uncordoned half-drained node would take new pods. Every failed or skipped pod is in the report
// with its reason; `kubectl uncordon` gives the node back.
import {
  ApplicationFailure,
  CancellationScope,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { DrainNodeInput, LAST_MIGRATED_AT_ANNOTATION, type DrainNodeRequest, type DrainProgress, type DrainReport, type FailedPod, type MovedPod } from '../api/drain.js';
import { errorMessage, failureOf } from '../api/failures.js';
import { describeIssues, type MigratePodRequest } from '../api/migration.js';
import { batchesByOwner, isComplete, splitNodePods } from '../planning/drain.js';
import type { PodSummary } from '../planning/pod-summary.js';
import { migratePod } from './migrate-pod.js';
import { childMigrationId, drainProgressQuery, inProgress, isAlreadyRunning } from './operations-definitions.js';
import { OPERATIONS_API_CALL, UNCORDON } from './timing.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';

const api = proxyActivities<OrchestratorActivities>(OPERATIONS_API_CALL);
const undoApi = proxyActivities<OrchestratorActivities>(UNCORDON);

// ---------------------------------------------------------------------------------------------------------

export async function drainNode(request: DrainNodeRequest): Promise<DrainReport> {
  const parsed = DrainNodeInput.safeParse(request);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid input: ${describeIssues(parsed.error)}`, 'InvalidInput', parsed.error.issues);
  }
  const input = parsed.data;
  const drainId = workflowInfo().workflowId;
  const node = { cluster: input.source.cluster, node: input.source.node };
  const targetCluster = input.target.cluster ?? input.source.cluster;
  const progress: DrainProgress = { phase: 'Validating', pending: [], running: [], moved: [], skipped: [], failed: [] };
  setHandler(drainProgressQuery, () => progress);
  // The Web UI shows this (and `podferry drain --wait` the query): which pods wait, run, moved, failed, skipped.
  const publish = () =>
    setCurrentDetails(
      [
        `**Drain** ${node.cluster}/${node.node} → ${targetCluster}: **${progress.phase}**`,
        '',
        '| pod | state | detail |',
        '| --- | --- | --- |',
        ...progress.running.map((r) => `| ${r.namespace}/${r.name} | migrating | ${r.migrationId} |`),
        ...progress.pending.map((p) => `| ${p.namespace}/${p.name} | waiting | |`),
        ...progress.moved.map((m) => `| ${m.namespace}/${m.name} | moved | ${m.migrationId} |`),
        ...progress.failed.map((f) => `| ${f.namespace}/${f.name} | failed | ${f.type ?? ''}: ${f.reason.replace(/\|/g, '/')} |`),
        ...progress.skipped.map((k) => `| ${k.namespace}/${k.name} | skipped | ${k.type}: ${k.reason.replace(/\|/g, '/')} |`),
      ].join('\n'),
    );
  const warnings: string[] = [];

  // 1. Cordon. An unknown node fails here, before anything changed.
  progress.phase = 'Cordoning';
  publish();
  let cordonedByDrain = false;
  try {
    cordonedByDrain = !(await api.cordonNode(node)).wasUnschedulable;
  } catch (err) {
    throw asFailure(err, `cannot cordon node ${node.node} in cluster ${node.cluster}`);
  }

  const giveBackIfUnchanged = async (complete: boolean): Promise<boolean> => {
    if (!cordonedByDrain || progress.moved.length > 0 || complete) return true;
    progress.phase = 'Uncordoning';
    await CancellationScope.nonCancellable(() => undoApi.uncordonNode(node));
    return false;
  };

  try {
    // 2. What is on the node, and what can leave it.
    progress.phase = 'Listing';
    const pods = await api.listNodePods({ ...node, ...(input.podSelector ? { labelSelector: input.podSelector } : {}) });
    const split = splitNodePods(pods);
    progress.skipped.push(...split.skipped);
    progress.pending.push(...split.migratable.map((p) => ({ namespace: p.namespace, name: p.name })));

    // 3. Migrate, at most `concurrency` at a time (a pool of lanes taking the next batch when one is done:
    //    a ReplicaSet's pods are one batch, moved one after another, and so are a StatefulSet's leaving the cluster).
    progress.phase = 'Migrating';
    publish();
    const queue = batchesByOwner(split.migratable, targetCluster);
    const lane = async () => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) for (const pod of batch) await moveOne(pod);
    };
    const moveOne = async (pod: PodSummary) => {
      const ref = { namespace: pod.namespace, name: pod.name };
      const migrationId = childMigrationId({ cluster: node.cluster, namespace: pod.namespace, name: pod.name });
      progress.pending = progress.pending.filter((p) => p.namespace !== pod.namespace || p.name !== pod.name);
      progress.running.push({ ...ref, migrationId });
      publish();
      try {
        const childInput: MigratePodRequest = {
          source: { cluster: node.cluster, namespace: pod.namespace, pod: pod.name },
          target: { cluster: targetCluster, ...(input.target.node ? { node: input.target.node } : {}) },
          options: input.options,
        };
        const result = await executeChild(migratePod, {
          args: [childInput],
          workflowId: migrationId,
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          // A drain that is terminated must not leave a frozen pod behind: its children roll back.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          memo: {
            source: `${node.cluster}/${pod.namespace}/${pod.name}`,
            target: `${targetCluster}/${pod.namespace}${input.target.node ? ` (node ${input.target.node})` : ''}`,
            phase: 'Pending',
            drain: drainId,
          },
        });
        const moved: MovedPod = {
          ...ref,
          migrationId,
          targetCluster,
          ...(result.target.name !== pod.name ? { targetName: result.target.name } : {}),
          ...(result.target.node ? { targetNode: result.target.node } : {}),
          downtimeMs: result.downtimeMs,
        };
        progress.moved.push(moved);
        try {
          await api.markMigrated({ cluster: targetCluster, namespace: pod.namespace, name: result.target.name, at: new Date().toISOString() });
        } catch (err) {
          warnings.push(`pod ${pod.namespace}/${result.target.name} moved but ${LAST_MIGRATED_AT_ANNOTATION} was not written: ${errorMessage(err)}`);
        }
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failed: FailedPod = { ...ref, migrationId, ...(isAlreadyRunning(err) ? inProgress(migrationId) : failureOf(err)) };
        progress.failed.push(failed);
      } finally {
        progress.running = progress.running.filter((r) => r.migrationId !== migrationId);
        publish();
      }
    };
    const lanes = await Promise.allSettled(Array.from({ length: Math.min(input.concurrency, queue.length) }, lane));
    const cancelled = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (cancelled) throw cancelled.reason;

    // 4. Report; give the node back if the drain changed nothing.
    const complete = isComplete(progress.skipped, progress.failed);
    const cordoned = await giveBackIfUnchanged(complete);
    if (!cordoned) warnings.push(`node ${node.node} was uncordoned again: no pod could be moved`);
    progress.phase = 'Done';
    publish();
    return {
      drainId,
      cluster: node.cluster,
      node: node.node,
      targetCluster,
      cordonedByDrain,
      cordoned,
      complete,
      moved: progress.moved,
      skipped: progress.skipped,
      failed: progress.failed,
      warnings,
    };
  } catch (err) {
    // Listing failed, or the drain was cancelled: children roll themselves back; the node is given back
    // unless a pod already left it.
    await giveBackIfUnchanged(false);
    throw err;
  }
}

/** An activity failure as the workflow's own non-retryable failure, keeping the activity's type (e.g. UnknownNode). */
function asFailure(err: unknown, context: string): ApplicationFailure {
  if (isCancellation(err)) throw err;
  const inner = failureOf(err);
  return ApplicationFailure.create({ message: `${context}: ${inner.reason}`, type: inner.type ?? 'DrainFailed', nonRetryable: true, cause: err as Error });
}
