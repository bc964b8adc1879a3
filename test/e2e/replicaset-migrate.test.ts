// A pod of a Deployment moves live to another node of its cluster (issue 16, strategy AdoptByReplicaSet), end to
// end on lab-a with the real ReplicaSet controller: the sample workload as a Deployment of 2 on lab-a-node; one
// pod moves to lab-a-node2. podferry gives the source the minimum deletion cost, restores the copy without the
// template's labels and owner, and once it is Ready puts the labels back: the ReplicaSet adopts the copy and
// deletes the (frozen) source.
// 1. The move: the copy is the ReplicaSet's, on lab-a-node2, and continues the source's state (counter, keys,
//    memory); the sibling is untouched; no pod other than the source, the sibling and the copy ever existed (no
//    fresh, unrestored pod), and the Deployment stays 2/2.
// 2. A failure at the hand-over (injected: the patch that gives the copy its labels fails): the copy is deleted,
//    the source resumes where it stopped, its deletion cost is put back, the ReplicaSet still has its two pods.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { startMigration } from '../../src/client/migrations.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';
import { OwnedSample } from '../support/owned-workloads.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const core = clusters.core('lab-a');
const apps = clusters.apps('lab-a');
const NAMESPACE = 'default';
const DEPLOYMENT = 'rs-sample';
const SELECTOR = { 'app.kubernetes.io/name': 'podferry-rs-sample' };
const DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
const run = Date.now().toString(36);

let connection: Connection;
const orchestrators: LabOrchestrator[] = [];

const sample = new OwnedSample(clusters, 'lab-a', 'Deployment', DEPLOYMENT, SELECTOR);
const podsOf = () => sample.pods();
/** A fresh Deployment of two Ready pods on lab-a-node. */
const freshDeployment = () => sample.create(2, 'lab-a-node');

/** Every pod name of the Deployment seen until stopped (polled every 100 ms). */
function watchPodNames() {
  const seen = new Set<string>();
  let minReady = Number.POSITIVE_INFINITY;
  let watching = true;
  const loop = (async () => {
    while (watching) {
      const pods = await podsOf().catch(() => undefined);
      if (pods) {
        for (const p of pods) seen.add(p.metadata!.name!);
        minReady = Math.min(minReady, pods.filter((p) => isReady(p) && !p.metadata!.deletionTimestamp).length);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return { seen: [...seen].sort(), minReady };
    },
  };
}

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
}, 60_000);

afterAll(async () => {
  await Promise.all(orchestrators.map((o) => o.stop()));
  await connection?.close();
  await sample.remove();
}, 120_000);

describe("a Deployment's pod moves to another node of lab-a (AdoptByReplicaSet)", () => {
  test('the ReplicaSet adopts the restored copy and deletes the frozen source; no fresh pod; state continues', async () => {
    const taskQueue = `podferry-e2e-rs-${run}`;
    orchestrators.push(await startLabOrchestrator(config, taskQueue));
    const [source, sibling] = await freshDeployment();
    const name = source!.metadata!.name!;
    await putSampleKey(source!.status!.podIP!, 'e2e', 'moved by podferry, adopted by its ReplicaSet');
    const before = await readSampleState(source!.status!.podIP!);
    const siblingBefore = await readSampleState(sibling!.status!.podIP!);

    const watch = watchPodNames();
    const handle = await startMigration(
      createTemporalClient(connection, config),
      { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: name }, target: { cluster: 'lab-a', node: 'lab-a-node2' } },
      { taskQueue, migrationId: `rs-move-${run}` },
    );
    const result = await handle.result();
    await waitForPod(core, NAMESPACE, name, (pod) => pod === undefined, 60_000);
    const { seen, minReady } = await watch.stop();

    expect(result.strategy).toBe('AdoptByReplicaSet');
    const copyName = result.target.name;
    expect(copyName).not.toBe(name);
    const copy = await waitForPod(core, NAMESPACE, copyName, isReady, 30_000);
    expect(copy!.spec!.nodeName).toBe('lab-a-node2');
    expect(copy!.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReplicaSet', controller: true, name: source!.metadata!.ownerReferences![0]!.name })]);
    expect(copy!.metadata!.labels).toEqual(source!.metadata!.labels);
    expect(Object.keys(copy!.metadata!.annotations ?? {})).not.toContain('podferry.io/stashed-labels');
    const after = await readSampleState(copy!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(copy!.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);

    // The sibling runs on, untouched; the only pods ever seen are the source, the sibling and the copy.
    const siblingAfter = await readSampleState(sibling!.status!.podIP!);
    expect(compareSampleStates(siblingBefore, siblingAfter).filter((check) => !check.ok)).toEqual([]);
    expect(seen).toEqual([name, sibling!.metadata!.name!, copyName].sort());
    expect(minReady).toBeGreaterThanOrEqual(1);
    const status = (await apps.readNamespacedDeployment({ namespace: NAMESPACE, name: DEPLOYMENT })).status!;
    expect({ ready: status.readyReplicas, available: status.availableReplicas }).toEqual({ ready: 2, available: 2 });
    console.log(`ReplicaSet move: downtime ${result.downtimeMs} ms, total ${result.totalMs} ms; phases ${JSON.stringify(result.phasesMs)}`);
  }, 300_000);

  test('a failure at the hand-over: the copy is deleted, the source resumes with its state and its deletion cost put back', async () => {
    const taskQueue = `podferry-e2e-rs-undo-${run}`;
    orchestrators.push(
      await startLabOrchestrator(config, taskQueue, {
        handOverToReplicaSet: async () => {
          throw ApplicationFailure.nonRetryable('injected by the e2e test: the API server refused the labels patch', 'InjectedFailure');
        },
      }),
    );
    const [source, sibling] = await freshDeployment();
    const name = source!.metadata!.name!;
    const ip = source!.status!.podIP!;
    await putSampleKey(ip, 'e2e', 'still here after the failed hand-over');
    const before = await readSampleState(ip);

    const watch = watchPodNames();
    const failure = await (
      await startMigration(
        createTemporalClient(connection, config),
        { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: name }, target: { cluster: 'lab-a', node: 'lab-a-node2' } },
        { taskQueue, migrationId: `rs-undo-${run}` },
      )
    )
      .result()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    const pod = await waitForPod(core, NAMESPACE, name, isReady, 30_000);
    expect(pod!.metadata!.uid).toBe(source!.metadata!.uid);
    expect(pod!.metadata!.annotations?.[DELETION_COST]).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { seen } = await watch.stop();
    const pods = await podsOf();
    expect(pods.map((p) => p.metadata!.name).sort()).toEqual([name, sibling!.metadata!.name!].sort());
    // The copy existed (restored, never adopted) and is gone; no fresh pod was started.
    expect(seen.filter((n) => ![name, sibling!.metadata!.name!].includes(n))).toHaveLength(1);
  }, 300_000);
});
