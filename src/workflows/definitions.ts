// Names shared by the workflow and its callers: the query, the search attributes, the metrics sink.
// Workflow-safe (no Node APIs).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, type Sinks } from '@temporalio/workflow';
import type { MigrationProgress } from '../api/migration.js';

export const progressQuery = defineQuery<MigrationProgress>('progress');

/**
 * Optional search attributes (Keyword). They are used only when registered on the namespace
 * (`temporal operator search-attribute create`, or `--search-attribute` on the dev server): the client
 * sets them at start only if registered, and the workflow upserts them only if they were set at start,
 * so an unregistered namespace never sees a failing workflow task. The memo always carries the same data.
 */
export const SEARCH_ATTRIBUTES = {
  sourceCluster: defineSearchAttributeKey('PodferrySourceCluster', SearchAttributeType.KEYWORD),
  targetCluster: defineSearchAttributeKey('PodferryTargetCluster', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('PodferryPhase', SearchAttributeType.KEYWORD),
} as const;

export type MigrationOutcome = 'succeeded' | 'rolled_back' | 'failed' | 'cancelled';

/** Reported once per migration from the workflow to the worker's Prometheus metrics (not during replay). */
export interface MigrationMetricsSinks extends Sinks {
  migrationMetrics: {
    finished(report: { outcome: MigrationOutcome; durationMs: number; downtimeMs?: number; bytesPushed: number }): void;
  };
}

/**
 * Memo key read by the source node's safety net (src/node/frozen-pod-sweeper.ts) when a migration ends
 * without finishing while the source is frozen: 'thaw' (no target pod exists), 'hold' (a target may run:
 * leave it frozen, someone must look), 'kill' (committed: the target runs the workload).
 */
export const SOURCE_ON_ABORT_MEMO = 'sourceOnAbort';
export type SourceOnAbort = 'thaw' | 'hold' | 'kill';
