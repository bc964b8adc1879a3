// Post-copy on the lab (options.mode: postcopy): real Temporal, API servers, kubelets, containerd 2.3 + runc + CRIU
// 4.2 with lazy pages, the node workers' mutual TLS page stream.
// 1. `podferry migrate --mode postcopy` moves the stateful three-container sample pod from lab-a to lab-b: the
//    checkpoint images hold no memory, the pages stream after the start, the state continues; nothing of post-copy
//    is left on either node (no CRIU process, no files but the restored containers' CRIU configuration, no image).
// 2. A failure before the target exists (injected: its config cannot be copied) rolls back as stop-and-copy does:
//    the source runs on with its state.
// 3. A failure once the target exists (injected: its readiness cannot be watched) stops the target and holds the
//    source frozen, never resuming it by itself; `podferry resume` then runs it from the freeze, state intact.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { MigrationResult } from '../../src/api/migration.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { startMigration } from '../../src/client/migrations.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { CriImages } from '../../src/node/cri-images.js';
import { createOrchestratorActivities } from '../../src/worker/orchestrator.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const root = path.resolve(import.meta.dirname, '../..');
const config = loadConfig();
const clusters = new Clusters(config.clusters);
const POSTCOPY_DIR = `${config.node!.stateDir}/postcopy`;

beforeAll(() => {
  execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' });
});

/** What post-copy left on a node: migration directories (the restored containers' configurations aside). */
function leftOn(cluster: string, node: string): string[] {
  const dir = path.join(POSTCOPY_DIR, cluster, node);
  return existsSync(dir) ? readdirSync(dir).filter((name) => name !== 'restored') : [];
}

/** CRIU processes still running on the machine (every lab node shares it); killed ones not yet reaped aside. */
function criuProcesses(): string[] {
  const ps = spawnSync('pgrep', ['-a', 'criu'], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((line) => line && !line.includes('<defunct>'));
}

describe('podferry migrate --mode postcopy', () => {
  test('moves the stateful three-container pod to lab-b, the memory after the start; state continues; nothing left behind', async () => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    await putSampleKey(source.status!.podIP!, 'e2e', 'survives a post-copy move');
    const before = await readSampleState(source.status!.podIP!);

    const cli = spawnSync(
      process.execPath,
      [path.join(root, 'dist/cli/podferry.js'), 'migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-b', '--node', 'lab-b-node', '--mode', 'postcopy', '--wait', '--json'],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const { result } = JSON.parse(cli.stdout) as { result: MigrationResult };
    expect(result.mode).toBe('postcopy');
    // The images carry no memory: well under a MiB each, against the 64 MiB ballast that streamed after the start.
    expect(result.bytesPushed).toBeLessThan(4 << 20);
    expect(result.lazyPageBytes).toBeGreaterThan(64 << 20);
    expect(result.pagesArrivedMs).toBeGreaterThanOrEqual(result.downtimeMs);

    const target = await waitForPod(clusters.core('lab-b'), 'default', 'sample', isReady, 60_000);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    await waitForPod(clusters.core('lab-a'), 'default', 'sample', (pod) => pod === undefined, 30_000);

    expect({ source: leftOn('lab-a', 'lab-a-node'), target: leftOn('lab-b', 'lab-b-node'), criu: criuProcesses() }).toEqual({ source: [], target: [], criu: [] });
    const runtime = new CriImages({ address: '/run/podferry-lab/lab-b-node/containerd.sock' });
    for (const image of result.images) expect({ ref: image.ref, inRuntime: await runtime.status(image.ref) }).toEqual({ ref: image.ref, inRuntime: undefined });
    runtime.close();
    console.log(
      `postcopy: downtime ${result.downtimeMs} ms, every page at the target after ${result.pagesArrivedMs} ms, ` +
        `${(result.lazyPageBytes! / 2 ** 20).toFixed(1)} MiB lazily, ${(result.bytesPushed / 2 ** 10).toFixed(0)} KiB of images`,
    );
  }, 300_000);
});

describe('post-copy failures', () => {
  const taskQueue = `podferry-e2e-postcopy-${Date.now().toString(36)}`;
  let orchestrator: LabOrchestrator | undefined;
  let connection: Connection;
  /** Which injected fault the next migration meets. */
  let fault: 'config' | 'ready' = 'config';

  beforeAll(async () => {
    connection = await Connection.connect({ address: config.temporal.address });
    const real = createOrchestratorActivities(config);
    orchestrator = await startLabOrchestrator(config, taskQueue, {
      ensureTargetConfig: async (input) => {
        if (fault === 'config') throw ApplicationFailure.nonRetryable('injected by the e2e test: the target refused the config', 'InjectedFailure');
        return real.ensureTargetConfig(input);
      },
      waitPodReady: async (input) => {
        if (fault === 'ready') {
          // The target was created and restores lazily; let it run, then fail the watch.
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          throw ApplicationFailure.nonRetryable('injected by the e2e test: the readiness watch failed', 'InjectedFailure');
        }
        return real.waitPodReady(input);
      },
    });
  }, 120_000);

  afterAll(async () => {
    await orchestrator?.stop();
    await connection?.close();
  });

  /** A fresh sample in lab-a holding a key, and its state before the move. */
  async function sampleWithKey(value: string) {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    const ip = source.status!.podIP!;
    await putSampleKey(ip, 'e2e', value);
    return { ip, before: await readSampleState(ip) };
  }

  async function migrate(): Promise<{ failure: unknown; workflowId: string }> {
    const handle = await startMigration(
      createTemporalClient(connection, config),
      { source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-b', node: 'lab-b-node' }, options: { mode: 'postcopy' } },
      { taskQueue, migrationId: `e2e-postcopy-${fault}-${Date.now().toString(36)}` },
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    return { failure, workflowId: handle.workflowId };
  }

  test('before the target exists: rolled back, the source runs on with its state, nothing of post-copy left', async () => {
    fault = 'config';
    const { ip, before } = await sampleWithKey('still here');

    const { failure } = await migrate();
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'MigrationRolledBack' });
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readSampleState(ip)).count).toBeGreaterThan(resumed.count);
    expect({ source: leftOn('lab-a', 'lab-a-node'), target: leftOn('lab-b', 'lab-b-node'), criu: criuProcesses() }).toEqual({ source: [], target: [], criu: [] });
  }, 300_000);

  test('once the target exists: the target is stopped, the source held frozen; podferry resume runs it from the freeze', async () => {
    fault = 'ready';
    const { ip, before } = await sampleWithKey('held, then resumed');

    const { failure, workflowId } = await migrate();
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('MigrationFailed');
    expect(cause.message).toMatch(/post-copy migration failed after the target pod was created .* the source is not resumed/);
    expect(cause.message).toContain(`podferry resume ${workflowId}`);
    // Nothing runs: the target is gone, the source frozen (its counter does not move).
    await waitForPod(clusters.core('lab-b'), 'default', 'sample', (p) => p === undefined, 10_000);
    const held = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(1_000) }).then(
      () => 'answered',
      () => 'silent',
    );
    expect(held).toBe('silent');
    expect(criuProcesses()).toEqual([]);

    const resume = spawnSync(process.execPath, [path.join(root, 'dist/cli/podferry.js'), 'resume', workflowId], { encoding: 'utf8', timeout: 120_000 });
    expect({ status: resume.status, stderr: resume.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    expect({ source: leftOn('lab-a', 'lab-a-node'), target: leftOn('lab-b', 'lab-b-node') }).toEqual({ source: [], target: [] });
  }, 300_000);
});
