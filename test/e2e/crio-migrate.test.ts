// podferry migrating from and to CRI-O, end to end on lab-c (issue 13): real Temporal, lab-c's API server and
// kubelet, CRI-O v1.34.0 + runc + CRIU 4.2, the lab registry, lab-c-node's node worker (the lab's, from
// deploy/lab/workers.sh, when one polls its task queue podferry-node-lab-c-lab-c-node; else started here from
// dist/) and an orchestrator worker of the test's own.
// lab-c has one node: the stateful sample pod moves to another namespace on the same node (CreateThenDelete),
// which takes the whole way a move between CRI-O nodes takes: pod freeze handed over to runc's pause, runc
// checkpoint of the paused containers written as CRI-O archives, checkpoint images through the registry
// (pulled by the node worker through CRI), restore by CRI-O at container creation, source killed.
// 1. The move: the counter continues (same process start time), the keys and the memory checksum survive.
// 2. A failure after the source was frozen and checkpointed (the target pod cannot be created): the source
//    resumes where it stopped, with its state; nothing is left in the target namespace.
// Needs lab-c up (`deploy/lab/up.sh lab-c`) and, without the lab's worker, the build (`npm run build`: the node worker runs from dist/).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { nodeTaskQueue } from '../../src/api/names.js';
import { startMigration } from '../../src/client/migrations.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const root = path.resolve(import.meta.dirname, '../..');
const configPath = path.join(root, 'config/lab-c.yaml');
const config = loadConfig({ path: configPath });
const clusters = new Clusters(config.clusters);
const core = clusters.core('lab-c');
const NAME = 'crio-sample';
const MOVED = 'crio-moved';
const run = Date.now().toString(36);

let nodeWorker: ChildProcess | undefined;
let connection: Connection;
const orchestrators: LabOrchestrator[] = [];

/** lab-c-node's node worker, from the build, until it polls its task queue. */
async function startNodeWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, 'dist/worker/node.js'), '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      process.stdout.write(chunk);
      if (out.includes('node worker:')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`lab-c-node's node worker exited (${code}) before polling: ${out}`)));
  });
  return child;
}

/**
 * Whether a node worker (the lab's, deploy/lab/workers.sh) polls lab-c-node's task queue now: Temporal lists a
 * poller for a while after its worker stopped, and a live one polls again within its 60 s long poll.
 */
async function labNodeWorkerPolls(): Promise<boolean> {
  const { pollers } = await connection.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: nodeTaskQueue('lab-c', 'lab-c-node') },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const lastPollMs = (p: { lastAccessTime?: { seconds?: unknown } | null }) => Number(String(p.lastAccessTime?.seconds ?? 0)) * 1000;
  return (pollers ?? []).some((p) => Date.now() - lastPollMs(p) < 75_000);
}

async function removePod(namespace: string, name: string): Promise<void> {
  await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(() => undefined);
  await waitForPod(core, namespace, name, (p) => p === undefined, 60_000);
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: MOVED } } }).catch(() => undefined);
  connection = await Connection.connect({ address: config.temporal.address });
  if (!(await labNodeWorkerPolls())) nodeWorker = await startNodeWorker();
}, 120_000);

afterAll(async () => {
  await Promise.all(orchestrators.map((o) => o.stop()));
  await connection?.close();
  nodeWorker?.kill('SIGTERM');
  await removePod('default', NAME);
  await removePod(MOVED, NAME);
}, 120_000);

describe('podferry on CRI-O (lab-c)', () => {
  test('moves the stateful three-container pod on lab-c-node into another namespace; state continues', async () => {
    const taskQueue = `podferry-e2e-crio-${run}`;
    orchestrators.push(await startLabOrchestrator(config, taskQueue, {}, { labWorkers: false }));
    await removePod(MOVED, NAME);
    const source = await deploySample(clusters, 'lab-c', { name: NAME });
    await putSampleKey(source.status!.podIP!, 'e2e', 'moved by podferry on CRI-O');
    const before = await readSampleState(source.status!.podIP!);

    const handle = await startMigration(
      createTemporalClient(connection, config),
      { source: { cluster: 'lab-c', namespace: 'default', pod: NAME }, target: { cluster: 'lab-c', namespace: MOVED, node: 'lab-c-node' } },
      { taskQueue, migrationId: `crio-move-${run}` },
    );
    const result = await handle.result();
    // The plan asked lab-c-node's worker what CRI-O restores there (restore on, CRIU), before the freeze.
    const scheduled = (await handle.fetchHistory()).events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled.indexOf('describeRuntime')).toBeGreaterThan(-1);
    expect(scheduled.indexOf('describeRuntime')).toBeLessThan(scheduled.indexOf('freezePod'));
    expect(result.warnings.filter((w) => /restore|CRIU/.test(w))).toEqual([]);

    const target = await waitForPod(core, MOVED, NAME, isReady, 60_000);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(target!.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);
    expect(target!.status!.containerStatuses!.every((s) => s.containerID!.startsWith('cri-o://'))).toBe(true);
    await waitForPod(core, 'default', NAME, (pod) => pod === undefined, 60_000);
    console.log(
      `CRI-O move: downtime ${result.downtimeMs} ms, total ${result.totalMs} ms, ${(result.bytesPushed / 2 ** 20).toFixed(1)} MiB; phases ${JSON.stringify(result.phasesMs)}; ` +
        `containers ${JSON.stringify(result.containers)}`,
    );
  }, 300_000);

  test('a failure after the freeze and the checkpoints: the source resumes where it was, with its state; nothing is left at the target', async () => {
    const taskQueue = `podferry-e2e-crio-faults-${run}`;
    orchestrators.push(
      await startLabOrchestrator(
        config,
        taskQueue,
        {
          createTargetPod: async () => {
            throw ApplicationFailure.nonRetryable('injected by the e2e test: the target API server refused the pod', 'InjectedFailure');
          },
        },
        { labWorkers: false },
      ),
    );
    await removePod(MOVED, NAME);
    const source = await deploySample(clusters, 'lab-c', { name: NAME });
    const ip = source.status!.podIP!;
    await putSampleKey(ip, 'e2e', 'still here after the failed move');
    const before = await readSampleState(ip);

    const handle = await startMigration(
      createTemporalClient(connection, config),
      { source: { cluster: 'lab-c', namespace: 'default', pod: NAME }, target: { cluster: 'lab-c', namespace: MOVED, node: 'lab-c-node' } },
      { taskQueue, migrationId: `crio-rollback-${run}` },
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // It was frozen and checkpointed before the failure.
    const scheduled = (await handle.fetchHistory()).events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled).toEqual(expect.arrayContaining(['freezePod', 'checkpointThroughRuntime', 'pushCheckpointImage', 'thawPod']));

    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readSampleState(ip)).count).toBeGreaterThan(resumed.count);
    const pod = await waitForPod(core, 'default', NAME, isReady, 30_000);
    expect(pod!.metadata!.uid).toBe(source.metadata!.uid);
    expect(pod!.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);
    await waitForPod(core, MOVED, NAME, (p) => p === undefined, 10_000);
  }, 300_000);
});
