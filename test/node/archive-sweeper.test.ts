// The node's archive sweeper on real files in temporary directories (the kubelet's checkpoint directory and
// podferry's own), with a stand-in for Temporal's describe: what it deletes, what it keeps, and that it
// touches nothing but archives directly in those directories, never through a symlink.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { createRuntimeCheckpointActivities } from '../../src/activities/runtime-checkpoint.js';
import { archiveDecision, createArchiveSweeper, type ArchiveDeletionReason, type ArchiveMigration } from '../../src/node/archive-sweeper.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import type { CriRuntime } from '../../src/node/cri-runtime.js';
import type { WorkflowDescription } from '../../src/node/frozen-pod-sweeper.js';
import { TestActivityEnvironment } from '../unit/activity-environment.js';

const HOUR = 60 * 60 * 1000;
const MAX_AGE = 24 * HOUR;

describe('what the sweeper decides about an archive', () => {
  const of = (workflow?: WorkflowDescription): ArchiveMigration => ({ migrationId: 'm', workflow });
  test.each([
    ['no migration noted, young', 'keep', undefined, HOUR],
    ['no migration noted, old', 'delete', undefined, 25 * HOUR],
    ['migration running, old', 'keep', of({ status: 'RUNNING' }), 100 * HOUR],
    ['ended before a target pod existed, young', 'delete', of({ status: 'TERMINATED', memo: { sourceOnAbort: 'thaw' } }), 0],
    ['ended while a target pod may run, old', 'hold', of({ status: 'TERMINATED', memo: { sourceOnAbort: 'hold' } }), 100 * HOUR],
    ['ended with no memo, old', 'hold', of({ status: 'FAILED' }), 100 * HOUR],
    ['committed, young (maybe kept on purpose)', 'keep', of({ status: 'COMPLETED', memo: { sourceOnAbort: 'kill' } }), HOUR],
    ['committed, old', 'delete', of({ status: 'TERMINATED', memo: { sourceOnAbort: 'kill' } }), 25 * HOUR],
    ['Temporal does not know the migration, young', 'keep', of(undefined), HOUR],
    ['Temporal does not know the migration, old', 'delete', of(undefined), 25 * HOUR],
  ] as Array<[string, string, ArchiveMigration | undefined, number]>)('%s → %s', (_case, action, migration, ageMs) => {
    expect(archiveDecision(migration, ageMs, MAX_AGE).action).toBe(action);
  });
});

