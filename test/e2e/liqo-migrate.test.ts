// podferry with Liqo (issue 14), end to end on the lab: lab-a (consumer) is peered with lab-b (provider) by
// Liqo v1.1.0 without networking (deploy/lab/liqo.sh), so lab-a has a virtual node `lab-b`; a pod bound to it
// in an offloaded namespace is reflected into lab-b, where lab-b-node's kubelet runs it. Real Temporal, real
// API servers, kubelets, containerd + CRIU, the checkpoint registry, Liqo's own controllers and virtual kubelet,
// the lab's node workers, and an orchestrator worker of the test's own.
// 1. Onto the virtual node: the stateful sample pod from lab-a-node (namespace default) to lab-a's virtual node
//    (namespace liqo-e2e, offloaded to lab-b with the same name); it runs restored on lab-b-node: the counter
//    continues, the keys and the memory checksum survive.
// 2. And back: from the virtual node to lab-a-node (namespace default), again with its state.
// 3. A failure after the pod was created on the virtual node (it never became Ready in time): the undo deletes
//    the pod and waits until its reflection in lab-b is gone before the source resumes, with its state.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { V1Pod } from '@kubernetes/client-node';
import { startMigration } from '../../src/client/migrations.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { apiStatus, Clusters } from '../../src/kubernetes/clusters.js';
import { offloadNamespace } from '../../src/lab/liqo.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const consumer = clusters.core('lab-a');
const provider = clusters.core('lab-b');
const NAME = 'liqo-sample';
/** Offloaded to lab-b with its own name (EnforceSameName), made by this test. */
const OFFLOADED = 'liqo-e2e';
const VIRTUAL_NODE = 'lab-b';
const run = Date.now().toString(36);

let connection: Connection;
const orchestrators: LabOrchestrator[] = [];

async function removePod(namespace: string, name: string): Promise<void> {
  await consumer.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(() => undefined);
  await waitForPod(consumer, namespace, name, (p) => p === undefined, 60_000);
  await waitForPod(provider, namespace, name, (p) => p === undefined, 60_000);
}

async function migrate(taskQueue: string, from: { namespace: string }, to: { namespace: string; node: string }, id: string) {
  const handle = await startMigration(
    createTemporalClient(connection, config),
    { source: { cluster: 'lab-a', namespace: from.namespace, pod: NAME }, target: { cluster: 'lab-a', namespace: to.namespace, node: to.node } },
    { taskQueue, migrationId: `${id}-${run}` },
  );
  return handle;
}

const restarts = (pod: V1Pod | undefined) => pod!.status!.containerStatuses!.map((s) => s.restartCount);

beforeAll(async () => {
  await offloadNamespace(clusters, 'lab-a', OFFLOADED);
  connection = await Connection.connect({ address: config.temporal.address });
}, 120_000);

afterAll(async () => {
  await Promise.all(orchestrators.map((o) => o.stop()));
  await connection?.close();
  await removePod('default', NAME);
  await removePod(OFFLOADED, NAME);
}, 180_000);

describe('podferry with Liqo (lab-a peered with lab-b)', () => {
  test('moves the stateful pod onto the virtual node (it runs restored on lab-b-node) and back, with its state', async () => {
    const taskQueue = `podferry-e2e-liqo-${run}`;
    orchestrators.push(await startLabOrchestrator(config, taskQueue));
    await removePod(OFFLOADED, NAME);
    const source = await deploySample(clusters, 'lab-a', { name: NAME });
    await putSampleKey(source.status!.podIP!, 'e2e', 'moved by podferry through Liqo');
    const before = await readSampleState(source.status!.podIP!);

    const onto = await (await migrate(taskQueue, { namespace: 'default' }, { namespace: OFFLOADED, node: VIRTUAL_NODE }, 'liqo-onto')).result();
    const reflected = await waitForPod(provider, OFFLOADED, NAME, isReady, 60_000);
    expect(reflected!.spec!.nodeName).toBe('lab-b-node');
    const local = await waitForPod(consumer, OFFLOADED, NAME, isReady, 60_000);
    expect(local!.spec!.nodeName).toBe(VIRTUAL_NODE);
    const there = await readSampleState(reflected!.status!.podIP!);
    expect(compareSampleStates(before, there).filter((check) => !check.ok)).toEqual([]);
    expect(restarts(reflected)).toEqual([0, 0, 0]);
    await waitForPod(consumer, 'default', NAME, (pod) => pod === undefined, 60_000);

    const back = await (await migrate(taskQueue, { namespace: OFFLOADED }, { namespace: 'default', node: 'lab-a-node' }, 'liqo-back')).result();
    const home = await waitForPod(consumer, 'default', NAME, isReady, 60_000);
    expect(home!.spec!.nodeName).toBe('lab-a-node');
    const after = await readSampleState(home!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(restarts(home)).toEqual([0, 0, 0]);
    await waitForPod(consumer, OFFLOADED, NAME, (pod) => pod === undefined, 60_000);
    await waitForPod(provider, OFFLOADED, NAME, (pod) => pod === undefined, 60_000);
    for (const [way, result] of [['onto the virtual node', onto], ['back', back]] as const) {
      console.log(`Liqo move ${way}: downtime ${result.downtimeMs} ms, total ${result.totalMs} ms, ${(result.bytesPushed / 2 ** 20).toFixed(1)} MiB; phases ${JSON.stringify(result.phasesMs)}`);
    }
  }, 420_000);

  test('a failure once the pod is on the virtual node: its reflection in lab-b is gone before the source resumes, with its state', async () => {
    const taskQueue = `podferry-e2e-liqo-undo-${run}`;
    orchestrators.push(
      await startLabOrchestrator(config, taskQueue, {
        waitPodReady: async () => {
          throw ApplicationFailure.nonRetryable('injected by the e2e test: the target pod did not become Ready in time', 'InjectedFailure');
        },
      }),
    );
    await removePod(OFFLOADED, NAME);
    const source = await deploySample(clusters, 'lab-a', { name: NAME });
    const ip = source.status!.podIP!;
    await putSampleKey(ip, 'e2e', 'still here after the failed move');
    const before = await readSampleState(ip);

    const failure = await (await migrate(taskQueue, { namespace: 'default' }, { namespace: OFFLOADED, node: VIRTUAL_NODE }, 'liqo-undo')).result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // Nothing of the target is left in either cluster, and the source resumed where it stopped.
    expect(await consumer.readNamespacedPod({ namespace: OFFLOADED, name: NAME }).catch((err: unknown) => apiStatus(err))).toBe(404);
    expect(await provider.readNamespacedPod({ namespace: OFFLOADED, name: NAME }).catch((err: unknown) => apiStatus(err))).toBe(404);
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    const pod = await waitForPod(consumer, 'default', NAME, isReady, 30_000);
    expect(pod!.metadata!.uid).toBe(source.metadata!.uid);
    expect(restarts(pod)).toEqual([0, 0, 0]);
  }, 300_000);
});
