// The node's safety net for pods left frozen. The migration's workflow thaws or kills the source pod it froze,
// but a workflow that is terminated, times out, or whose thaw never reaches the node leaves the pod frozen
// for good. So the node worker (on start and every node.sweepIntervalSeconds) looks at each pod it still
// holds frozen once its sweepAt has passed, and asks Temporal about the workflow (its id is the migration id):
//   running              the workflow owns the pod: leave it;
//   completed            the migration committed: kill the source;
//   closed otherwise     do what the workflow's memo `sourceOnAbort` says (kept up to date by the workflow):
//                        'thaw' (no target pod yet) thaw, 'kill' (after the commit) kill, 'hold' (a target pod
//                        may run from the checkpoint: the source must not run too) or nothing: leave it frozen
//                        and tell the operator once;
//   not found            as 'hold'.
// It acts through the same fenced thaw and kill as the workflow, one fence above the record's, so a late call
// of the workflow cannot undo what the sweeper decided. It also forgets thawed and killed records after a day.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { FencedPodInput } from '../activities/node.js';
import { SOURCE_ON_ABORT_MEMO } from '../workflows/definitions.js';
import type { FrozenPodRecord, FrozenPodRecords } from './frozen-pods.js';
import { repeatRounds } from './sweep-loop.js';

export interface WorkflowDescription {
  /** Temporal's status name: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW, … */
  status: string;
  memo?: Record<string, unknown>;
}

/** The workflow with this id, or undefined if Temporal does not know it. */
export type DescribeWorkflow = (workflowId: string) => Promise<WorkflowDescription | undefined>;

export type SweepAction = 'leave' | 'thaw' | 'kill' | 'hold';

export interface SweepOutcome {
  podUid: string;
  migrationId: string;
  /** The workflow's status, or NOT_FOUND. */
  status: string;
  action: SweepAction;
}

const FORGET_AFTER_MS = 24 * 60 * 60 * 1000;
const OPEN = new Set(['RUNNING', 'PAUSED']);
const CLOSED_WITHOUT_COMMIT = new Set(['FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW']);

/** What to do with a pod still frozen, given its workflow, and why. */
export function sweepDecision(workflow: WorkflowDescription | undefined): { action: SweepAction; why: string } {
  if (!workflow) return { action: 'hold', why: 'Temporal does not know its workflow (past retention?), so nothing says whether a target pod runs' };
  if (OPEN.has(workflow.status)) return { action: 'leave', why: 'its workflow is still open and owns the pod' };
  if (workflow.status === 'COMPLETED') return { action: 'kill', why: 'the migration committed' };
  if (!CLOSED_WITHOUT_COMMIT.has(workflow.status)) return { action: 'hold', why: `its workflow status ${workflow.status} says nothing about the source` };
  const onAbort = workflow.memo?.[SOURCE_ON_ABORT_MEMO];
  if (onAbort === 'thaw') return { action: 'thaw', why: `memo ${SOURCE_ON_ABORT_MEMO}=thaw (no target pod was created)` };
  if (onAbort === 'kill') return { action: 'kill', why: `memo ${SOURCE_ON_ABORT_MEMO}=kill (the migration had committed)` };
  if (onAbort === 'hold') return { action: 'hold', why: `memo ${SOURCE_ON_ABORT_MEMO}=hold (a target pod may run from the checkpoint)` };
  const found = onAbort === undefined ? 'missing' : `${JSON.stringify(onAbort)}, not thaw, hold or kill`;
  return { action: 'hold', why: `its memo ${SOURCE_ON_ABORT_MEMO} is ${found}, so nothing says whether a target pod runs` };
}

/** DescribeWorkflow through Temporal. */
export function describeWithTemporal(client: Client): DescribeWorkflow {
  return async (workflowId) => {
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      return { status: description.status.name, memo: description.memo };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
}

export interface FrozenPodSweeperDeps {
  records: FrozenPodRecords;
  thawPod(input: FencedPodInput): Promise<unknown>;
  killFrozenPod(input: FencedPodInput): Promise<unknown>;
  describeWorkflow: DescribeWorkflow;
  log?: (line: string) => void;
}

export function createFrozenPodSweeper(deps: FrozenPodSweeperDeps) {
  const log = deps.log ?? ((line: string) => console.log(line));
  /** Held pods already reported (once each, not every round). */
  const reported = new Set<string>();

  /** One look at every record; returns what it decided for each frozen pod that was due. */
  async function sweepOnce(now = Date.now()): Promise<SweepOutcome[]> {
    const outcomes: SweepOutcome[] = [];
    for (const podUid of await deps.records.podUids()) {
      try {
        const record = await deps.records.read(podUid);
        if (!record) continue;
        if (record.state !== 'frozen') {
          await deps.records.removeIf(podUid, (current) => current.state !== 'frozen' && now - current.updatedAt > FORGET_AFTER_MS);
        } else if (record.sweepAt === undefined || record.sweepAt <= now) {
          outcomes.push(await sweepFrozen(record));
        }
      } catch (err) {
        log(`frozen-pod sweeper: pod uid ${podUid}: ${(err as Error).message}; trying again next round`);
      }
    }
    return outcomes;
  }

  async function sweepFrozen(record: FrozenPodRecord): Promise<SweepOutcome> {
    const workflow = await deps.describeWorkflow(record.migrationId);
    const status = workflow?.status ?? 'NOT_FOUND';
    const { action, why } = sweepDecision(workflow);
    const outcome = { podUid: record.podUid, migrationId: record.migrationId, status, action };
    const input = { podUid: record.podUid, containerIds: record.containerIds, migrationId: record.migrationId, fence: record.fence + 1 };
    const about = `pod uid ${record.podUid}, migration ${record.migrationId}, workflow ${status}`;
    if (action === 'thaw') {
      await deps.thawPod(input);
      log(`frozen-pod sweeper: ${about}: ${why}: thawed it (fence ${input.fence})`);
    } else if (action === 'kill') {
      await deps.killFrozenPod(input);
      log(`frozen-pod sweeper: ${about}: ${why}: killed it (fence ${input.fence})`);
    } else if (action === 'hold') {
      const key = `${record.migrationId}/${record.podUid}/${record.fence}`;
      if (!reported.has(key)) {
        reported.add(key);
        log(
          `frozen-pod sweeper: ${about}: leaving the pod frozen because ${why}. Operator: check whether that migration's target pod runs; ` +
            `if it does, delete the source pod (it must not run twice); if not, resume the source's containers (${record.containerIds.join(', ')})`,
        );
      }
    }
    return outcome;
  }

  /** Sweeps now, then every `intervalMs` until stop() (which waits for a round under way). */
  function start(intervalMs: number): { stop(): Promise<void> } {
    return repeatRounds(sweepOnce, intervalMs, (err) =>
      log(`frozen-pod sweeper: cannot read the records in ${deps.records.dir}: ${err.message}; trying again in ${intervalMs / 1000} s`),
    );
  }

  return { sweepOnce, start };
}

export type FrozenPodSweeper = ReturnType<typeof createFrozenPodSweeper>;