describe('sweeping the archive directories (real files, stand-in Temporal)', () => {
  const name = (pod: string, container = 'counter', at = '2026-11-28T12:00:00Z') => `checkpoint-${pod}_default-${container}-${at}.tar`;
  /** Writes a file whose modification time is `ageMs` ago. */
  const fileAged = (file: string, ageMs: number, content = 'memory') => {
    writeFileSync(file, content, { mode: 0o600 });
    const at = (Date.now() - ageMs) / 1000;
    utimesSync(file, at, at);
    return file;
  };

  test('deletes old orphans and archives of migrations that ended without a target; keeps the rest; touches nothing else', async () => {
    const kubeletDir = mkdtempSync(path.join(tmpdir(), 'podferry-kubelet-checkpoints-'));
    const archiveDir = mkdtempSync(path.join(tmpdir(), 'podferry-archives-'));
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'podferry-elsewhere-'));
    const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: kubeletDir, archiveDir });
    const owned = async (file: string, migrationId: string) => {
      await archives.recordMigration(file, migrationId);
      return file;
    };

    // In the kubelet's directory: no migration noted.
    const oldOrphan = fileAged(path.join(kubeletDir, name('old')), 25 * HOUR);
    writeFileSync(`${oldOrphan}.podferry-sha256`, '{}');
    const freshOrphan = fileAged(path.join(kubeletDir, name('fresh')), HOUR);
    // In podferry's directory: each names its migration.
    const running = [
      await owned(fileAged(path.join(archiveDir, name('running', 'a')), 100 * HOUR), 'm-running'),
      await owned(fileAged(path.join(archiveDir, name('running', 'b')), 100 * HOUR), 'm-running'),
    ];
    const ended = await owned(fileAged(path.join(archiveDir, name('ended')), 0), 'm-ended');
    const held = await owned(fileAged(path.join(archiveDir, name('held')), 100 * HOUR), 'm-held');
    // A memo that is a symlink is not read: the archive counts as one with no migration noted (young: kept).
    const lured = fileAged(path.join(archiveDir, name('lured')), 0);
    writeFileSync(path.join(elsewhere, 'memo'), 'm-ended');
    symlinkSync(path.join(elsewhere, 'memo'), `${lured}.podferry-migration`);
    // What is not an archive directly in the directories: a symlink named as one (to an old archive-named
    // file elsewhere), other old files, a directory named as an archive, and archives in a subdirectory.
    const target = fileAged(path.join(elsewhere, name('target')), 100 * HOUR);
    const link = path.join(kubeletDir, name('link'));
    symlinkSync(target, link);
    const others = [fileAged(path.join(kubeletDir, 'kubelet.conf'), 100 * HOUR), fileAged(path.join(archiveDir, `${name('gone')}.podferry-sha256`), 100 * HOUR)];
    const namedDir = path.join(archiveDir, name('dir'));
    const subDir = path.join(kubeletDir, 'sub');
    for (const dir of [namedDir, subDir]) mkdirSync(dir);
    const nested = [fileAged(path.join(namedDir, name('nested')), 100 * HOUR), fileAged(path.join(subDir, name('nested')), 100 * HOUR)];

    const asked: string[] = [];
    const workflows: Record<string, WorkflowDescription> = {
      'm-running': { status: 'RUNNING', memo: { sourceOnAbort: 'thaw' } },
      'm-ended': { status: 'TERMINATED', memo: { sourceOnAbort: 'thaw' } },
      'm-held': { status: 'FAILED', memo: { sourceOnAbort: 'hold' } },
    };
    const logged: string[] = [];
    const deletedFor: ArchiveDeletionReason[] = [];
    const sweeper = createArchiveSweeper({
      archives,
      describeWorkflow: async (id) => {
        asked.push(id);
        return workflows[id];
      },
      maxAgeMs: MAX_AGE,
      onDeleted: (reason) => deletedFor.push(reason),
      log: (line) => logged.push(line),
    });

    const outcomes = await sweeper.sweepOnce();
    const actionOf = (file: string) => outcomes.find((o) => o.archive === file)?.action;
    expect([oldOrphan, freshOrphan, ...running, ended, held, lured].map(actionOf)).toEqual(['delete', 'keep', 'keep', 'keep', 'delete', 'hold', 'keep']);
    expect(outcomes).toHaveLength(7); // nothing else was looked at
    expect(asked.sort()).toEqual(['m-ended', 'm-held', 'm-running']); // once per migration, though two archives name m-running
    expect(deletedFor.sort()).toEqual(['migration_ended', 'too_old']);

    // Deleted with their memos; everything else is still there, the symlink as a symlink.
    for (const file of [oldOrphan, `${oldOrphan}.podferry-sha256`, ended, `${ended}.podferry-migration`]) expect(existsSync(file)).toBe(false);
    for (const file of [freshOrphan, ...running, held, lured, target, ...others, ...nested]) expect(existsSync(file)).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(lstatSync(`${lured}.podferry-migration`).isSymbolicLink()).toBe(true);

    // Each deletion says what, how old and why; a held archive is reported once, not every round.
    expect(logged.find((l) => l.includes(oldOrphan))).toMatch(/deleted .* \(25\.0 h old, no migration noted\): .*older than node\.orphanArchiveAgeSeconds/);
    expect(logged.find((l) => l.includes(ended))).toMatch(/deleted .* \(0\.0 h old, migration m-ended, workflow TERMINATED\): its migration ended before the commit/);
    expect(logged.find((l) => l.includes(held))).toMatch(/keeping .*migration m-held, workflow FAILED.* may be the workload's only copy/);
    expect(logged).toHaveLength(3);
    await sweeper.sweepOnce();
    expect(logged).toHaveLength(3);
  });

  test('an archive checkpointed through the runtime names its migration (0600), and goes once that migration ended without a target', async () => {
    const archiveDir = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-state-')), 'checkpoints');
    const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent', archiveDir });
    // A stand-in runtime: the container is the pod's, and its checkpoint is a file written where asked.
    const runtime = {
      requirePodContainers: async (_podUid: string, ids: string[]) => ids.map((id) => id.replace(/^.*:\/\//, '')),
      checkpoint: async (_id: string, location: string) => writeFileSync(location, 'memory'),
    } as unknown as CriRuntime;
    const { checkpointThroughRuntime } = createRuntimeCheckpointActivities({ runtime, archives, nodeName: 'n' });
    const environment = new TestActivityEnvironment({ workflowExecution: { workflowId: 'm-checkpointed', runId: 'r' } });
    const { archivePath } = await environment.run(() =>
      checkpointThroughRuntime({ podUid: 'uid', namespace: 'default', pod: 'sample', container: 'counter', containerId: 'containerd://c1', timeoutSeconds: 10 }),
    );
    expect(await archives.migrationOf(archivePath)).toBe('m-checkpointed');
    expect(statSync(`${archivePath}.podferry-migration`).mode & 0o777).toBe(0o600);

    const describeWorkflow = async (): Promise<WorkflowDescription> => ({ status: 'CANCELLED', memo: { sourceOnAbort: 'thaw' } });
    const outcomes = await createArchiveSweeper({ archives, describeWorkflow, maxAgeMs: MAX_AGE, log: () => undefined }).sweepOnce();
    expect(outcomes).toEqual([expect.objectContaining({ archive: archivePath, migrationId: 'm-checkpointed', status: 'CANCELLED', action: 'delete' })]);
    expect([existsSync(archivePath), existsSync(`${archivePath}.podferry-migration`)]).toEqual([false, false]);
  });

  test('start() sweeps at once and again after each interval; stop() waits for the round under way', async () => {
    const archiveDir = mkdtempSync(path.join(tmpdir(), 'podferry-archives-'));
    const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent', archiveDir });
    await archives.recordMigration(fileAged(path.join(archiveDir, name('sample')), 0), 'm-running');
    let asked = 0;
    let answer: () => void = () => undefined;
    const describeWorkflow = () => {
      asked += 1;
      return new Promise<WorkflowDescription>((resolve) => (answer = () => resolve({ status: 'RUNNING' })));
    };
    const sweeping = createArchiveSweeper({ archives, describeWorkflow, maxAgeMs: MAX_AGE, log: () => undefined }).start(20);
    await new Promise((r) => setTimeout(r, 100));
    expect(asked).toBe(1); // the first round still waits for Temporal: no second round overlaps it
    answer();
    await new Promise((r) => setTimeout(r, 500));
    expect(asked).toBe(2);
    let stopped = false;
    const stopping = sweeping.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    answer();
    await stopping;
    await new Promise((r) => setTimeout(r, 100));
    expect(asked).toBe(2);
  });
});
