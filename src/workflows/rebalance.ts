// rebalance: one run of scheduled edge rebalancing (a Temporal Schedule starts it; overlap SKIP).
//
//   read the placement policy → list candidate pods in its clusters, and their free capacity → plan (pure:
//   preferred cluster, eligibility, cool-down, per-cluster limit, capacity) → migratePod children for the planned moves (none in
//   dry-run) → mark moved pods (podferry.io/last-migrated-at) → summary
//
// Nothing to undo at this level: each child is its own saga and rolls itself back; a failed child is
// reported with its reason and the other moves go on. The cool-down clock lives on the pod itself (the
// annotation), so it holds across runs, schedules and workers.
import {
  ApplicationFailure,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { failureOf } from '../api/failures.js';
import { describeIssues, type MigratePodRequest } from '../api/migration.js';
import {
  labelSelector,
  PlacementPolicy,
  RebalanceInput,
  type PlannedMove,
  type RebalanceRequest,
  type RebalanceSummary,
} from '../api/placement-policy.js';
import { annotationKeys, planRebalance } from '../planning/rebalance.js';
import { migratePod } from './migrate-pod.js';
import { childMigrationId, inProgress, isAlreadyRunning } from './operations-definitions.js';
import { OPERATIONS_API_CALL } from './timing.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';

const api = proxyActivities<OrchestratorActivities>(OPERATIONS_API_CALL);

export async function rebalance(request: RebalanceRequest): Promise<RebalanceSummary> {
  const parsed = RebalanceInput.safeParse(request);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid input: ${describeIssues(parsed.error)}`, 'InvalidInput', parsed.error.issues);
  }
  const input = parsed.data;
  const runId = workflowInfo().workflowId;

  // 1. The policy: written into the schedule, or read from its ConfigMap at every run (edits apply next run).
  const source = input.policy;
  let document: unknown;
  let policySource: string;
  if ('inline' in source) {
    document = source.inline;
    policySource = 'inline';
  } else {
    const ref = source.configMap;
    policySource = `configmap ${ref.cluster}/${ref.namespace}/${ref.name}#${ref.key}`;
    document = await api.readPolicyConfigMap(ref);
  }
  const policyParsed = PlacementPolicy.safeParse(document);
  if (!policyParsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid placement policy (${policySource}): ${describeIssues(policyParsed.error)}`, 'InvalidPolicy', policyParsed.error.issues);
  }
  const policy = policyParsed.data;
  const dryRun = input.dryRun ?? policy.guards.dryRun;

  // 2. Candidates, 3. the plan.
  const pods = await api.listCandidatePods({
    clusters: policy.clusters,
    labelSelector: labelSelector(policy),
    ...(policy.selector.namespaces ? { namespaces: policy.selector.namespaces } : {}),
    annotationKeys: annotationKeys(policy),
  });
  const capacity = policy.guards.respectCapacity ? await api.clusterCapacity({ clusters: policy.clusters }) : undefined;
  const plan = planRebalance(pods, policy, Date.now(), capacity);
  const summary: RebalanceSummary = { runId, dryRun, policySource, candidates: pods.length, planned: plan.moves, moved: [], skipped: plan.skipped, failed: [] };
  if (dryRun) return summary;

  // 4. The moves, all at once: the plan already holds each cluster to guards.maxConcurrentPerCluster.
  await Promise.all(
    plan.moves.map(async (move: PlannedMove) => {
      const migrationId = childMigrationId({ cluster: move.from, namespace: move.namespace, name: move.name });
      const childInput: MigratePodRequest = {
        source: { cluster: move.from, namespace: move.namespace, pod: move.name },
        target: { cluster: move.to, ...(move.toNode ? { node: move.toNode } : {}) },
        options: policy.options,
      };
      try {
        const result = await executeChild(migratePod, {
          args: [childInput],
          workflowId: migrationId,
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          memo: { source: `${move.from}/${move.namespace}/${move.name}`, target: `${move.to}/${move.namespace}`, phase: 'Pending', rebalance: runId },
        });
        summary.moved.push({ ...move, migrationId, downtimeMs: result.downtimeMs });
      } catch (err) {
        if (isCancellation(err)) throw err;
        summary.failed.push({ ...move, migrationId, ...(isAlreadyRunning(err) ? inProgress(migrationId) : failureOf(err)) });
        return;
      }
      try {
        await api.markMigrated({ cluster: move.to, namespace: move.namespace, name: move.name, at: new Date().toISOString() });
      } catch (err) {
        // The move happened; without the mark the cool-down cannot hold: say so in the summary.
        summary.failed.push({ ...move, migrationId, type: 'NotMarked', reason: `moved, but podferry.io/last-migrated-at was not written: ${failureOf(err).reason}` });
      }
    }),
  );
  return summary;
}

