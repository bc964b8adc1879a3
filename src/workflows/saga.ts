// The saga: each step registers its undo right before it runs (every undo is idempotent and harmless if its
// step did nothing), and a failure runs the undos of the steps reached. Two kinds of undo, because they
// answer to different rules:
//
// - restores put the workload back where it ran (stop the target, restore or thaw the source). They run
//   first, newest first, one after another, and the first that fails stops the others: resuming the source
//   while the target may still run would run the workload twice.
// - cleanups remove what the migration made (images, archives, copies, the lock). They run only once the
//   workload is proven running again, all at once: a cleanup never delays the source's resumption, and
//   nothing that may be the workload's only copy (or that a still-running target needs) is removed.
import { CancellationScope } from '@temporalio/workflow';
import { errorMessage } from '../api/failures.js';

interface Undo {
  name: string;
  run: () => Promise<unknown>;
}

export interface CompensationReport {
  /** Undos that failed, with why ("name: error"). */
  failed: string[];
  /** Undos not run because an earlier restore failed (what is left, for the failure message). */
  skipped: string[];
  /** Whether every restore succeeded: the workload runs again. */
  workloadRestored: boolean;
}

export type CompensationListener = (name: string, ok: boolean, error?: string) => void;

export class Saga {
  private readonly restores: Undo[] = [];
  private readonly cleanups: Undo[] = [];

  /** An undo that puts the workload back where it ran. */
  onFailureRestore(name: string, run: () => Promise<unknown>): void {
    this.restores.unshift({ name, run });
  }

  /** An undo that removes something the migration made. */
  onFailureCleanUp(name: string, run: () => Promise<unknown>): void {
    this.cleanups.unshift({ name, run });
  }

  /** Runs the undos (in a non-cancellable scope: a cancelled workflow still undoes). */
  compensate(listener: CompensationListener): Promise<CompensationReport> {
    return CancellationScope.nonCancellable(async () => {
      const report: CompensationReport = { failed: [], skipped: [], workloadRestored: true };
      for (const undo of this.restores) {
        if (!report.workloadRestored) {
          report.skipped.push(undo.name);
          continue;
        }
        const error = await attempt(undo);
        listener(undo.name, error === undefined, error);
        if (error !== undefined) {
          report.failed.push(`${undo.name}: ${error}`);
          report.workloadRestored = false;
        }
      }
      if (!report.workloadRestored) {
        report.skipped.push(...this.cleanups.map((c) => c.name));
        return report;
      }
      const errors = await Promise.all(this.cleanups.map(attempt));
      this.cleanups.forEach((undo, i) => {
        listener(undo.name, errors[i] === undefined, errors[i]);
        if (errors[i] !== undefined) report.failed.push(`${undo.name}: ${errors[i]}`);
      });
      return report;
    });
  }
}

async function attempt(undo: Undo): Promise<string | undefined> {
  try {
    await undo.run();
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
