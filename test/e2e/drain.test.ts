// `podferry drain` on the lab: lab-a-node is emptied of the sample pod, which lands in lab-b (--to lab-b), or
// on lab-a's other node (no --to), with its state (real API servers and kubelets, containerd + CRIU, the
// registry and the lab's node workers). The test uncordons lab-a-node at the end whatever happens. Other people's pods
// on lab-a-node are left alone: the drain takes only the pods with this test's label (--pod-selector).
// The orchestration runs in a worker of this test on its own task queue (the real activities, the workflows
// from src/), so the test does not depend on the lab's orchestrator having been rebuilt.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { DrainReport } from '../../src/api/drain.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { podferry } from '../support/lab-cli.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';
import { OwnedSample } from '../support/owned-workloads.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const taskQueue = `podferry-e2e-drain-${Date.now().toString(36)}`;
const SELECTOR_LABEL = 'podferry.io/e2e';

let orchestrator: LabOrchestrator | undefined;

async function setUnschedulable(cluster: string, node: string, value: boolean): Promise<void> {
  await clusters.core(cluster).patchNode({ name: node, body: [{ op: 'add', path: '/spec/unschedulable', value }] });
}

beforeAll(async () => {
  orchestrator = await startLabOrchestrator(config, taskQueue);
}, 180_000);

afterAll(async () => {
  // Other tests run pods on it: give it back whatever happened.
  await setUnschedulable('lab-a', 'lab-a-node', false);
  await orchestrator?.stop();
});

/** A fresh sample on the schedulable lab-a-node, labelled for this drain only, with a key to keep. */
async function sampleOnLabANode(label: string) {
  await setUnschedulable('lab-a', 'lab-a-node', false);
  const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'], node: 'lab-a-node' });
  await clusters.core('lab-a').patchNamespacedPod({
    namespace: 'default',
    name: 'sample',
    body: [{ op: 'add', path: `/metadata/labels/${SELECTOR_LABEL.replace('/', '~1')}`, value: label }],
  });
  await putSampleKey(source.status!.podIP!, 'e2e', `survives the ${label}`);
  return { source, before: await readSampleState(source.status!.podIP!) };
}

