// The typed programmatic API: start a migration, watch its progress, get its result, list migrations.
// The CLI is built on it; so can any other program.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import {
  describeIssues,
  MigratePodInput,
  MigrationId,
  type MigratePodRequest,
  type MigrationProgress,
  type MigrationResult,
} from '../api/migration.js';
import { errorChain } from '../api/failures.js';
import { resumeWorkflowId, type ResumedSource } from '../api/held-source.js';
import { DEFAULT_TASK_QUEUE, WORKFLOW_TYPE } from '../api/names.js';
import { progressQuery, SEARCH_ATTRIBUTES } from '../workflows/definitions.js';
import type { migratePod } from '../workflows/migrate-pod.js';
import type { resumeSource } from '../workflows/resume-source.js';

export type MigrationHandle = WorkflowHandle<typeof migratePod>;

export class InvalidMigrationInput extends Error {
  override name = 'InvalidMigrationInput';
}

export class MigrationInProgress extends Error {
  override name = 'MigrationInProgress';
}

export interface StartMigrationOptions {
  taskQueue?: string;
  /**
   * Default: podferry-<cluster>-<namespace>-<pod>, the same for every migration of that pod, so Temporal
   * lets only one of them run at a time (two migrations freezing and moving one pod would fight).
   */
  migrationId?: string;
}

/** The id itself when it is a valid migration id; otherwise InvalidMigrationInput naming it and why. */
export function checkedMigrationId(id: string): string {
  const parsed = MigrationId.safeParse(id);
  if (!parsed.success) throw new InvalidMigrationInput(`invalid migration id ${JSON.stringify(id)}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The default migration id: one per source pod, so at most one migration of a pod runs at a time. */
export function defaultMigrationId(source: { cluster: string; namespace: string; pod: string }): string {
  return `podferry-${source.cluster}-${source.namespace}-${source.pod}`;
}

export async function startMigration(client: Client, request: MigratePodRequest, options: StartMigrationOptions = {}): Promise<MigrationHandle> {
  // Validate here too, so a caller learns about a typo without a workflow being started.
  const parsed = MigratePodInput.safeParse(request);
  if (!parsed.success) throw new InvalidMigrationInput(`invalid migration input: ${describeIssues(parsed.error)}`);
  const input = parsed.data;
  const migrationId = checkedMigrationId(options.migrationId ?? defaultMigrationId(input.source));
  const source = `${input.source.cluster}/${input.source.namespace}/${input.source.pod}`;
  const target = `${input.target.cluster}/${input.target.namespace ?? input.source.namespace}${input.target.node ? ` (node ${input.target.node})` : ''}`;
  const searchAttributes = (await searchAttributesRegistered(client))
    ? ([
        { key: SEARCH_ATTRIBUTES.sourceCluster, value: input.source.cluster },
        { key: SEARCH_ATTRIBUTES.targetCluster, value: input.target.cluster },
        { key: SEARCH_ATTRIBUTES.phase, value: 'Pending' },
      ] satisfies SearchAttributePair[])
    : undefined;
  try {
    return await client.workflow.start<typeof migratePod>(WORKFLOW_TYPE, {
      args: [request],
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId: migrationId,
      // A finished migration's id may be used again; a running one blocks a second start.
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      memo: { source, target, phase: 'Pending' },
      ...(searchAttributes ? { typedSearchAttributes: searchAttributes } : {}),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new MigrationInProgress(
        `a migration of ${source} is already running (${migrationId}): follow it with \`podferry status ${migrationId}\` ` +
          `or stop it with \`podferry cancel ${migrationId}\``,
      );
    }
    throw err;
  }
}

/**
 * Resumes the source a failed migration kept frozen (see src/workflows/resume-source.ts), once the migration
 * has ended: a running one still decides about its source.
 */
