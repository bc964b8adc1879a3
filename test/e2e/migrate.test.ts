// podferry end to end on the lab: real Temporal, real API servers and kubelets, containerd + runc + CRIU,
// the real registry, and podferry's own workers (deploy/lab/workers.sh, as `make demo` runs them).
// 1. `podferry migrate` moves the stateful three-container sample pod from lab-a to lab-b with its state,
//    and prints the downtime: through the registry (the default), and node to node (--transfer direct).
// 2. A failure injected after the source was frozen and checkpointed (the target pod cannot be created):
//    the workload resumes at the source with its state, nothing is left in lab-b: no pod, no checkpoint
//    images in lab-b-node's runtime (imported node to node, or pulled ahead of the kubelet), none in the
//    registry.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import { ApplicationFailure } from '@temporalio/common';
import { checkpointImageTag } from '../../src/api/names.js';
import type { MigrationResult } from '../../src/api/migration.js';
import { startMigration } from '../../src/client/migrations.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { CriImages } from '../../src/node/cri-images.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const root = path.resolve(import.meta.dirname, '../..');
const config = loadConfig();
const clusters = new Clusters(config.clusters);

beforeAll(() => {
  // The node workers (one per lab node) and the orchestrator, from the built project, as lab components.
  execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' });
});

describe('podferry migrate on the lab', () => {
  test.each([
    ['through the registry', [], 'registry'],
    ['--transfer direct: node to node', ['--node', 'lab-b-node', '--transfer', 'direct'], 'direct'],
  ])('moves the stateful three-container pod from lab-a to lab-b (%s); state continues; downtime printed', async (_how, args, via) => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    await putSampleKey(source.status!.podIP!, 'e2e', 'survives the move');
    const before = await readSampleState(source.status!.podIP!);

    const cli = spawnSync(
      process.execPath,
      [path.join(root, 'dist/cli/podferry.js'), 'migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-b', ...args, '--wait', '--json'],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const { result } = JSON.parse(cli.stdout) as { result: MigrationResult };
    expect(result.downtimeMs).toBeGreaterThan(0);
    expect(result.bytesPushed).toBeGreaterThan(64 << 20);
    expect(Object.values(result.containers).map((c) => c.via)).toEqual([via, via, via]);

    const target = await waitForPod(clusters.core('lab-b'), 'default', 'sample', isReady, 60_000);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    // The source is gone: the pod lives in exactly one place.
    await waitForPod(clusters.core('lab-a'), 'default', 'sample', (pod) => pod === undefined, 30_000);
    console.log(`${via}: downtime ${result.downtimeMs} ms, ${(result.bytesPushed / 2 ** 20).toFixed(1)} MiB sent`);
  }, 300_000);
});

describe('a failure after the source stopped', () => {
  const taskQueue = `podferry-e2e-faults-${Date.now().toString(36)}`;
  let orchestrator: LabOrchestrator | undefined;
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address: config.temporal.address });
    orchestrator = await startLabOrchestrator(config, taskQueue, {
      // The injected fault: the target cluster refuses the pod, after freeze, checkpoint and push.
      createTargetPod: async () => {
        throw ApplicationFailure.nonRetryable('injected by the e2e test: the target API server refused the pod', 'InjectedFailure');
      },
    });
  }, 120_000);

  afterAll(async () => {
    await orchestrator?.stop();
    await connection?.close();
  });

  test.each([
    ['registry', 'pullCheckpointImage'],
    ['direct', 'importCheckpointImage'],
  ] as const)('transfer %s: the workload resumes at the source with its state; nothing is left at the target', async (transfer, placedBy) => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    const ip = source.status!.podIP!;
    await putSampleKey(ip, 'e2e', 'still here after the failed move');
    const before = await readSampleState(ip);

    const client = createTemporalClient(connection, config);
    const handle = await startMigration(
      client,
      {
        source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
        target: { cluster: 'lab-b', node: 'lab-b-node' },
        options: { transfer },
      },
      { taskQueue },
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);

    // Same pod, same processes (start time), counting again from where it was frozen, keys and memory kept.
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readSampleState(ip)).count).toBeGreaterThan(resumed.count);
    const pod = await clusters.core('lab-a').readNamespacedPod({ namespace: 'default', name: 'sample' });
    expect(pod.metadata!.uid).toBe(source.metadata!.uid);
    expect(pod.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);

    // Compensated: no target pod, the images placed in lab-b-node's runtime are gone from it, none in the registry.
    await waitForPod(clusters.core('lab-b'), 'default', 'sample', (p) => p === undefined, 10_000);
    const placed = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === placedBy);
    expect(placed).toHaveLength(3);
    const runtime = new CriImages({ address: '/run/podferry-lab/lab-b-node/containerd.sock' });
    const progress = (failure as WorkflowFailedError & { cause: { details?: unknown[] } }).cause.details?.[0] as { containers: Record<string, { image?: string }> };
    for (const container of ['counter', 'kv', 'ballast']) {
      const ref = progress.containers[container]!.image!;
      expect({ ref, inRuntime: await runtime.status(ref) }).toEqual({ ref, inRuntime: undefined });
    }
    runtime.close();
    const registry = new RegistryClient(config.registry!);
    for (const container of ['counter', 'kv', 'ballast']) {
      const tag = checkpointImageTag(handle.workflowId, container);
      expect({ tag, digest: await registry.headManifest(config.registry!.repository, tag) }).toEqual({ tag, digest: undefined });
    }
  }, 300_000);
});