describe('podferry drain on the lab', () => {
  test('drain lab-a/lab-a-node --to lab-b moves the sample pod with its state; the node stays cordoned until the test gives it back', async () => {
    const { before } = await sampleOnLabANode('drain');

    const cli = await podferry(['drain', 'lab-a/lab-a-node', '--to', 'lab-b', '--pod-selector', `${SELECTOR_LABEL}=drain`, '--wait', '--json'], taskQueue);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    const { report } = JSON.parse(cli.stdout) as { report: DrainReport };
    expect(report).toMatchObject({ cluster: 'lab-a', node: 'lab-a-node', targetCluster: 'lab-b', complete: true, cordoned: true, failed: [], skipped: [] });
    expect(report.moved).toEqual([expect.objectContaining({ namespace: 'default', name: 'sample', targetCluster: 'lab-b', migrationId: 'podferry-lab-a-default-sample' })]);
    const node = await clusters.core('lab-a').readNode({ name: 'lab-a-node' });
    expect(node.spec?.unschedulable).toBe(true);

    const target = await waitForPod(clusters.core('lab-b'), 'default', 'sample', isReady, 60_000);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(target!.metadata!.annotations!['podferry.io/last-migrated-at']).toMatch(/^\d{4}-\d\d-\d\dT/);
    await waitForPod(clusters.core('lab-a'), 'default', 'sample', (pod) => pod === undefined, 30_000);
    console.log(`drain moved the sample: downtime ${report.moved[0]!.downtimeMs} ms`);

    // The human form of the same report, for the README.
    const again = await podferry(['drain', 'lab-a/lab-a-node', '--to', 'lab-b', '--pod-selector', `${SELECTOR_LABEL}=drain`, '--wait'], taskQueue);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 moved, 0 failed, 0 skipped; complete, node cordoned');
  }, 420_000);

  test('drain lab-a/lab-a-node without --to moves the sample pod to lab-a\'s other node with its state', async () => {
    const { source, before } = await sampleOnLabANode('drain-within');

    // No --to: the target is lab-a itself; the scheduler places the pod (lab-a-node is cordoned by the drain).
    const cli = await podferry(['drain', 'lab-a/lab-a-node', '--pod-selector', `${SELECTOR_LABEL}=drain-within`, '--wait', '--json'], taskQueue);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    const { report } = JSON.parse(cli.stdout) as { report: DrainReport };
    expect(report).toMatchObject({ cluster: 'lab-a', node: 'lab-a-node', targetCluster: 'lab-a', complete: true, failed: [], skipped: [] });
    expect(report.moved).toEqual([expect.objectContaining({ namespace: 'default', name: 'sample', targetCluster: 'lab-a' })]);

    const target = await waitForPod(clusters.core('lab-a'), 'default', 'sample', (pod) => isReady(pod) && pod!.metadata!.uid !== source.metadata!.uid, 60_000);
    expect(target!.spec!.nodeName).toBe('lab-a-node2');
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    console.log(`drain within lab-a moved the sample to lab-a-node2: downtime ${report.moved[0]!.downtimeMs} ms`);
  }, 420_000);

  test("drain lab-a/lab-a-node without --to moves a Deployment's two pods and a StatefulSet's pod to lab-a-node2, taken over by their controllers, with their state", async () => {
    const labels = (app: string) => ({ 'app.kubernetes.io/name': app, [SELECTOR_LABEL]: 'drain-owned' });
    const deployment = new OwnedSample(clusters, 'lab-a', 'Deployment', 'drain-deploy', labels('podferry-drain-deploy'));
    const statefulSet = new OwnedSample(clusters, 'lab-a', 'StatefulSet', 'drain-sts', labels('podferry-drain-sts'));
    try {
      await setUnschedulable('lab-a', 'lab-a-node', false);
      const sources = [...(await deployment.create(2, 'lab-a-node')), ...(await statefulSet.create(1, 'lab-a-node'))];
      const before = new Map<string, Awaited<ReturnType<typeof readSampleState>>>();
      for (const pod of sources) {
        await putSampleKey(pod.status!.podIP!, 'e2e', `survives the drain: ${pod.metadata!.name}`);
        before.set(pod.metadata!.name!, await readSampleState(pod.status!.podIP!));
      }

      const cli = await podferry(['drain', 'lab-a/lab-a-node', '--pod-selector', `${SELECTOR_LABEL}=drain-owned`, '--wait', '--json'], taskQueue);
      expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
      const { report } = JSON.parse(cli.stdout) as { report: DrainReport };
      expect(report).toMatchObject({ cluster: 'lab-a', node: 'lab-a-node', targetCluster: 'lab-a', complete: true, failed: [], skipped: [] });
      expect(report.moved.map((m) => m.name).sort()).toEqual(sources.map((p) => p.metadata!.name!).sort());

      for (const moved of report.moved) {
        const target = await waitForPod(clusters.core('lab-a'), 'default', moved.targetName ?? moved.name, (pod) => isReady(pod) && (pod!.metadata!.ownerReferences ?? []).length > 0, 60_000);
        expect(target!.spec!.nodeName).toBe('lab-a-node2');
        const after = await readSampleState(target!.status!.podIP!);
        expect(compareSampleStates(before.get(moved.name)!, after).filter((check) => !check.ok)).toEqual([]);
      }
      // The controllers run exactly what moved: no fresh pod was started for any of them.
      const ownedNow = [...(await deployment.pods()), ...(await statefulSet.pods())].filter((p) => !p.metadata!.deletionTimestamp);
      expect(ownedNow.map((p) => p.metadata!.name).sort()).toEqual(report.moved.map((m) => m.targetName ?? m.name).sort());
      expect(ownedNow.every((p) => p.spec!.nodeName === 'lab-a-node2')).toBe(true);
      console.log(`drain within lab-a moved a Deployment's and a StatefulSet's pods to lab-a-node2: downtimes ${report.moved.map((m) => `${m.name} ${m.downtimeMs} ms`).join(', ')}`);
    } finally {
      await setUnschedulable('lab-a', 'lab-a-node', false);
      await Promise.all([deployment.remove(), statefulSet.remove()]);
    }
  }, 600_000);
});
