// The migration's progress as everyone sees it: the progress query, the Web UI's current details, the memo
// and the search attributes. The memo also carries what the source node's safety net must do with a
// source left frozen if the workflow ends without finishing (sourceOnAbort).
import { setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { errorMessage } from '../api/failures.js';
import type { ContainerState, MigrationPhase, MigrationProgress, MigrationStrategy } from '../api/migration.js';
import { SEARCH_ATTRIBUTES, SOURCE_ON_ABORT_MEMO, type SourceOnAbort } from './definitions.js';

/** Keeps MigrationProgress for the query, the Web UI details, the memo and the search attributes. */
export class ProgressTracker {
  private readonly state: MigrationProgress;
  private readonly useSearchAttributes: boolean;

  constructor(migrationId: string) {
    this.state = {
      migrationId,
      phase: 'Pending',
      phaseStartedAt: { Pending: new Date().toISOString() },
      containers: {},
      stepsDone: 0,
      stepsTotal: 9,
      compensations: [],
      warnings: [],
    };
    // Set at start by the client only when the namespace has them registered.
    this.useSearchAttributes = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase) !== undefined;
  }

  snapshot(): MigrationProgress {
    return JSON.parse(JSON.stringify(this.state)) as MigrationProgress; // no structuredClone in the workflow sandbox
  }

  enter(phase: MigrationPhase): void {
    this.state.phase = phase;
    this.state.phaseStartedAt[phase] = new Date().toISOString();
    if (phase === 'Succeeded') this.state.stepsDone = this.state.stepsTotal;
    upsertMemo({ phase });
    if (this.useSearchAttributes) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
    this.publish();
  }

  planned(strategy: MigrationStrategy, containers: string[], warnings: string[]): void {
    this.state.strategy = strategy;
    for (const c of containers) this.state.containers[c] = { state: 'Pending' };
    // plan, freeze, checkpoint×n, push×n, config, create, ready, delete source, finalize
    this.state.stepsTotal = 7 + 2 * containers.length;
    this.state.warnings.push(...warnings);
    this.step();
  }

  step(): void {
    this.state.stepsDone = Math.min(this.state.stepsDone + 1, this.state.stepsTotal);
    this.publish();
  }

  container(name: string, state: ContainerState, extra: { archivePath?: string; image?: string; archiveBytes?: number } = {}): void {
    this.state.containers[name] = { ...this.state.containers[name], ...extra, state };
    if (state === 'Checkpointed' || state === 'Pushed') this.state.stepsDone++;
    this.publish();
  }

  failContainers(failures: Array<{ container: string; error: unknown }>): void {
    for (const f of failures) this.state.containers[f.container] = { ...this.state.containers[f.container], state: 'Failed', error: errorMessage(f.error) };
  }

  /**
   * Tells the source node's safety net what to do with the frozen source if this workflow ends without
   * finishing (terminated, say): thaw it (no target exists), hold it (a target may run), or kill it
   * (committed). The memo is written with the workflow task that schedules the next step, so it is durable
   * before that step can have any effect.
   */
  sourceOnAbort(action: SourceOnAbort): void {
    upsertMemo({ [SOURCE_ON_ABORT_MEMO]: action });
  }

  warn(message: string): void {
    this.state.warnings.push(message);
  }

  fail(err: unknown): void {
    this.state.error = errorMessage(err);
  }

  compensated(name: string, ok: boolean, error?: string): void {
    this.state.compensations.push({ name, ok, ...(error ? { error } : {}) });
    this.publish();
  }

  phaseDurations(): Partial<Record<MigrationPhase, number>> {
    const entries = Object.entries(this.state.phaseStartedAt).map(([phase, at]) => [phase, Date.parse(at)] as const);
    entries.sort((a, b) => a[1] - b[1]);
    const out: Partial<Record<MigrationPhase, number>> = {};
    entries.forEach(([phase, at], i) => {
      const next = entries[i + 1]?.[1];
      if (next !== undefined && phase !== 'Pending') out[phase as MigrationPhase] = next - at;
    });
    return out;
  }

  private publish(): void {
    const s = this.state;
    const rows = Object.entries(s.containers).map(([name, c]) => `| ${name} | ${c.state} | ${c.image ?? ''} |`);
    setCurrentDetails(
      [
        `**Phase:** ${s.phase} (${s.stepsDone}/${s.stepsTotal} steps)`,
        '',
        '| container | state | checkpoint image |',
        '| --- | --- | --- |',
        ...rows,
        ...(s.error ? ['', `**Error:** ${s.error}`] : []),
        ...(s.compensations.length ? ['', `**Compensations:** ${s.compensations.map((c) => `${c.name}${c.ok ? '' : ' (failed)'}`).join(' → ')}`] : []),
      ].join('\n'),
    );
  }
}
