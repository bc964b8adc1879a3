// Names shared by the drainNode/rebalance workflows and their callers. Workflow-safe (no Node APIs).
import { defineQuery } from '@temporalio/workflow';
import type { DrainProgress } from '../api/drain.js';

export const DRAIN_WORKFLOW_TYPE = 'drainNode';
export const REBALANCE_WORKFLOW_TYPE = 'rebalance';

export const drainProgressQuery = defineQuery<DrainProgress>('drainProgress');

/** Workflow ids of the migratePod children: deterministic (a replay or retry names the same child), readable in a listing. */
export function childMigrationId(parentId: string, pod: { namespace: string; name: string }): string {
  return `${parentId}-${pod.namespace}-${pod.name}`;
}
