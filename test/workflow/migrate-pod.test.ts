// The migratePod workflow on a real Temporal dev server, with recording stand-in activities: the happy path,
// a failure injected at every step (exactly the right compensations, in reverse), cancellation mid-way,
// a worker killed mid-migration and restarted, and invalid input rejected before any side effect.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import type { MigratePodRequest, MigrationResult } from '../../src/api/migration.js';
import { nodeTaskQueue, pullSecretName, WORKFLOW_TYPE } from '../../src/api/names.js';
import { defaultMigrationId, getProgress, MigrationInProgress, startMigration, watchMigration } from '../../src/client/migrations.js';
import { HEARTBEAT_FLUSH } from '../../src/worker/bootstrap.js';
import { MigrationMetrics, serveMetrics } from '../../src/worker/metrics.js';
import { progressQuery } from '../../src/workflows/definitions.js';
import { replicaSetCopyName } from '../../src/planning/replicaset-handover.js';
import { runProcess } from '../support/run-process.js';
import { CONTAINERS, createRecordingStandInActivities, Recorder, type RecordedCall, type Script } from '../support/recording-activities.js';
import { freePort } from '../support/registry.js';
import { type TestTemporal } from '../support/temporal.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../support/workflow-env.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

let env: WorkflowTestEnv | undefined;
let temporal: TestTemporal;
let client: Client;
let connection: NativeConnection;
let bundlePath: string;
let workflowBundle: { code: string };
let sequence = 0;
let sdkMetricsPort: number;

beforeAll(async () => {
  sdkMetricsPort = await freePort();
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } },
  });
  env = await startWorkflowTestEnv();
  ({ temporal, connection, client, workflowBundle } = env);
  bundlePath = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-bundle-')), 'workflows.js');
  writeFileSync(bundlePath, workflowBundle.code);
}, 180_000);

// Stopping the dev server after this suite's many workflows took over 5 s (jest's default) on a loaded machine.
afterAll(async () => {
  await env?.stop();
}, 60_000);

/** Through the registry (the default) unless the options say otherwise: the node-to-node path has its own tests below. */
function request(options: MigratePodRequest['options'], targetCluster: string, targetNode: string): MigratePodRequest {
  return {
    source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
    target: { cluster: targetCluster, node: targetNode },
    options: { transfer: 'registry', ...options },
  };
}

/**
 * Runs one migration from lab-a with in-process workers (orchestrator, source node, target node) using
 * recording stand-in activities. targetCluster lab-a makes it a move within the cluster (DeleteThenCreate).
 */
async function migrate(
  script: Omit<Script, 'node'>,
  options: MigratePodRequest['options'] = {},
  during?: (id: string, recorder: Recorder) => Promise<void>,
  targetCluster = 'lab-b',
) {
  const id = `t${++sequence}-${Date.now().toString(36)}`;
  const fullScript: Script = { ...script, node: `node-${id}` };
  const recorder = new Recorder();
  const activities = createRecordingStandInActivities(recorder, fullScript);
  const metrics = new MigrationMetrics();
  const taskQueue = `podferry-test-${id}`;
  // As the real workers: heartbeats flushed every second, so a cancellation reaches a running activity at once.
  const flush = { maxHeartbeatThrottleInterval: HEARTBEAT_FLUSH, defaultHeartbeatThrottleInterval: HEARTBEAT_FLUSH };
  const orchestrator = await Worker.create({ connection, taskQueue, workflowBundle, activities: activities.orchestrator, sinks: metrics.sinks(), ...flush });
  const node = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', fullScript.node), activities: activities.node, ...flush });
  const targetNode = await Worker.create({ connection, taskQueue: nodeTaskQueue(targetCluster, `target-${id}`), activities: activities.node, ...flush });
  const handle = await startMigration(client, request(options, targetCluster, `target-${id}`), { taskQueue, migrationId: `migration-${id}` });
  const outcome = await orchestrator.runUntil(
    node.runUntil(targetNode.runUntil(async () => {
      if (during) await during(handle.workflowId, recorder);
      const settled = await handle.result().then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      );
      // Queries are answered by a worker, even for a closed workflow: ask while ours still run.
      return { ...settled, progress: await getProgress(handle) };
    })),
  );
  return { ...outcome, recorder, handle, metrics };
}

const COMPENSATION_CALLS = new Set(['thawPod', 'deleteArchives', 'deleteCopiedConfig', 'deletePod:lab-b', 'removeCheckpointImages', 'releaseSourceLock']);
function compensationCalls(recorder: Recorder): string[] {
  return recorder.started().filter((c) => COMPENSATION_CALLS.has(c) || c.startsWith('deleteImage:'));
}

/** The calls started, without the runtime descriptions asked while planning (tests of the later steps count positions). */
function withoutRuntimeDescriptions(recorder: Recorder): string[] {
  return recorder.started().filter((c) => !c.startsWith('describeRuntime:'));
}

/**
 * With PODFERRY_RECORD_HISTORIES=1, keeps a history as test/workflow/histories/<name>.json: the replay test
 * then proves that later builds still finish a migration this build started.
 */
function keepHistory<T extends object>(name: string, history: T): T {
  // protobufjs's own JSON form (enum names, longs as strings), as historyFromJSON reads it back.
  if (process.env.PODFERRY_RECORD_HISTORIES === '1') writeFileSync(path.join(here, 'histories', `${name}.json`), `${JSON.stringify(history, null, 1)}\n`);
  return history;
}

