// A Deployment's pods move live to another cluster (issue 16), end to end with the real Deployment and ReplicaSet
// controllers of lab-a and lab-b and the owner fence of deploy/admission: the sample workload as a Deployment of 2
// on lab-a-node. One pod moves to lab-b (no Deployment there yet: podferry makes it, at 0 replicas, before the
// freeze), then the other (the Deployment in lab-b is scaled from 1 to 2 behind the owner fence).
// 1. The moves: each copy runs in lab-b, owned by lab-b's ReplicaSet, with the source's state (counter, keys,
//    memory); lab-a's Deployment ends at 0 replicas, lab-b's at 2; no pod other than the sources and the copies was
//    ever seen in either cluster (no fresh, unrestored pod); no fence is left.
// 2. A failure before the commit (injected: the copy's readiness wait fails): the copy is stopped, the source
//    resumes where it was, its deletion cost is put back, and the Deployment the migration made in lab-b is gone.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { POD_DELETION_COST, POD_NAME_FENCE } from '../../src/api/names.js';
import { loadConfig } from '../../src/config/load.js';
import { apiStatus, Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { createOrchestratorActivities } from '../../src/worker/orchestrator.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';
import { moveToLabB, OwnedSample, watchIncarnations } from '../support/owned-workloads.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const NAMESPACE = 'default';
const DEPLOYMENT = 'across-sample';
const SELECTOR = { 'app.kubernetes.io/name': 'podferry-across-sample' };
const run = Date.now().toString(36);

let connection: Connection;
const orchestrators: LabOrchestrator[] = [];
const atSource = new OwnedSample(clusters, 'lab-a', 'Deployment', DEPLOYMENT, SELECTOR);
const atTarget = new OwnedSample(clusters, 'lab-b', 'Deployment', DEPLOYMENT, SELECTOR);

const replicasOf = async (cluster: string) => (await clusters.apps(cluster).readNamespacedDeployment({ namespace: NAMESPACE, name: DEPLOYMENT })).spec!.replicas;
const deploymentIn = (cluster: string) =>
  clusters.apps(cluster).readNamespacedDeployment({ namespace: NAMESPACE, name: DEPLOYMENT }).then(() => true, (err: unknown) => (apiStatus(err) === 404 ? false : Promise.reject(err)));

async function fenceKeys(cluster: string): Promise<string[]> {
  const configMap = await clusters.core(cluster).readNamespacedConfigMap({ namespace: NAMESPACE, name: POD_NAME_FENCE.configMap }).catch(() => undefined);
  return Object.keys(configMap?.data ?? {});
}

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
}, 60_000);

afterAll(async () => {
  await Promise.all(orchestrators.map((o) => o.stop()));
  await connection?.close();
  await Promise.all([atSource.remove(), atTarget.remove()]);
}, 180_000);

describe("a Deployment's pods move to another cluster, taken over by the Deployment there", () => {
  test('two moves: the first makes the Deployment in lab-b, the second scales it; no fresh pod; state continues', async () => {
    const taskQueue = `podferry-e2e-across-${run}`;
    orchestrators.push(await startLabOrchestrator(config, taskQueue));
    await atTarget.remove();
    const sources = await atSource.create(2, 'lab-a-node');
    const before = new Map<string, Awaited<ReturnType<typeof readSampleState>>>();
    for (const pod of sources) {
      await putSampleKey(pod.status!.podIP!, 'e2e', `moved to lab-b: ${pod.metadata!.name}`);
      before.set(pod.metadata!.name!, await readSampleState(pod.status!.podIP!));
    }

    const watch = watchIncarnations([atSource, atTarget]);
    const results = [];
    for (const [i, pod] of sources.entries()) {
      const result = await moveToLabB(connection, config, pod, taskQueue, `across-${i}-${run}`);
      results.push(result);
      const copy = (await waitForPod(clusters.core('lab-b'), NAMESPACE, result.target.name, (p) => isReady(p) && (p!.metadata!.ownerReferences ?? []).length > 0, 30_000))!;
      expect(copy.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReplicaSet', controller: true })]);
      expect(copy.metadata!.labels).toEqual(pod.metadata!.labels);
      const after = await readSampleState(copy.status!.podIP!);
      expect(compareSampleStates(before.get(pod.metadata!.name!)!, after).filter((check) => !check.ok)).toEqual([]);
      await waitForPod(clusters.core('lab-a'), NAMESPACE, pod.metadata!.name!, (p) => p === undefined, 60_000);
      expect({ source: await replicasOf('lab-a'), target: await replicasOf('lab-b') }).toEqual({ source: 1 - i, target: 1 + i });
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const seen = [...new Set((await watch.stop()).map((incarnation) => incarnation.split(' ')[0]))].sort();

    // Only the sources and their copies ever existed: no fresh pod in either cluster.
    expect(seen).toEqual([...sources.map((p) => `lab-a/${p.metadata!.name}`), ...results.map((r) => `lab-b/${r.target.name}`)].sort());
    expect((await atTarget.pods()).map((p) => p.metadata!.name).sort()).toEqual(results.map((r) => r.target.name).sort());
    expect(await fenceKeys('lab-b')).toEqual([]);
    const status = (await clusters.apps('lab-b').readNamespacedDeployment({ namespace: NAMESPACE, name: DEPLOYMENT })).status!;
    expect({ ready: status.readyReplicas, available: status.availableReplicas }).toEqual({ ready: 2, available: 2 });
    console.log(
      `Deployment moves to lab-b: ${results.map((r) => `downtime ${r.downtimeMs} ms, total ${r.totalMs} ms, phases ${JSON.stringify(r.phasesMs)}`).join('; ')}`,
    );
  }, 600_000);

  test('a failure before the commit: the copy is stopped, the source resumes with its state, its cost is put back, the Deployment made in lab-b is gone', async () => {
    const taskQueue = `podferry-e2e-across-undo-${run}`;
    const real = createOrchestratorActivities(config);
    orchestrators.push(
      await startLabOrchestrator(config, taskQueue, {
        waitPodReady: async (input) => {
          if (input.cluster === 'lab-b') throw ApplicationFailure.nonRetryable('injected by the e2e test: the copy did not become Ready', 'InjectedFailure');
          return real.waitPodReady(input);
        },
      }),
    );
    await atTarget.remove();
    const [source] = await atSource.create(1, 'lab-a-node');
    const ip = source!.status!.podIP!;
    await putSampleKey(ip, 'e2e', 'still here after the failed move');
    const before = await readSampleState(ip);

    const failure = await moveToLabB(connection, config, source!, taskQueue, `across-undo-${run}`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('MigrationRolledBack');
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    const pod = await waitForPod(clusters.core('lab-a'), NAMESPACE, source!.metadata!.name!, isReady, 30_000);
    expect(pod!.metadata!.uid).toBe(source!.metadata!.uid);
    expect(pod!.metadata!.annotations?.[POD_DELETION_COST]).toBeUndefined();
    expect(await replicasOf('lab-a')).toBe(1);
    expect(await deploymentIn('lab-b')).toBe(false);
    expect(await atTarget.pods()).toEqual([]);
    expect(await fenceKeys('lab-b')).toEqual([]);
  }, 300_000);
});
