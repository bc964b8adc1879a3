// Moves within one cluster on the lab (lab-a has two nodes): the migration keeps the pod's name and
// namespace, so the frozen source is deleted before the target is created (strategy DeleteThenCreate).
// 1. `podferry migrate --from lab-a --to lab-a --node lab-a-node2 --transfer direct` moves the sample pod with
//    its state (images node to node).
// 2. The target fails after the source was deleted (a fault injected into the first createTargetPod): the
//    pod is restored on its source node from the checkpoint images and continues with its state: pulled
//    from the registry, or, when they went node to node (offers are one-shot and only for the target), imported
//    by the source node from its own archives.
// The orchestration runs in a worker of this test on its own task queue (real activities, one wrapped).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import { ApplicationFailure } from '@temporalio/common';
import type { MigrationResult } from '../../src/api/migration.js';
import { checkpointImageTag } from '../../src/api/names.js';
import { startMigration } from '../../src/client/migrations.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { RegistryClient } from '../../src/registry/client.js';
import { createOrchestratorActivities } from '../../src/worker/orchestrator.js';
import { podferry } from '../support/lab-cli.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const taskQueue = `podferry-e2e-within-${Date.now().toString(36)}`;
const real = createOrchestratorActivities(config);
/** Set by a test: the next target pod creation fails (the one after it, the restore, is real). */
let failNextTargetCreation = false;

let orchestrator: LabOrchestrator | undefined;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
  orchestrator = await startLabOrchestrator(config, taskQueue, {
    createTargetPod: async (input) => {
      if (failNextTargetCreation) {
        failNextTargetCreation = false;
        throw ApplicationFailure.nonRetryable('injected by the e2e test: the target pod was refused', 'InjectedFailure');
      }
      return real.createTargetPod(input);
    },
  });
}, 180_000);

afterAll(async () => {
  await orchestrator?.stop();
  await connection?.close();
});

describe('moves within the cluster lab-a', () => {
  test('podferry migrate --to lab-a --node lab-a-node2 moves the sample pod to the other node with its state', async () => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'], node: 'lab-a-node' });
    await putSampleKey(source.status!.podIP!, 'e2e', 'survives the move to the other node');
    const before = await readSampleState(source.status!.podIP!);

    const cli = await podferry(['migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-a', '--node', 'lab-a-node2', '--transfer', 'direct', '--wait', '--json'], taskQueue);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const { result } = JSON.parse(cli.stdout) as { result: MigrationResult };
    expect(result).toMatchObject({ strategy: 'DeleteThenCreate', target: { cluster: 'lab-a', name: 'sample', node: 'lab-a-node2' } });
    expect(Object.values(result.containers).map((c) => c.via)).toEqual(['direct', 'direct', 'direct']);
    expect(result.warnings).toEqual(expect.arrayContaining([expect.stringContaining('the frozen source pod is deleted before the target is created')]));

    const target = await waitForPod(clusters.core('lab-a'), 'default', 'sample', isReady, 60_000);
    expect(target!.spec!.nodeName).toBe('lab-a-node2');
    expect(target!.metadata!.uid).not.toBe(source.metadata!.uid);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    console.log(`moved within lab-a: downtime ${result.downtimeMs} ms (source deletion ${result.phasesMs.DeletingSource} ms of it)`);
  }, 300_000);

  test.each(['registry', 'direct'] as const)('transfer %s: the target fails after the source was deleted: the pod is restored on its source node from the checkpoint and continues', async (transfer) => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'], node: 'lab-a-node' });
    const ip = source.status!.podIP!;
    await putSampleKey(ip, 'e2e', 'still here after the failed move');
    const before = await readSampleState(ip);

    failNextTargetCreation = true;
    const client = createTemporalClient(connection, config);
    const handle = await startMigration(
      client,
      { source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-a', node: 'lab-a-node2' }, options: { transfer } },
      { taskQueue },
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('MigrationRolledBack');
    expect(cause.message).toContain('restored from its checkpoint on its source node lab-a-node');

    // A new pod object on the same node, but the same processes' state: counter start time, keys, memory.
    const restored = await waitForPod(clusters.core('lab-a'), 'default', 'sample', isReady, 60_000);
    expect(restored!.spec!.nodeName).toBe('lab-a-node');
    expect(restored!.metadata!.uid).not.toBe(source.metadata!.uid);
    const resumed = await readSampleState(restored!.status!.podIP!);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    expect(restored!.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);

    // The images are deleted once the pod runs again (its node holds them).
    const registry = new RegistryClient(config.registry!);
    for (const container of ['counter', 'kv', 'ballast']) {
      const tag = checkpointImageTag(handle.workflowId, container);
      expect({ tag, digest: await registry.headManifest(config.registry!.repository, tag) }).toEqual({ tag, digest: undefined });
    }
  }, 300_000);
});