export async function resumeHeldSource(client: Client, migrationId: string, options: { taskQueue?: string } = {}): Promise<ResumedSource> {
  checkedMigrationId(migrationId);
  const status = await client.workflow
    .getHandle(migrationId)
    .describe()
    .then((d) => d.status.name, () => undefined);
  if (status === 'RUNNING') {
    throw new MigrationInProgress(`migration ${migrationId} is still running and decides about its source: wait for it (podferry status ${migrationId}) or cancel it`);
  }
  try {
    return await client.workflow.execute<typeof resumeSource>('resumeSource', {
      args: [{ migrationId }],
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      workflowId: resumeWorkflowId(migrationId),
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new MigrationInProgress(`a resume of ${migrationId} is already running (${resumeWorkflowId(migrationId)})`);
    throw err;
  }
}

/** True when the namespace has podferry's search attributes registered (see README). */
export async function searchAttributesRegistered(client: Client): Promise<boolean> {
  try {
    const response = await client.connection.operatorService.listSearchAttributes({ namespace: client.options.namespace });
    const custom = response.customAttributes ?? {};
    return Object.values(SEARCH_ATTRIBUTES).every((key) => key.name in custom);
  } catch {
    return false; // e.g. no permission for the operator API (Temporal Cloud API keys): fall back to memo only
  }
}

export async function getProgress(handle: MigrationHandle): Promise<MigrationProgress> {
  return handle.query(progressQuery);
}

/**
 * Calls onProgress whenever the progress changes, until the migration ends; returns its result or throws
 * its failure (a WorkflowFailedError whose cause says what went wrong and that it was rolled back).
 */
export async function watchMigration(
  handle: MigrationHandle,
  onProgress: (progress: MigrationProgress) => void,
  options: { intervalMs?: number } = {},
): Promise<MigrationResult> {
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  });
  let last = '';
  const poll = async () => {
    while (!done) {
      try {
        const progress = await getProgress(handle);
        const text = JSON.stringify(progress);
        if (text !== last) {
          last = text;
          onProgress(progress);
        }
      } catch {
        // not started yet, or between tasks: try again
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500));
    }
  };
  const polling = poll();
  try {
    return await result;
  } finally {
    await polling;
    try {
      onProgress(await getProgress(handle)); // the final state (phase Succeeded / RolledBack)
    } catch {
      // a closed workflow may no longer answer queries (e.g. after retention)
    }
  }
}

export async function getResult(handle: MigrationHandle): Promise<MigrationResult> {
  return handle.result();
}

export interface MigrationSummary {
  migrationId: string;
  status: string;
  phase?: string;
  source?: string;
  target?: string;
  startTime: Date;
  closeTime?: Date;
}

export async function listMigrations(client: Client, options: { limit?: number } = {}): Promise<MigrationSummary[]> {
  const out: MigrationSummary[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'` })) {
    const memo = (execution.memo ?? {}) as Record<string, string | undefined>;
    out.push({
      migrationId: execution.workflowId,
      status: execution.status.name,
      phase: memo.phase,
      source: memo.source,
      target: memo.target,
      startTime: execution.startTime,
      closeTime: execution.closeTime,
    });
    if (out.length >= (options.limit ?? 50)) break;
  }
  return out;
}

/** The innermost useful message and type of a failed migration, for people and scripts. */
export function describeFailure(err: unknown): { type?: string; message: string; chain: string[] } {
  const errors = errorChain(err instanceof WorkflowFailedError ? err.cause : err);
  const chain: string[] = [];
  // Skip the SDK's wrappers and messages that only repeat what an outer message already says.
  for (const e of errors) {
    if (!/^Activity task (failed|timed out)$/.test(e.message) && !chain.some((m) => m.includes(e.message))) chain.push(e.message);
  }
  const type = errors.find((e): e is ApplicationFailure => e instanceof ApplicationFailure && !!e.type)?.type ?? undefined;
  return { type, message: chain[0] ?? String(err), chain };
}
