// Names shared by the drainNode/rebalance workflows and their callers. Workflow-safe (no Node APIs).
import { defineQuery } from '@temporalio/workflow';
import type { DrainProgress } from '../api/drain.js';

export const DRAIN_WORKFLOW_TYPE = 'drainNode';
export const REBALANCE_WORKFLOW_TYPE = 'rebalance';

export const drainProgressQuery = defineQuery<DrainProgress>('drainProgress');

/**
 * Workflow id of a migratePod child: the same id as `podferry migrate` uses for that source pod
 * (defaultMigrationId in src/client/migrations.ts), so Temporal lets only one migration of a pod run at a
 * time, whoever started it (a drain, a rebalance run, a person).
 */
export function childMigrationId(source: { cluster: string; namespace: string; name: string }): string {
  return `podferry-${source.cluster}-${source.namespace}-${source.name}`;
}

/** A child that could not start because a migration of the same pod is running. */
export function isAlreadyRunning(err: unknown): boolean {
  return err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError';
}

/** The report entry of a pod that another migration is moving already. */
export function inProgress(migrationId: string): { type: string; reason: string } {
  return { type: 'MigrationInProgress', reason: `a migration of this pod is already running (${migrationId}): left to it` };
}
