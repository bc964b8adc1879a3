// A StatefulSet's pod moves live to another node of its cluster (issue 16), end to end on lab-a with the real
// StatefulSet controller and the pod name fence of deploy/admission (installed by the lab's up): the sample
// workload as a StatefulSet of 1 on lab-a-node; sts-sample-0 moves to lab-a-node2. podferry fences the name,
// deletes the frozen source and creates the restored pod under the same name: the StatefulSet's own creates of
// it are refused meanwhile, and it adopts the restored pod.
// 1. The move: sts-sample-0 runs on lab-a-node2, owned by the StatefulSet, and continues the source's state
//    (counter, keys, memory); the only incarnations of the name ever seen are the source and the restored pod
//    (no fresh, unrestored pod); the fence is lifted.
// 2. A failure at the commit step (injected: the restored pod's readiness wait fails): the pod is restored on
//    lab-a-node from its checkpoint, through the fence, with its state; again no fresh pod; the fence is lifted.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { POD_NAME_FENCE } from '../../src/api/names.js';
import { startMigration } from '../../src/client/migrations.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { apiStatus, Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { createOrchestratorActivities } from '../../src/worker/orchestrator.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';
import { OwnedSample } from '../support/owned-workloads.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const core = clusters.core('lab-a');
const apps = clusters.apps('lab-a');
const NAMESPACE = 'default';
const STATEFULSET = 'sts-sample';
const POD = `${STATEFULSET}-0`;
const SELECTOR = { 'app.kubernetes.io/name': 'podferry-sts-sample' };
const run = Date.now().toString(36);

let connection: Connection;
const orchestrators: LabOrchestrator[] = [];

const sample = new OwnedSample(clusters, 'lab-a', 'StatefulSet', STATEFULSET, SELECTOR);
const readPod = () => core.readNamespacedPod({ namespace: NAMESPACE, name: POD }).catch((err: unknown) => (apiStatus(err) === 404 ? undefined : Promise.reject(err)));
/** A fresh StatefulSet whose pod is Ready on lab-a-node. */
const freshStatefulSet = async () => (await sample.create(1, 'lab-a-node'))[0]!;

/** Every incarnation (uid) of the pod name seen until stopped, in order (polled every 50 ms). */
function watchIncarnations() {
  const seen: string[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      const uid = (await readPod().catch(() => undefined))?.metadata?.uid;
      if (uid && !seen.includes(uid)) seen.push(uid);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      return seen;
    },
  };
}

/** The StatefulSet's creates the fence refused (its FailedCreate events since `since`). */
async function refusedCreates(since: number): Promise<number> {
  const { items } = await core.listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: `involvedObject.name=${STATEFULSET},reason=FailedCreate` });
  return items
    .filter((e) => (e.message ?? '').includes(POD_NAME_FENCE.policy) && new Date(e.lastTimestamp ?? e.eventTime ?? 0).getTime() >= since - 1000)
    .reduce((n, e) => n + (e.count ?? 1), 0);
}

async function fenceKeys(): Promise<string[]> {
  const configMap = await core.readNamespacedConfigMap({ namespace: NAMESPACE, name: POD_NAME_FENCE.configMap }).catch(() => undefined);
  return Object.keys(configMap?.data ?? {});
}

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
}, 60_000);

afterAll(async () => {
  await Promise.all(orchestrators.map((o) => o.stop()));
  await connection?.close();
  await sample.remove();
}, 120_000);

describe("a StatefulSet's pod moves to another node of lab-a behind the pod name fence", () => {
  test('the restored pod keeps the name and is adopted; no fresh pod; state continues; the fence is lifted', async () => {
    const taskQueue = `podferry-e2e-sts-${run}`;
    orchestrators.push(await startLabOrchestrator(config, taskQueue));
    const source = await freshStatefulSet();
    await putSampleKey(source.status!.podIP!, 'e2e', 'moved by podferry, adopted by its StatefulSet');
    const before = await readSampleState(source.status!.podIP!);

    const started = Date.now();
    const watch = watchIncarnations();
    const handle = await startMigration(
      createTemporalClient(connection, config),
      { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: POD }, target: { cluster: 'lab-a', node: 'lab-a-node2' } },
      { taskQueue, migrationId: `sts-move-${run}` },
    );
    const result = await handle.result();
    const restored = (await waitForPod(core, NAMESPACE, POD, (pod) => isReady(pod) && (pod!.metadata!.ownerReferences ?? []).length > 0, 30_000))!;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const seen = await watch.stop();

    expect(result).toMatchObject({ strategy: 'DeleteThenCreate', target: { name: POD, node: 'lab-a-node2' } });
    expect(restored.spec!.nodeName).toBe('lab-a-node2');
    expect(restored.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'StatefulSet', name: STATEFULSET, controller: true })]);
    expect(restored.metadata!.labels).toEqual(source.metadata!.labels);
    const after = await readSampleState(restored.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(restored.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);
    // Only the source and the restored pod ever held the name.
    expect(seen).toEqual([source.metadata!.uid, restored.metadata!.uid]);
    expect(await fenceKeys()).not.toContain(POD);
    const status = (await apps.readNamespacedStatefulSet({ namespace: NAMESPACE, name: STATEFULSET })).status!;
    expect({ ready: status.readyReplicas, current: status.currentReplicas }).toEqual({ ready: 1, current: 1 });
    console.log(
      `StatefulSet move: downtime ${result.downtimeMs} ms, total ${result.totalMs} ms; the StatefulSet's creates refused by the fence: ${await refusedCreates(started)}; ` +
        `phases ${JSON.stringify(result.phasesMs)}`,
    );
  }, 300_000);

  test('a failure at the commit step: the pod is restored on its source node through the fence, with its state; no fresh pod', async () => {
    const taskQueue = `podferry-e2e-sts-undo-${run}`;
    const real = createOrchestratorActivities(config);
    let readinessWaits = 0;
    orchestrators.push(
      await startLabOrchestrator(config, taskQueue, {
        // The restored pod's wait fails; the rollback's wait for the pod restored at the source is the real one.
        waitPodReady: async (input) => {
          if (++readinessWaits === 1) throw ApplicationFailure.nonRetryable('injected by the e2e test: the restored pod did not become Ready', 'InjectedFailure');
          return real.waitPodReady(input);
        },
      }),
    );
    const source = await freshStatefulSet();
    await putSampleKey(source.status!.podIP!, 'e2e', 'still here after the failed move');
    const before = await readSampleState(source.status!.podIP!);

    const watch = watchIncarnations();
    const failure = await (
      await startMigration(
        createTemporalClient(connection, config),
        { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: POD }, target: { cluster: 'lab-a', node: 'lab-a-node2' } },
        { taskQueue, migrationId: `sts-undo-${run}` },
      )
    )
      .result()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as ApplicationFailure).type).toBe('MigrationRolledBack');
    const back = (await waitForPod(core, NAMESPACE, POD, (pod) => isReady(pod) && (pod!.metadata!.ownerReferences ?? []).length > 0, 60_000))!;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const seen = await watch.stop();

    expect(back.spec!.nodeName).toBe('lab-a-node');
    const resumed = await readSampleState(back.status!.podIP!);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    // The source, the failed restored pod on lab-a-node2 and the pod restored at the source: no fresh pod.
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBe(source.metadata!.uid);
    expect(seen[2]).toBe(back.metadata!.uid);
    expect(back.metadata!.annotations?.['podferry.io/migration-id']).toBe(`sts-undo-${run}`);
    expect(await fenceKeys()).not.toContain(POD);
  }, 300_000);
});
