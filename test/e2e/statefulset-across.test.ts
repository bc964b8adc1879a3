// A StatefulSet's pods move live to another cluster (issue 16), end to end with the real StatefulSet controllers of
// lab-a and lab-b: the sample workload as a StatefulSet of 2 on lab-a-node. Ordinal 1 (the highest) moves to lab-b
// first: podferry makes the StatefulSet there (ordinals starting at 1, 0 replicas) before the freeze, and after the
// commit hands the ordinal over (lab-b's range takes it in, the copy is adopted, lab-a's range gives it up). Then
// ordinal 0: lab-b's range grows downwards to take it, lab-a's ends empty.
// 1. The moves: each copy runs in lab-b under its ordinal's name, owned by lab-b's StatefulSet, with the source's
//    state; lab-a's StatefulSet ends at 0 replicas, lab-b's runs ordinals 0–1; the only incarnations of each name
//    ever seen are the source and its copy (no fresh, unrestored pod in either cluster).
// 2. A failure before the commit (injected: the copy's readiness wait fails): the copy is stopped, the source resumes
//    with its state, lab-a's StatefulSet is unchanged and the StatefulSet the migration made in lab-b is gone.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { loadConfig } from '../../src/config/load.js';
import { apiStatus, Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { createOrchestratorActivities } from '../../src/worker/orchestrator.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';
import { moveToLabB, OwnedSample, watchIncarnations } from '../support/owned-workloads.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const NAMESPACE = 'default';
const STATEFULSET = 'across-sts';
const SELECTOR = { 'app.kubernetes.io/name': 'podferry-across-sts' };
const run = Date.now().toString(36);

let connection: Connection;
const orchestrators: LabOrchestrator[] = [];
const atSource = new OwnedSample(clusters, 'lab-a', 'StatefulSet', STATEFULSET, SELECTOR);
const atTarget = new OwnedSample(clusters, 'lab-b', 'StatefulSet', STATEFULSET, SELECTOR);

const statefulSetIn = (cluster: string) =>
  clusters.apps(cluster).readNamespacedStatefulSet({ namespace: NAMESPACE, name: STATEFULSET }).catch((err: unknown) => (apiStatus(err) === 404 ? undefined : Promise.reject(err)));
const rangeIn = async (cluster: string) => {
  const spec = (await statefulSetIn(cluster))?.spec;
  return spec ? { start: spec.ordinals?.start ?? 0, replicas: spec.replicas } : undefined;
};

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
}, 60_000);

afterAll(async () => {
  await Promise.all(orchestrators.map((o) => o.stop()));
  await connection?.close();
  await Promise.all([atSource.remove(), atTarget.remove()]);
}, 180_000);

describe("a StatefulSet's pods move to another cluster, ordinal by ordinal", () => {
  test('ordinal 1 then ordinal 0 to lab-b: the StatefulSet made there takes each in; no fresh pod; state continues', async () => {
    const taskQueue = `podferry-e2e-sts-across-${run}`;
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
    const copies: V1Pod[] = [];
    for (const [i, pod] of [...sources].reverse().entries()) {
      const name = pod.metadata!.name!;
      const result = await moveToLabB(connection, config, pod, taskQueue, `sts-across-${i}-${run}`);
      results.push(result);
      expect(result.target.name).toBe(name);
      const copy = (await waitForPod(clusters.core('lab-b'), NAMESPACE, name, (p) => isReady(p) && (p!.metadata!.ownerReferences ?? []).length > 0, 30_000))!;
      copies.push(copy);
      expect(copy.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'StatefulSet', name: STATEFULSET, controller: true })]);
      expect(copy.metadata!.labels).toEqual(pod.metadata!.labels);
      const after = await readSampleState(copy.status!.podIP!);
      expect(compareSampleStates(before.get(name)!, after).filter((check) => !check.ok)).toEqual([]);
      await waitForPod(clusters.core('lab-a'), NAMESPACE, name, (p) => p === undefined, 60_000);
    }
    expect(await rangeIn('lab-a')).toEqual({ start: 0, replicas: 0 });
    expect(await rangeIn('lab-b')).toEqual({ start: 0, replicas: 2 });
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const seen = await watch.stop();

    // Only the sources and their copies ever held the names: no fresh pod in either cluster.
    expect(seen).toEqual([...sources.map((p) => `lab-a/${p.metadata!.name} ${p.metadata!.uid}`), ...copies.map((p) => `lab-b/${p.metadata!.name} ${p.metadata!.uid}`)].sort());
    const status = (await statefulSetIn('lab-b'))!.status!;
    expect({ ready: status.readyReplicas, current: status.currentReplicas }).toEqual({ ready: 2, current: 2 });
    console.log(`StatefulSet moves to lab-b: ${results.map((r) => `${r.target.name}: downtime ${r.downtimeMs} ms, total ${r.totalMs} ms, phases ${JSON.stringify(r.phasesMs)}`).join('; ')}`);
  }, 600_000);

  test('a failure before the commit: the copy is stopped, the source resumes with its state, the StatefulSet made in lab-b is gone', async () => {
    const taskQueue = `podferry-e2e-sts-across-undo-${run}`;
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

    const failure = await moveToLabB(connection, config, source!, taskQueue, `sts-across-undo-${run}`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('MigrationRolledBack');
    const resumed = await readSampleState(ip);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    const pod = await waitForPod(clusters.core('lab-a'), NAMESPACE, source!.metadata!.name!, isReady, 30_000);
    expect(pod!.metadata!.uid).toBe(source!.metadata!.uid);
    expect(await rangeIn('lab-a')).toEqual({ start: 0, replicas: 1 });
    expect(await statefulSetIn('lab-b')).toBeUndefined();
    expect(await atTarget.pods()).toEqual([]);
  }, 300_000);
});