async function waitForCall(recorder: Recorder, call: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!recorder.started().includes(call)) {
    if (Date.now() > deadline) throw new Error(`${call} never started; calls: ${recorder.started().join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('migratePod with recording stand-in activities', () => {
  test('happy path: every step once, in order, source deleted after the target is Ready, result with timings and downtime', async () => {
    const { result, error, recorder, progress, handle, metrics } = await migrate({});
    expect(error).toBeUndefined();
    const r = result as MigrationResult;
    // The target node's worker is asked what its runtime restores (and the source's, for CRIU) right after the plan.
    expect(recorder.started().slice(0, 3)).toEqual(['planMigration', 'describeRuntime:target', 'describeRuntime:source']);
    const calls = withoutRuntimeDescriptions(recorder);
    const ordered = (name: string) => calls.indexOf(name);
    // Base images are pre-pulled on the target node before the downtime starts.
    expect(calls.slice(0, 3)).toEqual(['planMigration', 'pullImages', 'freezePod']);
    expect(new Set(calls.slice(3, 6))).toEqual(new Set(CONTAINERS.map((c) => `checkpointContainer:${c}`)));
    // Each image is pulled on the target node right after its push, before the target pod exists.
    expect(new Set(calls.slice(6, 12))).toEqual(new Set(CONTAINERS.flatMap((c) => [`pushCheckpointImage:${c}`, `pullCheckpointImage:${c}`])));
    for (const c of CONTAINERS) expect(ordered(`pushCheckpointImage:${c}`)).toBeLessThan(ordered(`pullCheckpointImage:${c}`));
    const pulls = recorder.calls.filter((c) => c.call.startsWith('pullCheckpointImage:') && c.event === 'start').map((c) => (c.input as { ref: string }).ref);
    expect(pulls.sort()).toEqual(CONTAINERS.map((c) => `10.231.0.1:5000/podferry/checkpoints@sha256:${c.padEnd(64, '0')}`).sort());
    expect(calls.slice(12, 18)).toEqual([
      'ensureTargetConfig',
      'createTargetPod',
      'waitPodReady',
      'deletePod:lab-a:request',
      'killFrozenPod',
      'deletePod:lab-a',
    ]);
    expect(calls[18]).toBe('deleteArchives');
    expect(new Set(calls.slice(19))).toEqual(new Set(CONTAINERS.map((c) => `deleteImage:${c}`)));
    expect(ordered('thawPod')).toBe(-1); // never thawed: it was deleted after the commit
    expect(ordered('deletePod:lab-b')).toBe(-1); // the target was never undone

    expect(r.source).toMatchObject({ cluster: 'lab-a', namespace: 'default', name: 'sample', node: handle.workflowId.replace('migration-', 'node-') });
    expect(r.target).toMatchObject({ cluster: 'lab-b', namespace: 'default', name: 'sample', uid: 'target-uid' });
    expect(r.downtimeMs).toBeGreaterThanOrEqual(50);
    expect(r.warnings).toEqual([]);
    expect(r.bytesPushed).toBe(3000);
    expect(Object.keys(r.containers).sort()).toEqual([...CONTAINERS].sort());
    expect(r.images.every((i) => i.deleted && i.originalImage === '10.231.0.1:5000/podferry/sample:lab')).toBe(true);
    for (const phase of ['Planning', 'Freezing', 'Checkpointing', 'Pushing', 'CreatingTarget', 'WaitingReady', 'DeletingSource', 'Finalizing']) {
      expect(r.phasesMs).toHaveProperty(phase);
    }
    // The target pod gets the checkpoint images.
    const create = recorder.calls.find((c) => c.call === 'createTargetPod' && c.event === 'start')!.input as { images: Record<string, string> };
    expect(Object.keys(create.images).sort()).toEqual([...CONTAINERS].sort());

    // The move leaves a trace in Kubernetes: Events on the source and the target pod.
    const events = recorder.podEvents.map((e) => [e.reason, e.pod.cluster]);
    expect(events.slice(0, 2)).toEqual([
      ['MigrationStarted', 'lab-a'],
      ['SourceFrozen', 'lab-a'],
    ]);
    // Both recorded at the commit, in no fixed order.
    expect(events.slice(2)).toEqual(expect.arrayContaining([['Migrated', 'lab-a'], ['Restored', 'lab-b']]));
    expect(events).toHaveLength(4);
    expect(progress.phase).toBe('Succeeded');
    expect(progress.stepsDone).toBe(progress.stepsTotal);
    expect(progress.compensations).toEqual([]);
    // Search attributes were registered on this dev server, so the phase is searchable.
    const description = await handle.describe();
    expect(description.searchAttributes.PodferryPhase).toEqual(['Succeeded']);
    expect(description.memo).toMatchObject({ source: 'lab-a/default/sample', phase: 'Succeeded' });
    // The worker's metrics saw it, and /metrics serves them together with the SDK's own.
    const port = await freePort();
    const stop = await serveMetrics({ registry: metrics.registry, host: '127.0.0.1', port, sdkMetricsUrl: `http://127.0.0.1:${sdkMetricsPort}/metrics` });
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    await stop();
    expect(text).toMatch(/temporal_workflow_completed|temporal_activity_execution|temporal_worker/);
    expect(text).toContain('podferry_migrations_total{result="succeeded"} 1');
    expect(text).toContain('podferry_migration_bytes_pushed_total 3000');
    expect(text).toMatch(/podferry_migration_downtime_seconds_count 1/);
    // The recorded history replays against the workflow code: the code is deterministic.
    await Worker.runReplayHistory({ workflowBundle, replayName: 'happy path' }, keepHistory('committed', await handle.fetchHistory()), handle.workflowId);
  }, 60_000);

  test('options.parallel=false checkpoints one container after another; parallel overlaps them', async () => {
    const spans = (calls: RecordedCall[]) =>
      CONTAINERS.map((c) => ({
        start: calls.find((x) => x.call === `checkpointContainer:${c}` && x.event === 'start')!.at,
        end: calls.find((x) => x.call === `checkpointContainer:${c}` && x.event === 'end')!.at,
      })).sort((a, b) => a.start - b.start);
    const sequential = await migrate({ checkpointMs: 300 }, { parallel: false });
    expect(sequential.error).toBeUndefined();
    const s = spans(sequential.recorder.calls);
    expect(s[1]!.start).toBeGreaterThanOrEqual(s[0]!.end);
    expect(s[2]!.start).toBeGreaterThanOrEqual(s[1]!.end);
    expect(sequential.result?.parallel).toBe(false);

    const parallel = await migrate({ checkpointMs: 300 }, { parallel: true });
    const p = spans(parallel.recorder.calls);
    expect(p[2]!.start).toBeLessThan(p[0]!.end); // all three were in flight together
  }, 60_000);

  // A failure at each step, and the undos that must run: first the restores (stop the target, then resume
  // the source), newest first, one after another; then the cleanups, all at once (listed newest first).
  const thaw = 'thaw source pod';
  const archives = 'delete checkpoint archives';
  const images = 'delete checkpoint images';
  const received = 'remove checkpoint images from the target node';
  const config = 'delete copied config';
  const target = 'stop the target pod';
  const lock = 'release the source pod lock';
  const restores = new Set([target, thaw]);
  test.each([
    ['planMigration', [lock]],
    ['freezePod', [thaw, lock]],
    ['checkpointContainer:kv', [thaw, archives, lock]],
    ['pushCheckpointImage:ballast', [thaw, received, images, archives, lock]],
    ['ensureTargetConfig', [thaw, config, received, images, archives, lock]],
    ['createTargetPod', [target, thaw, config, received, images, archives, lock]],
    ['waitPodReady', [target, thaw, config, received, images, archives, lock]],
  ])('failure at %s: runs exactly %j, the source resumes before any cleanup, and it is never deleted', async (failAt, expected) => {
    const { error, recorder, progress, result } = await migrate({ failAt });
    expect(result).toBeUndefined();
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe('MigrationRolledBack');
    expect(failure.message).toContain(`injected failure at ${failAt}`);
    expect((failure.cause as ApplicationFailure | undefined)?.cause).toMatchObject({ type: 'InjectedFailure' });

    expect(progress.compensations).toEqual(expected.map((name) => ({ name, ok: true })));
    expect(progress.phase).toBe('RolledBack');
    if (failAt === 'waitPodReady') keepHistory('rolled-back', await client.workflow.getHandle(progress.migrationId).fetchHistory());
    if (failAt !== 'planMigration') {
      expect(recorder.podEvents.at(-1)).toMatchObject({ reason: 'MigrationRolledBack', type: 'Warning', pod: { cluster: 'lab-a', name: 'sample' } });
    }
    // The activity calls behind them: the restores in order, then every cleanup, none before a restore ended.
    const byUndo: Record<string, string[]> = {
      [thaw]: ['thawPod'],
      [archives]: ['deleteArchives'],
      [images]: CONTAINERS.map((c) => `deleteImage:${c}`),
      [received]: ['removeCheckpointImages'],
      [config]: ['deleteCopiedConfig'],
      [target]: ['deletePod:lab-b'],
      [lock]: ['releaseSourceLock'],
    };
    const calls = compensationCalls(recorder);
    const restoreCalls = expected.filter((u) => restores.has(u)).flatMap((u) => byUndo[u]!);
    expect(calls.slice(0, restoreCalls.length)).toEqual(restoreCalls);
    expect(new Set(calls)).toEqual(new Set(expected.flatMap((undo) => byUndo[undo]!)));
    const lastRestoreEnd = Math.max(
      ...recorder.calls.filter((c) => restoreCalls.includes(c.call) && c.event === 'end').map((c) => c.at),
      0,
    );
    const firstCleanupStart = Math.min(
      ...recorder.calls.filter((c) => !restoreCalls.includes(c.call) && calls.includes(c.call) && c.event === 'start').map((c) => c.at),
    );
    expect(firstCleanupStart).toBeGreaterThanOrEqual(lastRestoreEnd);
    // The target is stopped through its kubelet (a grace period), only if this migration made it from this source.
    if (expected.includes(target)) {
      const stop = recorder.calls.find((c) => c.call === 'deletePod:lab-b' && c.event === 'start')!.input as Record<string, unknown>;
      expect(stop).toMatchObject({ gracePeriodSeconds: 1, onlyIfMigrationId: progress.migrationId, onlyIfSourceUid: expect.any(String) });
      expect(stop.waitSeconds).toBeGreaterThan(0);
    }
    // Nothing after the failed step ran, and the source was never deleted or killed.
    expect(recorder.started().filter((c) => c.startsWith('deletePod:lab-a') || c === 'killFrozenPod')).toEqual([]);
  }, 60_000);

  test('cancellation mid-way (during the push) undoes what was done, and the workflow ends cancelled', async () => {
    const { error, recorder, progress } = await migrate({ blockAt: 'pushCheckpointImage:ballast' }, {}, async (id, rec) => {
      await waitForCall(rec, 'pushCheckpointImage:ballast');
      await client.workflow.getHandle(id).cancel();
    });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(progress.compensations.map((c) => c.name)).toEqual([thaw, received, images, archives, lock]);
    expect(progress.compensations.every((c) => c.ok)).toBe(true);
    // The blocked push finished (was cancelled) before its undo ran.
    const pushFailed = recorder.calls.findIndex((c) => c.call === 'pushCheckpointImage:ballast' && c.event === 'fail');
    const firstUndo = recorder.calls.findIndex((c) => c.call.startsWith('deleteImage:') && c.event === 'start');
    expect(pushFailed).toBeGreaterThanOrEqual(0);
    expect(firstUndo).toBeGreaterThan(pushFailed);
    expect(recorder.started()).not.toContain('createTargetPod');
    await Worker.runReplayHistory({ workflowBundle, replayName: 'cancellation' }, keepHistory('cancelled', await client.workflow.getHandle(progress.migrationId).fetchHistory()));
  }, 60_000);

  test('a checkpoint image the target node cannot pull ahead is left to the kubelet, with a warning; pullOnTarget=false skips the pulls', async () => {
    const failed = await migrate({ failAt: 'pullCheckpointImage:kv' });
    expect(failed.error).toBeUndefined();
    expect(failed.result!.warnings).toEqual([expect.stringContaining('pulling the checkpoint image of kv on node target-')]);
    expect(failed.recorder.started()).toContain('createTargetPod');

    const off = await migrate({}, { pullOnTarget: false });
    expect(off.error).toBeUndefined();
    expect(off.recorder.started().filter((c) => c.startsWith('pullCheckpointImage:'))).toEqual([]);
  }, 60_000);

  describe('with a registry pull identity (registry.pull): a pull secret per migration', () => {
    const pullSecret = 'delete the pull secret';
    const inputOf = (recorder: Recorder, call: string) => recorder.calls.filter((c) => c.call === call && c.event === 'start').map((c) => c.input as Record<string, unknown>);

    test('made in the target namespace before the freeze, named by the target pod, deleted once the target is Ready', async () => {
      const { error, recorder, handle } = await migrate({ registryPull: true });
      expect(error).toBeUndefined();
      const calls = withoutRuntimeDescriptions(recorder);
      expect(calls.slice(0, 4)).toEqual(['planMigration', 'pullImages', 'ensurePullSecret', 'freezePod']);
      expect(inputOf(recorder, 'ensurePullSecret')).toEqual([{ migrationId: handle.workflowId, cluster: 'lab-b', namespace: 'default' }]);
      expect(inputOf(recorder, 'createTargetPod')[0]!.pullSecret).toBe(pullSecretName(handle.workflowId));
      // The kubelet has pulled the images once the pod is Ready: the Secret goes before the source does.
      expect(calls.slice(calls.indexOf('waitPodReady') + 1, calls.indexOf('waitPodReady') + 3)).toEqual(['deletePullSecret', 'deletePod:lab-a:request']);
      expect(inputOf(recorder, 'deletePullSecret')).toEqual(inputOf(recorder, 'ensurePullSecret'));
      await Worker.runReplayHistory({ workflowBundle, replayName: 'pull secret' }, keepHistory('committed-with-pull-secret', await handle.fetchHistory()), handle.workflowId);
    }, 60_000);

    test('without one the plan names none, and no pull secret is made', async () => {
      const { error, recorder } = await migrate({});
      expect(error).toBeUndefined();
      expect(recorder.started().filter((c) => c.endsWith('PullSecret'))).toEqual([]);
      expect(inputOf(recorder, 'createTargetPod')[0]!.pullSecret).toBeUndefined();
    }, 60_000);

    test.each([
      ['ensurePullSecret', [pullSecret, lock]],
      ['waitPodReady', [target, thaw, config, received, images, archives, pullSecret, lock]],
    ])('failure at %s: the rollback deletes it, once the source runs again', async (failAt, expected) => {
      const { error, recorder, progress } = await migrate({ registryPull: true, failAt });
      expect(((error as WorkflowFailedError).cause as ApplicationFailure).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual(expected.map((name) => ({ name, ok: true })));
      expect(recorder.started().filter((c) => c === 'deletePullSecret')).toHaveLength(1);
      if (failAt === 'ensurePullSecret') expect(recorder.started()).not.toContain('freezePod');
      const resumed = recorder.calls.find((c) => c.call === 'thawPod' && c.event === 'end')?.at ?? 0;
      expect(recorder.calls.find((c) => c.call === 'deletePullSecret' && c.event === 'start')!.at).toBeGreaterThanOrEqual(resumed);
    }, 60_000);

    test('within the namespace, the pod restored at the source pulls with it too; it is deleted once that pod is Ready', async () => {
      const { error, recorder, progress, handle } = await migrate({ registryPull: true, failAt: 'waitPodReady', failOnce: true }, {}, undefined, 'lab-a');
      expect(((error as WorkflowFailedError).cause as ApplicationFailure).message).toContain('restored from its checkpoint on its source node');
      const creates = inputOf(recorder, 'createTargetPod');
      expect(creates.map((c) => [c.node, c.pullSecret])).toEqual([
        [`target-${handle.workflowId.replace('migration-', '')}`, pullSecretName(handle.workflowId)],
        [handle.workflowId.replace('migration-', 'node-'), pullSecretName(handle.workflowId)],
      ]);
      expect(progress.compensations.map((c) => c.name)).toEqual([target, 'restore source from its checkpoint images', thaw, config, received, images, archives, pullSecret, lock]);
      const calls = recorder.started();
      expect(calls.lastIndexOf('deletePullSecret')).toBeGreaterThan(calls.lastIndexOf('waitPodReady'));
      expect(calls.filter((c) => c === 'deletePullSecret')).toHaveLength(1);
    }, 60_000);
  });

  describe('node to node (transfer: direct)', () => {
    const direct = { transfer: 'direct' } as const;
    const sends = (recorder: Recorder) => recorder.started().filter((c) => /^(offer|import)CheckpointImage:|^pushCheckpointImage:/.test(c));

    test('each image is offered by the source node and imported by the target node; the registry is not used', async () => {
      const { result, error, recorder, handle } = await migrate({}, direct);
      expect(error).toBeUndefined();
      for (const c of CONTAINERS) {
        expect(sends(recorder).indexOf(`offerCheckpointImage:${c}`)).toBeLessThan(sends(recorder).indexOf(`importCheckpointImage:${c}`));
      }
      expect(sends(recorder).filter((c) => c.startsWith('push'))).toEqual([]);
      expect(recorder.started().filter((c) => c.startsWith('deleteImage:'))).toEqual([]);
      const imports = recorder.calls.filter((c) => c.call.startsWith('importCheckpointImage:') && c.event === 'start');
      expect(imports.map((c) => (c.input as { url: string }).url).sort()).toEqual(CONTAINERS.map((c) => `https://node-${handle.workflowId.replace('migration-', '')}:9470/checkpoints/${c}`).sort());
      expect(Object.values(result!.containers).map((c) => c.via)).toEqual(['direct', 'direct', 'direct']);
      const create = recorder.calls.find((c) => c.call === 'createTargetPod' && c.event === 'start')!.input as { images: Record<string, string> };
      expect(create.images.kv).toBe(`10.231.0.1:5000/podferry/checkpoints@sha256:${'kv'.padEnd(64, '0')}`);
    }, 60_000);

    test('an import that fails falls back to the registry for that container, with a warning', async () => {
      const { result, error, recorder } = await migrate({ failAt: 'importCheckpointImage:kv' }, direct);
      expect(error).toBeUndefined();
      expect(result!.containers.kv!.via).toBe('registry');
      expect(result!.containers.counter!.via).toBe('direct');
      expect(result!.warnings).toEqual([expect.stringContaining('sending the checkpoint of kv to node target-')]);
      expect(sends(recorder).filter((c) => c.startsWith('push'))).toEqual(['pushCheckpointImage:kv']);
      expect(recorder.started().filter((c) => c.startsWith('deleteImage:'))).toEqual(['deleteImage:kv']);
    }, 60_000);

    test('a failure after the transfer removes the imported images from the target node', async () => {
      const { error, recorder, progress } = await migrate({ failAt: 'waitPodReady' }, direct);
      expect(((error as WorkflowFailedError).cause as ApplicationFailure).type).toBe('MigrationRolledBack');
      expect(progress.compensations.map((c) => c.name)).toEqual([
        'stop the target pod',
        'thaw source pod',
        'delete copied config',
        'remove checkpoint images from the target node',
        'delete checkpoint images',
        'delete checkpoint archives',
        'release the source pod lock',
      ]);
      const removal = recorder.calls.find((c) => c.call === 'removeCheckpointImages' && c.event === 'start')!.input as { refs: string[] };
      expect(removal.refs).toHaveLength(3);
    }, 60_000);

    test('within the cluster, the restore at the source node imports the images from the source node\'s own archives (offers are one-shot, for the target)', async () => {
      const { error, recorder, handle } = await migrate({ failAt: 'waitPodReady', failOnce: true }, direct, undefined, 'lab-a');
      expect(((error as WorkflowFailedError).cause as ApplicationFailure).message).toContain('restored from its checkpoint on its source node');
      const started = (prefix: string) => recorder.calls.filter((c) => c.call.startsWith(prefix) && c.event === 'start');
      expect(started('importCheckpointImage:')).toHaveLength(3); // at the target
      const local = started('importLocalCheckpointImage:');
      expect(local).toHaveLength(3); // at the source, each from its container's archive
      const inputs = local.map((c) => c.input as { container: string; archivePath: string });
      expect(inputs.every((input) => input.archivePath.endsWith(`-${input.container}-x.tar`))).toBe(true);
      const restoreCreate = recorder.calls.filter((c) => c.call === 'createTargetPod' && c.event === 'start')[1]!;
      expect((restoreCreate.input as { node?: string }).node).toBe(handle.workflowId.replace('migration-', 'node-'));
      expect(local.every((c) => c.at <= restoreCreate.at)).toBe(true);
    }, 60_000);
  });

  describe('the target node says what its runtime can restore (describeRuntime), before anything is frozen', () => {
    const refusal = (error: unknown) => ((error as WorkflowFailedError).cause as ApplicationFailure).cause as ApplicationFailure;

    test('restore switched off on the target: refused as TargetCannotRestore naming node, runtime, version and setting; nothing frozen, the lock released', async () => {
      const { error, recorder, progress } = await migrate({
        runtimes: { target: { node: 'lab-c-node', runtime: 'cri-o', version: '1.35.0', restore: { enabled: false, setting: '[crio.checkpoint_restore] container_level_enabled = "checkpoint_restore"', reason: 'container_level_enabled is "checkpoint_only"' } } },
      });
      expect(error).toBeInstanceOf(WorkflowFailedError);
      // The stand-in plan's containers are containerd's: a CRI-O target is refused for its runtime first.
      expect(refusal(error)).toMatchObject({ type: 'TargetCannotRestore' });
      expect(refusal(error).message).toMatch(/node lab-c-node runs cri-o 1\.35\.0 and the pod runs on containerd/);
      expect(recorder.started()).not.toContain('freezePod');
      expect(recorder.started()).not.toContain('pullImages');
      expect(progress.compensations).toEqual([{ name: 'release the source pod lock', ok: true }]);

      const off = await migrate({ runtimes: { target: { node: 'lab-b-node', restore: { enabled: false, setting: 'enable_experimental_restore_via_create = true', reason: 'enable_experimental_restore_via_create is false (the default from 2.3.4)' } } } });
      expect(refusal(off.error)).toMatchObject({ type: 'TargetCannotRestore' });
      expect(refusal(off.error).message).toMatch(
        /^node lab-b-node \(containerd 2\.3\.7\) cannot restore containers from checkpoint images \(enable_experimental_restore_via_create is false .*\): set enable_experimental_restore_via_create = true on that node/,
      );
      expect(off.recorder.started()).not.toContain('freezePod');
    }, 60_000);

    test('a target CRIU of an older release than the source\'s is refused; an older patch level only warns', async () => {
      const older = await migrate({ runtimes: { target: { node: 'lab-b-node', criu: { binary: 'criu', version: '4.1.1' } }, source: { criu: { binary: 'criu', version: '4.2.1' } } } });
      expect(refusal(older.error)).toMatchObject({ type: 'TargetCannotRestore' });
      expect(refusal(older.error).message).toMatch(/node lab-b-node \(containerd 2\.3\.7\) has CRIU 4\.1\.1, an older release than CRIU 4\.2\.1 on the source node/);
      expect(older.recorder.started()).not.toContain('freezePod');

      const patch = await migrate({ runtimes: { target: { node: 'lab-b-node', criu: { binary: 'criu', version: '4.2.0' } } } });
      expect(patch.error).toBeUndefined();
      expect(patch.result!.warnings).toEqual([expect.stringMatching(/has CRIU 4\.2\.0, an older patch level than 4\.2\.1/)]);
      await Worker.runReplayHistory({ workflowBundle, replayName: 'runtime described' }, keepHistory('committed-runtime-described', await patch.handle.fetchHistory()), patch.handle.workflowId);
    }, 60_000);

    test('a target worker that cannot answer leaves the plan\'s checks standing, with a warning; the move goes on', async () => {
      const { result, error, recorder } = await migrate({ failAt: 'describeRuntime:target' });
      expect(error).toBeUndefined();
      expect(result!.warnings).toEqual([expect.stringMatching(/did not say what its runtime can restore .*injected failure at describeRuntime:target.*the plan's checks stand/)]);
      expect(recorder.started()).not.toContain('describeRuntime:source');
    }, 60_000);
  });

  describe('within the source cluster and namespace (DeleteThenCreate)', () => {
    const restore = 'restore source from its checkpoint images';
    const within = (script: Omit<Script, 'node'>) => migrate(script, {}, undefined, 'lab-a');
    const rolledBack = (error: unknown) => (error as WorkflowFailedError).cause as ApplicationFailure;

    test('the frozen source is deleted after the push and before the target is created; nothing is deleted after the commit', async () => {
      const { result, error, recorder, progress } = await within({});
      expect(error).toBeUndefined();
      const calls = withoutRuntimeDescriptions(recorder);
      expect(calls.slice(0, 12)).toEqual(expect.arrayContaining(['planMigration', 'pullImages', 'freezePod']));
      expect(calls.slice(12, 18)).toEqual(['deletePod:lab-a:request', 'killFrozenPod', 'deletePod:lab-a', 'ensureTargetConfig', 'createTargetPod', 'waitPodReady']);
      expect(calls[18]).toBe('deleteArchives');
      expect(calls.slice(19).every((c) => c.startsWith('deleteImage:'))).toBe(true);
      expect(calls).not.toContain('thawPod');
      expect(result).toMatchObject({ strategy: 'DeleteThenCreate', target: { cluster: 'lab-a', name: 'sample' } });
      expect(result!.phasesMs).toHaveProperty('DeletingSource');
      expect(progress).toMatchObject({ strategy: 'DeleteThenCreate', phase: 'Succeeded', compensations: [] });
    }, 60_000);

    test('the target fails to become Ready: the pod is restored on its source node from the checkpoint images, then the rest is undone', async () => {
      const { error, recorder, progress, handle } = await within({ failAt: 'waitPodReady', failOnce: true });
      const failure = rolledBack(error);
      expect(failure.type).toBe('MigrationRolledBack');
      expect(failure.message).toContain('the pod was restored from its checkpoint on its source node');
      expect(progress.compensations).toEqual(
        [target, restore, thaw, config, received, images, archives, lock].map((name) => ({
          name,
          ok: true,
        })),
      );
      // The restore: the failed target is stopped, the old pod is gone, so a pod is created again on the source
      // node with the checkpoint images, and becomes Ready; only then are the copies cleaned up.
      const afterFailure = recorder.started().slice(recorder.started().indexOf('waitPodReady') + 1);
      expect(afterFailure.slice(0, 4)).toEqual(['deletePod:lab-a', 'podLifecycle', 'createTargetPod', 'waitPodReady']);
      const creates = recorder.calls.filter((c) => c.call === 'createTargetPod' && c.event === 'start').map((c) => (c.input as { node?: string }).node);
      expect(creates).toEqual([`target-${handle.workflowId.replace('migration-', '')}`, handle.workflowId.replace('migration-', 'node-')]);
      await Worker.runReplayHistory({ workflowBundle, replayName: 'restore at source' }, keepHistory('restored-at-source', await handle.fetchHistory()), handle.workflowId);
    }, 60_000);

    test('the restore fails too: the checkpoint images and archives are kept, and the failure says where the workload is', async () => {
      const { error, recorder, progress } = await within({ failAt: 'createTargetPod' });
      const failure = rolledBack(error);
      expect(failure.type).toBe('MigrationFailed');
      expect(failure.message).toContain('The source pod was deleted and could not be restored: the workload is in its checkpoint images 10.231.0.1:5000/podferry/checkpoints@sha256:');
      // Once a restore fails, nothing that may be the workload's only copy is touched: no cleanup runs.
      expect(progress.compensations.map((c) => [c.name, c.ok])).toEqual([
        [target, true],
        [restore, false],
      ]);
      expect(recorder.started().filter((c) => c.startsWith('deleteImage:') || c === 'deleteArchives')).toEqual([]);
    }, 60_000);

    test('the source deletion is refused before it starts: the source is still there, so it is only thawed', async () => {
      const { error, recorder, progress } = await within({ failAt: 'deletePod:lab-a:request', sourceLifecycle: 'present' });
      const failure = rolledBack(error);
      expect(failure.type).toBe('MigrationRolledBack');
      expect(failure.message).toContain('the source pod continues where it was');
      expect(progress.compensations.map((c) => c.name)).toEqual([restore, thaw, received, images, archives, lock]);
      expect(progress.compensations.every((c) => c.ok)).toBe(true);
      expect(recorder.started()).not.toContain('createTargetPod');
    }, 60_000);
  });

  describe("a StatefulSet's pod within its cluster (DeleteThenCreate behind the pod name fence)", () => {
    const restore = 'restore source from its checkpoint images';
    const fence = 'lift the pod name fence';
    const stateful = (script: Omit<Script, 'node'> = {}) => migrate({ ...script, statefulSetPods: ['sample'] }, {}, undefined, 'lab-a');
    const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as ApplicationFailure;

    test('the name is fenced before the freeze and lifted once the restored pod is Ready, before anything else', async () => {
      const { error, recorder, handle } = await stateful();
      expect(error).toBeUndefined();
      const calls = withoutRuntimeDescriptions(recorder);
      expect(calls.slice(0, 4)).toEqual(['planMigration', 'pullImages', 'raisePodNameFence', 'freezePod']);
      expect(calls.slice(calls.indexOf('createTargetPod'), calls.indexOf('createTargetPod') + 3)).toEqual(['createTargetPod', 'waitPodReady', 'liftPodNameFence']);
      const fenced = { cluster: 'lab-a', namespace: 'default', pod: 'sample', migrationId: handle.workflowId };
      expect(recorder.calls.filter((c) => c.call.endsWith('PodNameFence') && c.event === 'start').map((c) => c.input)).toEqual([fenced, fenced]);
      await Worker.runReplayHistory({ workflowBundle, replayName: 'statefulset pod moved' }, keepHistory('committed-statefulset-fenced', await handle.fetchHistory()), handle.workflowId);
    }, 60_000);

    test('the fence cannot be proven: nothing was frozen; the fence is lifted and the lock released', async () => {
      const { error, recorder, progress } = await stateful({ failAt: 'raisePodNameFence' });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([fence, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started()).not.toContain('freezePod');
    }, 60_000);

    test('the restored pod fails to become Ready: the pod is restored on its source node (through the fence), and only then is the fence lifted', async () => {
      const { error, recorder, progress } = await stateful({ failAt: 'waitPodReady', failOnce: true });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations.map((c) => c.name)).toEqual([target, restore, thaw, config, received, images, archives, fence, lock]);
      const started = recorder.started();
      expect(started.lastIndexOf('liftPodNameFence')).toBeGreaterThan(started.lastIndexOf('waitPodReady'));
    }, 60_000);

    test('the restore fails too: the name stays fenced (the StatefulSet starts no empty pod), and the failure says how to lift it', async () => {
      const { error, recorder } = await stateful({ failAt: 'createTargetPod' });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationFailed');
      expect(failure.message).toContain('Its name stays fenced, so that StatefulSet web starts no fresh pod of it');
      expect(failure.message).toContain(`patch configmap podferry-fence --type=json -p '[{"op":"remove","path":"/data/sample"}]'`);
      expect(recorder.started()).not.toContain('liftPodNameFence');
    }, 60_000);
  });

  describe("a ReplicaSet's pod within its cluster (AdoptByReplicaSet)", () => {
    const cost = "restore the source's deletion cost";
    const takeBack = 'take the copy back from the ReplicaSet';
    const owned = (script: Omit<Script, 'node'> = {}) => migrate({ ...script, replicaSetPods: ['sample'] }, {}, undefined, 'lab-a');
    const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as ApplicationFailure;
    const inputsOf = (recorder: Recorder, call: string) => recorder.calls.filter((c) => c.call === call && c.event === 'start').map((c) => c.input as Record<string, unknown>);
    const copyName = (handle: { workflowId: string }) => replicaSetCopyName('sample-7d9f8c6b5', handle.workflowId);

    test('the source gets the lowest deletion cost before the freeze; the copy is handed over once Ready; the ReplicaSet deleting the source commits; then the source is killed', async () => {
      const { result, error, recorder, progress, handle } = await owned();
      expect(error).toBeUndefined();
      const calls = withoutRuntimeDescriptions(recorder);
      expect(calls.slice(0, 4)).toEqual(['planMigration', 'pullImages', 'setPodDeletionCost', 'freezePod']);
      expect(inputsOf(recorder, 'setPodDeletionCost')).toEqual([expect.objectContaining({ cluster: 'lab-a', name: 'sample', uid: expect.any(String), cost: '-2147483648' })]);
      const fromCreate = calls.slice(calls.indexOf('createTargetPod'));
      expect(fromCreate.slice(0, 6)).toEqual(['createTargetPod', 'waitPodReady', 'handOverToReplicaSet', 'awaitReplicaSetChoice', 'killFrozenPod', 'deletePod:lab-a']);
      // The ReplicaSet requested the source's deletion: podferry only waits for it to be gone, and thaws nothing.
      expect(calls).not.toContain('deletePod:lab-a:request');
      expect(calls).not.toContain('thawPod');
      expect(calls).not.toContain('takeBackFromReplicaSet');
      expect(inputsOf(recorder, 'handOverToReplicaSet')[0]).toMatchObject({
        cluster: 'lab-a',
        namespace: 'default',
        copy: { name: copyName(handle), migrationId: handle.workflowId },
        labels: { 'app.kubernetes.io/name': 'podferry-sample', tier: 'demo' },
      });
      expect(inputsOf(recorder, 'awaitReplicaSetChoice')[0]).toMatchObject({ source: { name: 'sample' }, copy: { name: copyName(handle) }, copyUid: 'target-uid' });
      expect(result).toMatchObject({ strategy: 'AdoptByReplicaSet', target: { cluster: 'lab-a', namespace: 'default', name: copyName(handle) } });
      expect(progress).toMatchObject({ strategy: 'AdoptByReplicaSet', phase: 'Succeeded', compensations: [] });
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'kill' });
      await Worker.runReplayHistory({ workflowBundle, replayName: 'adopted by the ReplicaSet' }, keepHistory('committed-adopted-by-replicaset', await handle.fetchHistory()), handle.workflowId);
    }, 60_000);

    test('the deletion cost cannot be set: nothing was frozen; the cost is put back and the lock released', async () => {
      const { error, recorder, progress } = await owned({ failAt: 'setPodDeletionCost', failOnce: true });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([cost, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started()).not.toContain('freezePod');
    }, 60_000);

    test.each(['createTargetPod', 'waitPodReady'])('%s fails: before the hand-over, the copy is stopped, the source thawed, its deletion cost put back', async (step) => {
      const { error, recorder, progress, handle } = await owned({ failAt: step });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([target, thaw, config, received, images, archives, cost, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started()).not.toContain('handOverToReplicaSet');
      expect(inputsOf(recorder, 'deletePod:lab-a')[0]).toMatchObject({ name: copyName(handle), onlyIfMigrationId: handle.workflowId, gracePeriodSeconds: 1 });
      expect(inputsOf(recorder, 'setPodDeletionCost').map((i) => i.cost)).toEqual(['-2147483648', undefined]);
    }, 60_000);

    test.each(['handOverToReplicaSet', 'awaitReplicaSetChoice'])('%s fails (for awaitReplicaSetChoice: the ReplicaSet chose neither in time): the copy is taken back before it is stopped, then the source thawed', async (step) => {
      const { error, recorder, progress } = await owned({ failAt: step });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([takeBack, target, thaw, config, received, images, archives, cost, lock].map((name) => ({ name, ok: true })));
      const undos = recorder.started().slice(recorder.started().indexOf(step) + 1);
      expect(undos.slice(0, 3)).toEqual(['takeBackFromReplicaSet', 'deletePod:lab-a', 'thawPod']);
      expect(inputsOf(recorder, 'takeBackFromReplicaSet')[0]).toMatchObject({ labels: { 'app.kubernetes.io/name': 'podferry-sample', tier: 'demo' } });
    }, 60_000);

    test('the ReplicaSet deletes the copy instead (it was not Ready at that instant): rolled back, the copy proven stopped before the source thaws', async () => {
      const { error, recorder, progress } = await owned({ replicaSetDeletes: 'copy' });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationRolledBack');
      expect((failure.cause as ApplicationFailure).type).toBe('ReplicaSetDeletedCopy');
      expect(failure.message).toContain('the source pod continues where it was');
      expect(progress.compensations).toEqual([takeBack, target, thaw, config, received, images, archives, cost, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started()).not.toContain('killFrozenPod');
      const undos = recorder.started().slice(recorder.started().indexOf('awaitReplicaSetChoice') + 1);
      expect(undos.slice(0, 3)).toEqual(['takeBackFromReplicaSet', 'deletePod:lab-a', 'thawPod']);
    }, 60_000);

    test('the ReplicaSet deleted the source while the copy was taken back: the copy is the workload, handed back; the source is killed, never thawed; the failure says so', async () => {
      const { error, recorder, progress, handle } = await owned({ failAt: 'awaitReplicaSetChoice', sourceDeletedOnTakeBack: true });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationFailed');
      expect(failure.message).toContain(`deleted the source pod sample while the move rolled back: the copy ${copyName(handle)}`);
      expect(failure.message).toContain('the frozen source was killed');
      expect(progress.compensations.map((c) => [c.name, c.ok])).toEqual([[takeBack, false]]);
      const undos = recorder.started().slice(recorder.started().indexOf('awaitReplicaSetChoice') + 1);
      expect(undos).toEqual(['takeBackFromReplicaSet', 'handOverToReplicaSet', 'killFrozenPod']);
      // The kill's fence is above the freeze's: no late thaw can resume the source.
      expect(inputsOf(recorder, 'killFrozenPod')[0]!.fence as number).toBeGreaterThan(1);
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'kill' });
    }, 60_000);

    test('maxFrozenSeconds bounds the wait for the ReplicaSet too: the wait is cancelled and the copy taken back', async () => {
      const { error, progress } = await migrate({ replicaSetPods: ['sample'], blockAt: 'awaitReplicaSetChoice' }, { maxFrozenSeconds: 5 }, undefined, 'lab-a');
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationRolledBack');
      expect((failure.cause as ApplicationFailure).type).toBe('FrozenTooLong');
      expect(progress.compensations.map((c) => c.name).slice(0, 3)).toEqual([takeBack, target, thaw]);
    }, 60_000);
  });

  describe("a Deployment's pod to another cluster (the target's Deployment adopts the copy, the source's is scaled down)", () => {
    const cost = "restore the source's deletion cost";
    const fence = 'lift the owner fence';
    const created = 'delete the target Deployment this migration created';
    const moved = (script: Omit<Script, 'node'> = {}) => migrate({ ...script, deploymentPods: ['sample'] });
    const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as ApplicationFailure;
    const inputsOf = (recorder: Recorder, call: string) => recorder.calls.filter((c) => c.call === call && c.event === 'start').map((c) => c.input as Record<string, unknown>);

    test('cost, target Deployment and owner fence before the freeze; after the commit: scale the target up, labels back, adopted, fence lifted, scale the source down, then the source goes', async () => {
      const { result, error, recorder, progress, handle } = await moved();
      expect(error).toBeUndefined();
      const calls = withoutRuntimeDescriptions(recorder);
      expect(calls.slice(0, 6)).toEqual(['planMigration', 'pullImages', 'setPodDeletionCost', 'prepareTargetDeployment', 'raiseOwnerFence', 'freezePod']);
      expect(calls.slice(calls.indexOf('createTargetPod'), calls.indexOf('deleteArchives'))).toEqual([
        'createTargetPod',
        'waitPodReady',
        'scaleDeployment:lab-b',
        'handOverToReplicaSet',
        'awaitPodOwner',
        'liftOwnerFence',
        'scaleDeployment:lab-a',
        'awaitPodDeletion',
        'deletePod:lab-a:request',
        'killFrozenPod',
        'deletePod:lab-a',
      ]);
      expect(inputsOf(recorder, 'setPodDeletionCost')).toEqual([expect.objectContaining({ cluster: 'lab-a', name: 'sample', cost: '-2147483648' })]);
      expect(inputsOf(recorder, 'prepareTargetDeployment')[0]).toMatchObject({
        migrationId: handle.workflowId,
        source: { cluster: 'lab-a', namespace: 'default', name: 'sample', uid: 'deployment-uid' },
        target: { cluster: 'lab-b', namespace: 'default' },
        templateHash: '7d9f8c6b5',
      });
      const ownerFence = { cluster: 'lab-b', namespace: 'default', owner: { kind: 'ReplicaSet', name: 'sample-7d9f8c6b5', uid: 'target-rs-uid' }, migrationId: handle.workflowId };
      expect([...inputsOf(recorder, 'raiseOwnerFence'), ...inputsOf(recorder, 'liftOwnerFence')]).toEqual([ownerFence, ownerFence]);
      expect(inputsOf(recorder, 'scaleDeployment:lab-b')).toEqual([{ cluster: 'lab-b', namespace: 'default', name: 'sample', uid: 'target-deployment-uid', by: 1, migrationId: handle.workflowId }]);
      expect(inputsOf(recorder, 'scaleDeployment:lab-a')).toEqual([{ cluster: 'lab-a', namespace: 'default', name: 'sample', uid: 'deployment-uid', by: -1, migrationId: handle.workflowId }]);
      expect(inputsOf(recorder, 'handOverToReplicaSet')[0]).toMatchObject({
        cluster: 'lab-b',
        copy: { name: 'sample', migrationId: handle.workflowId },
        labels: { 'app.kubernetes.io/name': 'podferry-sample', tier: 'demo' },
      });
      expect(inputsOf(recorder, 'awaitPodOwner')[0]).toMatchObject({ cluster: 'lab-b', name: 'sample', uid: 'target-uid', ownerUid: 'target-rs-uid' });
      expect(inputsOf(recorder, 'awaitPodDeletion')[0]).toMatchObject({ cluster: 'lab-a', name: 'sample' });
      expect(calls).not.toContain('thawPod');
      expect(result).toMatchObject({ strategy: 'CreateThenDelete', target: { cluster: 'lab-b', namespace: 'default', name: 'sample' }, warnings: [] });
      expect(progress).toMatchObject({ phase: 'Succeeded', compensations: [] });
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'kill' });
      await Worker.runReplayHistory({ workflowBundle, replayName: 'deployment pod moved' }, keepHistory('committed-deployment-moved', await handle.fetchHistory()), handle.workflowId);
    }, 60_000);

    test.each([
      ['prepareTargetDeployment', [created, cost, lock]],
      ['raiseOwnerFence', [fence, created, cost, lock]],
    ])('%s fails: nothing was frozen; what was done is undone', async (step, undos) => {
      const { error, recorder, progress } = await moved({ failAt: step });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual(undos.map((name) => ({ name, ok: true })));
      expect(recorder.started()).not.toContain('freezePod');
    }, 60_000);

    test('the copy fails to become Ready: it is stopped, the source thawed, its cost put back, the fence lifted and the Deployment made for it deleted; nothing is scaled', async () => {
      const { error, recorder, progress, handle } = await moved({ failAt: 'waitPodReady' });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([target, thaw, config, received, images, archives, fence, created, cost, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started().filter((c) => c.startsWith('scaleDeployment') || c === 'handOverToReplicaSet')).toEqual([]);
      expect(inputsOf(recorder, 'deletePod:lab-b')[0]).toMatchObject({ name: 'sample', onlyIfMigrationId: handle.workflowId, gracePeriodSeconds: 1 });
      expect(inputsOf(recorder, 'setPodDeletionCost').map((i) => i.cost)).toEqual(['-2147483648', undefined]);
      expect(inputsOf(recorder, 'deleteCreatedDeployment')).toEqual([{ migrationId: handle.workflowId, cluster: 'lab-b', namespace: 'default', name: 'sample' }]);
    }, 60_000);

    test('the copy cannot be proven stopped: nothing is cleaned up, and the failure says the target ReplicaSet stays fenced and how to lift it', async () => {
      const { error, recorder } = await moved({ failAt: ['waitPodReady', 'deletePod:lab-b'] });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationFailed');
      expect(failure.message).toContain(
        'The pods of ReplicaSet default/sample-7d9f8c6b5 in cluster lab-b stay fenced (and Deployment sample, made for the move with 0 replicas, stays); once the workload is settled: ' +
          `kubectl --context lab-b -n default patch configmap podferry-fence --type=json -p '[{"op":"remove","path":"/data/owner_target-rs-uid"}]'.`,
      );
      expect(recorder.started().filter((c) => ['liftOwnerFence', 'deleteCreatedDeployment', 'thawPod'].includes(c))).toEqual([]);
    }, 60_000);

    test('after the commit, the adoption fails: committed, the source left frozen, and the failure lists what is left to do by hand', async () => {
      const { error, recorder, handle } = await moved({ failAt: 'awaitPodOwner' });
      const failure = failureOf(error);
      expect(failure.type).toBe('SourceNotRemoved');
      expect(failure.message).toContain('migration committed: the target pod default/sample in cluster lab-b runs the workload, but waiting for ReplicaSet sample-7d9f8c6b5 to adopt');
      expect(failure.message).toContain(
        "Left to do by hand, in this order: 1. check that ReplicaSet sample-7d9f8c6b5 owns the pod: kubectl --context lab-b -n default get pod sample -o jsonpath='{.metadata.ownerReferences[*].name}'; " +
          `2. kubectl --context lab-b -n default patch configmap podferry-fence --type=json -p '[{"op":"remove","path":"/data/owner_target-rs-uid"}]'; ` +
          `3. kubectl --context lab-a -n default scale deployment sample --current-replicas=2 --replicas=1 (unless its annotation podferry.io/scaled-by names ${handle.workflowId}); ` +
          'its ReplicaSet then deletes the frozen source, its cheapest pod. The source pod default/sample',
      );
      expect(failure.message).toContain('is still frozen; then, if its owner has not, delete it');
      const started = recorder.started();
      expect(started.filter((c) => ['liftOwnerFence', 'scaleDeployment:lab-a', 'killFrozenPod', 'thawPod'].includes(c) || c.startsWith('deletePod:lab-a'))).toEqual([]);
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'hold' });
    }, 60_000);

    test('after the commit, the target cannot be scaled up: every step is left, the first with the replicas it had', async () => {
      const { error, handle } = await moved({ failAt: 'scaleDeployment:lab-b', targetDeploymentExists: true });
      const failure = failureOf(error);
      expect(failure.type).toBe('SourceNotRemoved');
      expect(failure.message).toContain(
        `1. kubectl --context lab-b -n default scale deployment sample --current-replicas=1 --replicas=2 (unless its annotation podferry.io/scaled-by names ${handle.workflowId}); ` +
          "2. kubectl --context lab-b -n default label pod sample app.kubernetes.io/name=podferry-sample tier=demo && kubectl --context lab-b -n default annotate pod sample podferry.io/stashed-labels-; 3. check",
      );
    }, 60_000);

    test('the source\'s ReplicaSet deletes a sibling instead of the source: a warning says so, and podferry deletes the source itself', async () => {
      const { result, error, recorder } = await moved({ scaleDownDeletes: 'sibling' });
      expect(error).toBeUndefined();
      expect(result?.warnings).toEqual([
        'ReplicaSet default/sample-7d9f8c6b5 in cluster lab-a did not delete the frozen source pod sample within 10s of the scale-down: it may have deleted another of its pods ' +
          '(one not Ready at that instant) instead; podferry deletes the source itself, and the ReplicaSet starts a fresh pod in place of the one it deleted',
      ]);
      const calls = recorder.started();
      expect(calls.slice(calls.indexOf('awaitPodDeletion'), calls.indexOf('awaitPodDeletion') + 4)).toEqual(['awaitPodDeletion', 'deletePod:lab-a:request', 'killFrozenPod', 'deletePod:lab-a']);
    }, 60_000);
  });

  describe("a StatefulSet's pod to another cluster (the target's StatefulSet takes the ordinal over, the source's gives it up)", () => {
    const created = 'delete the target StatefulSet this migration created';
    const moved = (script: Omit<Script, 'node'> = {}) => migrate({ ...script, statefulSetPods: ['sample'] });
    const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as ApplicationFailure;
    const inputsOf = (recorder: Recorder, call: string) => recorder.calls.filter((c) => c.call === call && c.event === 'start').map((c) => c.input as Record<string, unknown>);

    test('the target StatefulSet before the freeze (no fence); after the commit: the target range takes the ordinal, labels back, adopted, the source range gives it up, then the source goes', async () => {
      const { result, error, recorder, progress, handle } = await moved();
      expect(error).toBeUndefined();
      const calls = withoutRuntimeDescriptions(recorder);
      expect(calls.slice(0, 4)).toEqual(['planMigration', 'pullImages', 'prepareTargetStatefulSet', 'freezePod']);
      expect(calls.filter((c) => c.endsWith('Fence') || c === 'setPodDeletionCost')).toEqual([]);
      expect(calls.slice(calls.indexOf('createTargetPod'), calls.indexOf('deleteArchives'))).toEqual([
        'createTargetPod',
        'waitPodReady',
        'setStatefulSetOrdinals:lab-b',
        'handOverToReplicaSet',
        'awaitPodOwner',
        'setStatefulSetOrdinals:lab-a',
        'deletePod:lab-a:request',
        'killFrozenPod',
        'deletePod:lab-a',
      ]);
      expect(inputsOf(recorder, 'prepareTargetStatefulSet')).toEqual([
        {
          migrationId: handle.workflowId,
          source: { cluster: 'lab-a', namespace: 'default', name: 'web', uid: 'sts-uid' },
          target: { cluster: 'lab-b', namespace: 'default' },
          ordinal: 2,
          range: { start: 2, replicas: 0 },
          revision: 'web-6c9b7d5f4',
          timeoutSeconds: 60,
        },
      ]);
      expect(inputsOf(recorder, 'setStatefulSetOrdinals:lab-b')).toEqual([
        { cluster: 'lab-b', namespace: 'default', name: 'web', uid: 'target-sts-uid', from: { start: 2, replicas: 0 }, to: { start: 2, replicas: 1 } },
      ]);
      expect(inputsOf(recorder, 'setStatefulSetOrdinals:lab-a')).toEqual([
        { cluster: 'lab-a', namespace: 'default', name: 'web', uid: 'sts-uid', from: { start: 0, replicas: 3 }, to: { start: 0, replicas: 2 } },
      ]);
      expect(inputsOf(recorder, 'handOverToReplicaSet')[0]).toMatchObject({ cluster: 'lab-b', copy: { name: 'sample', migrationId: handle.workflowId } });
      expect(inputsOf(recorder, 'awaitPodOwner')[0]).toMatchObject({ cluster: 'lab-b', name: 'sample', uid: 'target-uid', ownerUid: 'target-sts-uid' });
      expect(calls).not.toContain('thawPod');
      expect(result).toMatchObject({ strategy: 'CreateThenDelete', target: { cluster: 'lab-b', namespace: 'default', name: 'sample' }, warnings: [] });
      expect(progress).toMatchObject({ phase: 'Succeeded', compensations: [] });
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'kill' });
      await Worker.runReplayHistory({ workflowBundle, replayName: 'statefulset pod moved' }, keepHistory('committed-statefulset-moved', await handle.fetchHistory()), handle.workflowId);
    }, 60_000);

    test('the target StatefulSet does not reach the source\'s revision: nothing was frozen; the StatefulSet made for it is deleted and the lock released', async () => {
      const { error, recorder, progress } = await moved({ failAt: 'prepareTargetStatefulSet' });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([created, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started()).not.toContain('freezePod');
    }, 60_000);

    test('the copy fails to become Ready: it is stopped, the source thawed, and the StatefulSet made for it deleted; no range is changed', async () => {
      const { error, recorder, progress, handle } = await moved({ failAt: 'waitPodReady' });
      expect(failureOf(error).type).toBe('MigrationRolledBack');
      expect(progress.compensations).toEqual([target, thaw, config, received, images, archives, created, lock].map((name) => ({ name, ok: true })));
      expect(recorder.started().filter((c) => c.startsWith('setStatefulSetOrdinals') || c === 'handOverToReplicaSet')).toEqual([]);
      expect(inputsOf(recorder, 'deleteCreatedStatefulSet')).toEqual([{ migrationId: handle.workflowId, cluster: 'lab-b', namespace: 'default', name: 'web' }]);
    }, 60_000);

    test('the copy cannot be proven stopped: nothing is cleaned up, and the failure says the StatefulSet made for the move stays', async () => {
      const { error, recorder } = await moved({ failAt: ['waitPodReady', 'deletePod:lab-b'] });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationFailed');
      expect(failure.message).toContain('StatefulSet default/web in cluster lab-b, made for the move with no replicas, stays.');
      expect(recorder.started().filter((c) => ['deleteCreatedStatefulSet', 'thawPod'].includes(c))).toEqual([]);
    }, 60_000);

    test('after the commit, the adoption fails: committed, the source left frozen, and the failure lists what is left to do by hand', async () => {
      const { error, recorder, handle } = await moved({ failAt: 'awaitPodOwner', targetStatefulSetExists: true });
      const failure = failureOf(error);
      expect(failure.type).toBe('SourceNotRemoved');
      expect(failure.message).toContain('migration committed: the target pod default/sample in cluster lab-b runs the workload, but waiting for StatefulSet web to adopt');
      expect(failure.message).toContain(
        "Left to do by hand, in this order: 1. check that StatefulSet web owns the pod: kubectl --context lab-b -n default get pod sample -o jsonpath='{.metadata.ownerReferences[*].name}'; " +
          `2. kubectl --context lab-a -n default patch statefulset web --type=merge -p '{"spec":{"ordinals":{"start":0},"replicas":2}}' (if it still runs ordinals 0–2). ` +
          'The source pod default/sample',
      );
      expect(failure.message).toContain('is still frozen; then, if its owner has not, delete it');
      expect(recorder.started().filter((c) => ['setStatefulSetOrdinals:lab-a', 'killFrozenPod', 'thawPod'].includes(c) || c.startsWith('deletePod:lab-a'))).toEqual([]);
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'hold' });
    }, 60_000);

    test('after the commit, the target range cannot be set: every step is left, the first from the range it had', async () => {
      const { error } = await moved({ failAt: 'setStatefulSetOrdinals:lab-b', targetStatefulSetExists: true });
      const failure = failureOf(error);
      expect(failure.type).toBe('SourceNotRemoved');
      expect(failure.message).toContain(
        `setting the range of StatefulSet default/web in cluster lab-b from ordinals 3–4 to ordinals 2–4 (ordinal 2 joins its range; its own create of sample fails on the restored pod, which holds the name) failed`,
      );
      expect(failure.message).toContain(
        `1. kubectl --context lab-b -n default patch statefulset web --type=merge -p '{"spec":{"ordinals":{"start":2},"replicas":3}}' (if it still runs ordinals 3–4); ` +
          '2. kubectl --context lab-b -n default label pod sample app.kubernetes.io/name=podferry-sample tier=demo && kubectl --context lab-b -n default annotate pod sample podferry.io/stashed-labels-; 3. check',
      );
    }, 60_000);
  });

  describe('safety (invariants 1-3 and 6; the same on the lab: test/faults)', () => {
    const failureOf = (error: unknown) => (error as WorkflowFailedError).cause as ApplicationFailure;
    const inputOf = (recorder: Recorder, call: string) => recorder.calls.filter((c) => c.call === call && c.event === 'start').map((c) => c.input as Record<string, unknown>);

    test('the target cannot be proven stopped: the source stays frozen and locked, nothing is cleaned up, and the failure says so', async () => {
      const { error, recorder, progress, handle } = await migrate({ failAt: ['waitPodReady', 'deletePod:lab-b'] });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationFailed');
      expect(failure.message).toContain('the target pod could not be proven stopped');
      expect(failure.message).toContain('stays frozen and locked');
      expect(progress.compensations.map((c) => [c.name, c.ok])).toEqual([[target, false]]);
      expect(recorder.started().filter((c) => COMPENSATION_CALLS.has(c) || c.startsWith('deleteImage:'))).toEqual(['deletePod:lab-b']);
      expect(progress.phase).toBe('Failed');
      // The node's safety net is told to hold the source.
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'hold' });
    }, 60_000);

    test('options.maxFrozenSeconds: a push that outlasts it is cancelled, the source resumes first, then the cleanups run', async () => {
      const started = Date.now();
      const { error, recorder, progress, handle } = await migrate({ blockAt: 'pushCheckpointImage:ballast' }, { maxFrozenSeconds: 5 });
      const failure = failureOf(error);
      expect(failure.type).toBe('MigrationRolledBack');
      expect(failure.message).toContain('options.maxFrozenSeconds (5s)');
      expect((failure.cause as ApplicationFailure).type).toBe('FrozenTooLong');
      expect(progress.compensations.map((c) => c.name)).toEqual([thaw, received, images, archives, lock]);
      const frozenAt = recorder.calls.find((c) => c.call === 'freezePod' && c.event === 'end')!.at;
      const thawedAt = recorder.calls.find((c) => c.call === 'thawPod' && c.event === 'end')!.at;
      console.log(`maxFrozenSeconds 5: thawed ${thawedAt - frozenAt} ms after the freeze (whole run ${Date.now() - started} ms)`);
      expect(thawedAt - frozenAt).toBeGreaterThanOrEqual(5000);
      expect(thawedAt - frozenAt).toBeLessThan(20_000);
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'thaw' });
    }, 60_000);

    test('node calls are fenced: the freeze takes fence 1 and the thaw a higher one, both naming the migration', async () => {
      const { recorder, handle } = await migrate({ failAt: 'checkpointContainer:kv' });
      const [freeze] = inputOf(recorder, 'freezePod');
      const [thawed] = inputOf(recorder, 'thawPod');
      expect(freeze).toMatchObject({ migrationId: handle.workflowId, fence: 1, sweepAfterMs: (180 + 10) * 1000 });
      expect(thawed).toMatchObject({ migrationId: handle.workflowId });
      expect(thawed!.fence as number).toBeGreaterThan(1);
    }, 60_000);

    test('after the commit: the source deletion cannot be requested, so it is not killed (the kubelet would restart it) and the run fails as SourceNotRemoved', async () => {
      const { error, recorder, handle } = await migrate({ failAt: 'deletePod:lab-a:request' });
      const failure = failureOf(error);
      expect(failure.type).toBe('SourceNotRemoved');
      expect(failure.message).toContain('migration committed: the target pod default/sample in cluster lab-b runs the workload');
      expect(recorder.started()).not.toContain('killFrozenPod');
      expect(recorder.started()).not.toContain('thawPod');
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'hold' });
    }, 60_000);

    test('after the commit: the kill takes a fence above the freeze, and the memo says kill once the deletion is requested', async () => {
      const { error, recorder, handle } = await migrate({});
      expect(error).toBeUndefined();
      expect(inputOf(recorder, 'killFrozenPod')[0]).toMatchObject({ migrationId: handle.workflowId, fence: 2 });
      expect((await handle.describe()).memo).toMatchObject({ sourceOnAbort: 'kill' });
    }, 60_000);
  });

  test('one migration per pod at a time: a second start while one runs is refused, naming the running one', async () => {
    const pod = { cluster: 'lab-a', namespace: 'default', pod: `busy-${Date.now().toString(36)}` };
    // Default ids are per source pod: a running migration of that pod (here one no worker picks up) holds it.
    const running = await startMigration(client, { source: pod, target: { cluster: 'lab-b' } }, { taskQueue: 'nobody-polls-this' });
    expect(running.workflowId).toBe(defaultMigrationId(pod));
    const second = startMigration(client, { source: pod, target: { cluster: 'lab-b' } }, { taskQueue: 'nobody-polls-this' });
    await expect(second).rejects.toThrow(MigrationInProgress);
    await expect(second).rejects.toThrow(
      `a migration of lab-a/default/${pod.pod} is already running (podferry-lab-a-default-${pod.pod}): follow it with \`podferry status`,
    );
    await running.terminate('test done');
    // Once it has ended, the pod can be migrated again under the same id.
    const again = await startMigration(client, { source: pod, target: { cluster: 'lab-b' } }, { taskQueue: 'nobody-polls-this' });
    await again.terminate('test done');
  }, 60_000);

  test('invalid input is rejected as InvalidInput before any activity runs', async () => {
    const id = `invalid-${Date.now().toString(36)}`;
    const recorder = new Recorder();
    const activities = createRecordingStandInActivities(recorder, { node: `node-${id}` });
    const taskQueue = `podferry-test-${id}`;
    const worker = await Worker.create({ connection, taskQueue, workflowBundle, activities: activities.orchestrator });
    const error = await worker.runUntil(
      client.workflow
        .execute(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: id,
          // What a hand-filled Web UI form might send: bypasses the client's own validation.
          args: [{ source: { cluster: 'lab-a', namespace: 'Default', pod: 'sample' }, target: {}, options: { parallel: 'yes' } }],
        })
        .catch((err: unknown) => err),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toMatch(/^invalid input: source.namespace: .*target.cluster: .*options.parallel: /);
    expect(recorder.calls).toEqual([]);
  }, 60_000);

  test('a worker killed mid-migration (SIGKILL) and restarted: the migration completes, finished steps are not repeated', async () => {
    const id = `kill-${Date.now().toString(36)}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'podferry-kill-'));
    const recordFile = path.join(dir, 'calls.jsonl');
    const taskQueue = `podferry-test-${id}`;
    const node = `node-${id}`;
    const startWorker = (script: Script): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', path.join(repo, 'test/support/ts-resolve.mjs'), path.join(repo, 'test/support/worker-process.ts')], {
          cwd: repo,
          env: {
            ...process.env,
            NODE_OPTIONS: '',
            TEMPORAL_ADDRESS: temporal.address,
            TASK_QUEUE: taskQueue,
            WORKFLOW_BUNDLE: bundlePath,
            RECORD_FILE: recordFile,
            TARGET_NODE: `target-${id}`,
            SCRIPT: JSON.stringify(script),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        process.once('exit', () => child.kill('SIGKILL')); // never outlive the test process
        child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
        child.on('exit', (code) => reject(new Error(`worker process exited (${code}) before it was ready: ${stderr.slice(-1500)}`)));
      });
    const recorded = (): RecordedCall[] =>
      existsSync(recordFile) ? readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RecordedCall) : [];
    const started = () => recorded().filter((c) => c.event === 'start').map((c) => c.call);

    const first = await startWorker({ node, blockAt: 'waitPodReady' });
    const handle = await startMigration(client, request({}, 'lab-b', `target-${id}`), { taskQueue, migrationId: `migration-${id}` });
    const deadline = Date.now() + 60_000;
    while (!started().includes('waitPodReady')) {
      if (Date.now() > deadline) throw new Error(`waitPodReady never started: ${started().join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const second = await startWorker({ node });
    try {
      const result = await handle.result();
      expect(result.target.name).toBe('sample');
      expect((await handle.query(progressQuery)).phase).toBe('Succeeded');
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    const calls = started();
    // The in-flight activity ran again after its heartbeat timed out; nothing finished before the kill was repeated.
    expect(calls.filter((c) => c === 'waitPodReady')).toHaveLength(2);
    for (const once of ['planMigration', 'freezePod', 'ensureTargetConfig', 'createTargetPod', ...CONTAINERS.map((c) => `checkpointContainer:${c}`)]) {
      expect(calls.filter((c) => c === once)).toHaveLength(1);
    }
    expect(calls).toContain('deletePod:lab-a');
    expect(calls).not.toContain('thawPod');
  }, 120_000);

  test('the podferry CLI: migrate --wait --json prints the result; the human form prints the timing table; list shows it', async () => {
    const id = `cli-${Date.now().toString(36)}`;
    const recorder = new Recorder();
    const activities = createRecordingStandInActivities(recorder, { node: `node-${id}` });
    const taskQueue = `podferry-test-${id}`;
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-cli-')), 'podferry.yaml');
    writeFileSync(
      configFile,
      [
        `temporal: { address: "${temporal.address}", namespace: default, taskQueue: ${taskQueue} }`,
        'clusters:',
        '  lab-a: { kubeconfig: /nonexistent/kubeconfig }',
        '  lab-b: { kubeconfig: /nonexistent/kubeconfig }',
        '',
      ].join('\n'),
    );
    const cli = (...args: string[]) => runProcess(process.execPath, ['--import', path.join(repo, 'test/support/ts-resolve.mjs'), path.join(repo, 'src/cli/podferry.ts'), '--config', configFile, ...args]);
    const orchestrator = await Worker.create({ connection, taskQueue, workflowBundle, activities: activities.orchestrator });
    const node = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', `node-${id}`), activities: activities.node });
    await orchestrator.runUntil(
      node.runUntil(async () => {
        const json = await cli('migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-b', '--id', `${id}-1`, '--wait', '--json');
        expect(json.code).toBe(0);
        const parsed = JSON.parse(json.stdout) as { migrationId: string; status: string; result: MigrationResult };
        expect(parsed).toMatchObject({ migrationId: `${id}-1`, status: 'Succeeded' });
        expect(parsed.result.bytesPushed).toBe(3000);

        const human = await cli('migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-b', '--id', `${id}-2`, '--wait', '--sequential');
        expect(human.code).toBe(0);
        expect(human.stdout).toContain('migrated lab-a/default/sample → lab-b/default/sample');
        expect(human.stdout).toMatch(/downtime\s+\d+\.\d\d s\s+\(source frozen → target Ready\)/);
        expect(human.stdout).toMatch(/ballast\s+\d+\.\d\d s/);
        expect(human.stdout).toContain('(sequential)');

        const unknown = await cli('migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-z');
        expect(unknown.code).toBe(1);
        expect(unknown.stderr).toContain('cluster "lab-z" is not in the configuration (known: lab-a, lab-b)');

        const list = await cli('list', '--json');
        expect((JSON.parse(list.stdout) as Array<{ migrationId: string; phase: string }>).filter((m) => m.migrationId.startsWith(id))).toEqual(
          expect.arrayContaining([expect.objectContaining({ migrationId: `${id}-1`, phase: 'Succeeded' })]),
        );
      }),
    );
  }, 120_000);

  test('watchMigration reports progress through the phases and returns the result', async () => {
    const phases: string[] = [];
    const { error } = await migrate({ checkpointMs: 200 }, {}, async (id) => {
      const result = await watchMigration(client.workflow.getHandle(id), (p) => {
        if (phases[phases.length - 1] !== p.phase) phases.push(p.phase);
      }, { intervalMs: 50 });
      expect(result.migrationId).toBe(id);
    });
    expect(error).toBeUndefined();
    expect(phases[phases.length - 1]).toBe('Succeeded');
    expect(phases).toContain('Checkpointing');
  }, 60_000);
});
