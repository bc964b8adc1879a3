// The typed API of the operations on top of migratePod: start a drain, and manage rebalancing schedules.
// The CLI (src/cli/operations.ts) is built on it.
import { ScheduleOverlapPolicy, type Client, type ScheduleDescription, type WorkflowHandle } from '@temporalio/client';
import { DrainNodeInput, type DrainNodeRequest, type DrainProgress } from '../api/drain.js';
import { describeIssues } from '../api/migration.js';
import { describeFailure } from './migrations.js';
import { DEFAULT_TASK_QUEUE } from '../api/names.js';
import { RebalanceInput, type RebalanceRequest } from '../api/placement-policy.js';
import type { drainNode } from '../workflows/drain-node.js';
import { DRAIN_WORKFLOW_TYPE, drainProgressQuery, REBALANCE_WORKFLOW_TYPE } from '../workflows/operations-definitions.js';
import type { rebalance } from '../workflows/rebalance.js';
import type { RebalanceSummary } from '../api/placement-policy.js';

export type DrainHandle = WorkflowHandle<typeof drainNode>;

export class InvalidOperationInput extends Error {
  override name = 'InvalidOperationInput';
}

export async function startDrain(client: Client, request: DrainNodeRequest, options: { taskQueue?: string; drainId?: string } = {}): Promise<DrainHandle> {
  const parsed = DrainNodeInput.safeParse(request);
  if (!parsed.success) throw new InvalidOperationInput(`invalid drain input: ${describeIssues(parsed.error)}`);
  const { source } = parsed.data;
  return client.workflow.start<typeof drainNode>(DRAIN_WORKFLOW_TYPE, {
    args: [request],
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowId: options.drainId ?? `podferry-drain-${source.cluster}-${source.node}-${Date.now().toString(36)}`,
    memo: { node: `${source.cluster}/${source.node}` },
  });
}

export async function getDrainProgress(handle: DrainHandle): Promise<DrainProgress> {
  return handle.query(drainProgressQuery);
}

// ---- Schedules ------------------------------------------------------------------------------------------

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `30s`, `10m`, `1h`, `1d` → ms; at least a minute (a rebalance run lists every cluster's pods). */
export function parseEvery(every: string): number {
  const match = DURATION.exec(every.trim());
  if (!match) throw new InvalidOperationInput(`--every: expected a duration like 10m, 1h or 1d, got "${every}"`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms < 60_000) throw new InvalidOperationInput(`--every: at least 1m (got ${every}): each run lists the pods of every cluster of the policy`);
  return ms;
}

const SCHEDULE_ID = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface CreateRebalanceScheduleOptions {
  scheduleId: string;
  input: RebalanceRequest;
  everyMs: number;
  taskQueue?: string;
  /** Shown by `schedule list`. */
  description: string;
  /** Whether runs only report (shown by `schedule list`); default: input.dryRun. */
  dryRun?: boolean;
}

export async function createRebalanceSchedule(client: Client, options: CreateRebalanceScheduleOptions) {
  if (!SCHEDULE_ID.test(options.scheduleId)) {
    throw new InvalidOperationInput(`schedule id "${options.scheduleId}": lower-case letters, digits and dashes, at most 63`);
  }
  const parsed = RebalanceInput.safeParse(options.input);
  if (!parsed.success) throw new InvalidOperationInput(`invalid rebalance input: ${describeIssues(parsed.error)}`);
  return client.schedule.create<typeof rebalance>({
    scheduleId: options.scheduleId,
    spec: { intervals: [{ every: options.everyMs }] },
    action: {
      type: 'startWorkflow',
      workflowType: REBALANCE_WORKFLOW_TYPE,
      args: [options.input],
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId: `rebalance-${options.scheduleId}`,
    },
    // A run never starts while the previous one still runs: two runs would plan the same pods.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
    memo: { policy: options.description, dryRun: options.dryRun ?? Boolean(options.input.dryRun) },
  });
}

export interface RebalanceScheduleSummary {
  scheduleId: string;
  every: string;
  paused: boolean;
  overlap: string;
  policy?: string;
  dryRun?: boolean;
  nextRun?: Date;
  lastRun?: { at: Date; workflowId: string };
}

export function summarizeSchedule(description: ScheduleDescription): RebalanceScheduleSummary {
  const interval = description.spec.intervals?.[0];
  const memo = (description.memo ?? {}) as { policy?: string; dryRun?: boolean };
  const last = description.info.recentActions.at(-1);
  return {
    scheduleId: description.scheduleId,
    every: interval ? formatMs(Number(interval.every)) : '',
    paused: description.state.paused,
    overlap: String(description.policies.overlap),
    ...(memo.policy !== undefined ? { policy: memo.policy } : {}),
    ...(memo.dryRun !== undefined ? { dryRun: memo.dryRun } : {}),
    ...(description.info.nextActionTimes[0] ? { nextRun: description.info.nextActionTimes[0] } : {}),
    ...(last ? { lastRun: { at: last.takenAt, workflowId: last.action.workflow.workflowId } } : {}),
  };
}

/** Rebalancing schedules (those whose action starts the rebalance workflow). */
export async function listRebalanceSchedules(client: Client): Promise<RebalanceScheduleSummary[]> {
  const out: RebalanceScheduleSummary[] = [];
  for await (const schedule of client.schedule.list()) {
    if (schedule.action?.type === 'startWorkflow' && schedule.action.workflowType !== REBALANCE_WORKFLOW_TYPE) continue;
    out.push(summarizeSchedule(await client.schedule.getHandle(schedule.scheduleId).describe()));
  }
  return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

function formatMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

export interface RebalanceRun {
  workflowId: string;
  startedAt: Date;
  status: string;
  summary?: RebalanceSummary;
  error?: string;
}

/** The schedule's recent runs (Temporal keeps the last ten), newest first, with each finished run's summary. */
export async function recentRebalanceRuns(client: Client, scheduleId: string): Promise<RebalanceRun[]> {
  const description = await client.schedule.getHandle(scheduleId).describe();
  const runs: RebalanceRun[] = [];
  for (const action of [...description.info.recentActions].reverse()) {
    const handle = client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
    const status = (await handle.describe()).status.name;
    const run: RebalanceRun = { workflowId: handle.workflowId, startedAt: action.takenAt, status };
    if (status === 'COMPLETED') run.summary = (await handle.result()) as RebalanceSummary;
    else if (status !== 'RUNNING') run.error = await handle.result().then(() => '', (err: unknown) => describeFailure(err).chain.join(': '));
    runs.push(run);
  }
  return runs;
}
