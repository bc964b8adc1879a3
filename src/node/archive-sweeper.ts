// The node's safety net for checkpoint archives left behind. An archive is the workload's whole memory; its
// migration deletes it on success and on rollback, but a workflow terminated while its node worker was gone
// (between the checkpoint and the cleanup) never does. So the node worker (on start and every
// node.sweepIntervalSeconds) looks at each archive directly in its archive directories (CheckpointArchives:
// regular files named as archives, never through a symlink, nothing else) and asks Temporal about the
// migration noted beside it, reading the workflow as the frozen-pod sweeper does (sweepDecision):
//   running                       the migration may still read it: keep;
//   ended, sourceOnAbort 'thaw'   no target pod exists, the source never left its node: delete;
//   ended, 'hold' or unknown      a target pod may run from it, or it is the workload's only copy: keep, and
//                                 tell the operator once;
//   committed                     the target runs the workload, but the migration may have asked to keep its
//                                 archives (cleanup.archives: keep): delete past node.orphanArchiveAgeSeconds;
//   not found, or none noted      (the kubelet's archives, a checkpoint that never finished): the same age rule.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { CheckpointArchives } from './checkpoint-archives.js';
import { sweepDecision, type DescribeWorkflow, type WorkflowDescription } from './frozen-pod-sweeper.js';
import { repeatRounds } from './sweep-loop.js';

/** Why an archive was deleted (the label of the node worker's metric). */
export type ArchiveDeletionReason = 'migration_ended' | 'too_old';

/** keep: it may still be needed; hold: it may be the workload's only copy (kept, reported); delete. */
export type ArchiveVerdict = { action: 'keep' | 'hold'; why: string } | { action: 'delete'; reason: ArchiveDeletionReason; why: string };

/** The migration noted beside an archive, and its workflow (undefined: Temporal does not know it). */
export interface ArchiveMigration {
  migrationId: string;
  workflow: WorkflowDescription | undefined;
}

export interface ArchiveSweepOutcome {
  /** Host path. */
  archive: string;
  ageMs: number;
  action: ArchiveVerdict['action'];
  /** The migration noted beside it, if any, and its workflow's status (or NOT_FOUND). */
  migrationId?: string;
  status?: string;
}

/** What to do with an archive of `ageMs`, given its migration (undefined: none noted). */
export function archiveDecision(migration: ArchiveMigration | undefined, ageMs: number, maxAgeMs: number): ArchiveVerdict {
  const byAge = (unsure: string): ArchiveVerdict =>
    ageMs > maxAgeMs
      ? { action: 'delete', reason: 'too_old', why: `${unsure}, and it is older than node.orphanArchiveAgeSeconds (${maxAgeMs / 1000} s)` }
      : { action: 'keep', why: `${unsure}: kept until it is ${maxAgeMs / 1000} s old` };
  if (!migration) return byAge('no migration is noted beside it (a kubelet checkpoint, or one that never finished)');
  if (!migration.workflow) return byAge(`Temporal does not know its migration ${migration.migrationId} (past retention?)`);
  const { action, why } = sweepDecision(migration.workflow);
  switch (action) {
    case 'leave':
      return { action: 'keep', why: 'its migration still runs' };
    case 'thaw':
      return { action: 'delete', reason: 'migration_ended', why: `its migration ended before the commit, ${why}: the source never left its node` };
    case 'hold':
      return { action: 'hold', why: `it may be the workload's only copy or a target pod's checkpoint: ${why}` };
    case 'kill':
      return byAge(`its migration committed (${why}) and may have asked to keep its archives (cleanup.archives: keep)`);
  }
}

export interface ArchiveSweeperDeps {
  archives: CheckpointArchives;
  describeWorkflow: DescribeWorkflow;
  /** node.orphanArchiveAgeSeconds, in milliseconds. */
  maxAgeMs: number;
  /** Told of each deletion (the node worker counts them). */
  onDeleted?: (reason: ArchiveDeletionReason) => void;
  log?: (line: string) => void;
}

export function createArchiveSweeper(deps: ArchiveSweeperDeps) {
  const log = deps.log ?? ((line: string) => console.log(line));
  /** Held archives already reported (once each, not every round). */
  const reported = new Set<string>();

  /** One look at every archive; returns what it decided for each. */
  async function sweepOnce(now = Date.now()): Promise<ArchiveSweepOutcome[]> {
    const outcomes: ArchiveSweepOutcome[] = [];
    // One question to Temporal per migration and round, however many containers it checkpointed.
    const workflows = new Map<string, Promise<WorkflowDescription | undefined>>();
    const describe = (migrationId: string) => {
      if (!workflows.has(migrationId)) workflows.set(migrationId, deps.describeWorkflow(migrationId));
      return workflows.get(migrationId)!;
    };
    for (const dir of deps.archives.directories) {
      for (const name of await archiveNames(dir)) {
        const archive = path.posix.join(dir, name);
        try {
          const outcome = await sweepArchive(archive, now, describe);
          if (outcome) outcomes.push(outcome);
        } catch (err) {
          log(`archive sweeper: ${archive}: ${(err as Error).message}; trying again next round`);
        }
      }
    }
    return outcomes;
  }

  async function archiveNames(dir: string): Promise<string[]> {
    try {
      return (await readdir(deps.archives.onHost(dir))).filter(CheckpointArchives.isArchiveName);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // no checkpoint here yet
      throw err;
    }
  }

  async function sweepArchive(
    archive: string,
    now: number,
    describe: (migrationId: string) => Promise<WorkflowDescription | undefined>,
  ): Promise<ArchiveSweepOutcome | undefined> {
    const file = await deps.archives.resolve(archive, 'sweeping orphan archives').catch((err: unknown) => {
      // A symlink or a directory that only looks like an archive, or one deleted meanwhile: nothing to sweep.
      if (err instanceof ApplicationFailure && (err.type === 'ArchiveRefused' || err.type === 'ArchiveNotFound')) return undefined;
      throw err;
    });
    if (!file) return undefined;
    const ageMs = now - (await lstat(file)).mtimeMs;
    const migrationId = await deps.archives.migrationOf(file);
    const migration = migrationId === undefined ? undefined : { migrationId, workflow: await describe(migrationId) };
    const verdict = archiveDecision(migration, ageMs, deps.maxAgeMs);
    const status = migration && (migration.workflow?.status ?? 'NOT_FOUND');
    const about = `${archive} (${(ageMs / 3_600_000).toFixed(1)} h old, ${migration ? `migration ${migration.migrationId}, workflow ${status}` : 'no migration noted'})`;
    if (verdict.action === 'delete') {
      await deps.archives.remove(file);
      deps.onDeleted?.(verdict.reason);
      log(`archive sweeper: deleted ${about}: ${verdict.why}`);
    } else if (verdict.action === 'hold' && !reported.has(archive)) {
      reported.add(archive);
      log(`archive sweeper: keeping ${about} because ${verdict.why}. Operator: delete it once the workload runs again (at the target or the source)`);
    }
    return { archive, ageMs, action: verdict.action, ...(migration ? { migrationId: migration.migrationId, status } : {}) };
  }

  /** Sweeps now, then every `intervalMs` until stop() (which waits for a round under way). */
  function start(intervalMs: number): { stop(): Promise<void> } {
    return repeatRounds(sweepOnce, intervalMs, (err) =>
      log(`archive sweeper: cannot read ${deps.archives.directories.join(' or ')}: ${err.message}; trying again in ${intervalMs / 1000} s`),
    );
  }

  return { sweepOnce, start };
}
