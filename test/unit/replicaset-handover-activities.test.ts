// The activities of a ReplicaSet's hand-over (AdoptByReplicaSet) against a fake API server: the patches they
// send (deletion cost, labels on and off the copy) and how they tell which pod the ReplicaSet deleted. The
// ReplicaSet controller's part (adopting, releasing, deleting) is played by the test.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { createKubernetesActivities, type HandOverPods } from '../../src/activities/kubernetes.js';
import { ANNOTATIONS, MIN_POD_DELETION_COST, POD_DELETION_COST } from '../../src/api/names.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { buildTargetPod } from '../../src/kubernetes/target-pod.js';
import { plannedSourcePod } from '../../src/planning/migration.js';
import { replicaSetCopyName } from '../../src/planning/replicaset-handover.js';
import { POD, REPLICASET, replicaSet, replicaSetPod } from '../fixtures/deployment.js';
import { startFakePodsApi, type FakePodsApi } from '../support/fake-pods-api.js';

let api: FakePodsApi;
let activities: ReturnType<typeof createKubernetesActivities>;
const COPY = replicaSetCopyName(REPLICASET, 'mig-1');
const source = () => api.pods.get(`default/${POD}`)!;
const copy = () => api.pods.get(`default/${COPY}`)!;
const templateLabels = () => replicaSetPod().metadata!.labels!;

beforeAll(async () => {
  api = await startFakePodsApi();
  activities = createKubernetesActivities({ clusters: new Clusters({ 'lab-a': { kubeconfig: api.kubeconfig } }), pollIntervalMs: 20 });
});

afterAll(() => api.close());

beforeEach(() => {
  api.pods.clear();
  api.requests.length = 0;
  const pod = replicaSetPod({ annotations: { [ANNOTATIONS.lock]: 'mig-1' } });
  api.pods.set(`default/${POD}`, pod);
  const restored = buildTargetPod({
    source: plannedSourcePod(pod),
    sourceCluster: 'lab-a',
    targetNamespace: 'default',
    targetNode: 'lab-a-node2',
    images: { counter: 'r@sha256:1', kv: 'r@sha256:2', ballast: 'r@sha256:3' },
    migrationId: 'mig-1',
    name: COPY,
    stashLabels: true,
  });
  api.pods.set(`default/${COPY}`, { ...restored, metadata: { ...restored.metadata, uid: 'copy-uid' } });
});

const pods: HandOverPods = {
  cluster: 'lab-a',
  namespace: 'default',
  source: { name: POD, uid: replicaSetPod().metadata!.uid! },
  copy: { name: COPY, migrationId: 'mig-1', sourceUid: replicaSetPod().metadata!.uid! },
};

/** What the ReplicaSet controller does to a pod, `ms` from now. */
function later(ms: number, change: (pod: V1Pod) => void, name = POD): void {
  setTimeout(() => {
    const pod = api.pods.get(`default/${name}`);
    if (pod) change(pod);
  }, ms);
}

const adopted = (pod: V1Pod) => {
  const owner = replicaSet().metadata!;
  pod.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner.name!, uid: owner.uid!, controller: true, blockOwnerDeletion: true }];
};

describe('setPodDeletionCost', () => {
  test('the lowest cost on the source, then its previous value back; absent before: removed again', async () => {
    await expect(activities.setPodDeletionCost({ ...pods, ...pods.source, cost: MIN_POD_DELETION_COST })).resolves.toEqual({ changed: true });
    expect(source().metadata?.annotations).toMatchObject({ [POD_DELETION_COST]: '-2147483648', [ANNOTATIONS.lock]: 'mig-1' });
    await expect(activities.setPodDeletionCost({ ...pods, ...pods.source })).resolves.toEqual({ changed: true });
    expect(source().metadata?.annotations).toEqual({ [ANNOTATIONS.lock]: 'mig-1' });
    // Idempotent: the undo run again changes nothing.
    await expect(activities.setPodDeletionCost({ ...pods, ...pods.source })).resolves.toEqual({ changed: false });
  });

  test('a pod without annotations gets them; another incarnation of the name, or none, is left alone', async () => {
    delete source().metadata!.annotations;
    await activities.setPodDeletionCost({ ...pods, ...pods.source, cost: '5' });
    expect(source().metadata?.annotations).toEqual({ [POD_DELETION_COST]: '5' });
    await expect(activities.setPodDeletionCost({ ...pods, name: POD, uid: 'another-uid', cost: '7' })).resolves.toEqual({ changed: false });
    api.pods.delete(`default/${POD}`);
    await expect(activities.setPodDeletionCost({ ...pods, ...pods.source, cost: '7' })).resolves.toEqual({ changed: false });
  });
});

describe('handOverToReplicaSet', () => {
  test('one patch: the labels on the copy, their stash gone; the source untouched', async () => {
    expect(copy().metadata?.labels).toBeUndefined();
    await expect(activities.handOverToReplicaSet({ ...pods, labels: templateLabels() })).resolves.toEqual({ handedOver: true });
    expect(copy().metadata?.labels).toEqual(templateLabels());
    expect(copy().metadata?.annotations?.[ANNOTATIONS.stashedLabels]).toBeUndefined();
    expect(api.requests.filter((r) => r.startsWith('PATCH'))).toEqual([`PATCH /api/v1/namespaces/default/pods/${COPY}`]);
  });

  test('a pod of that name this migration did not make is not touched', async () => {
    copy().metadata!.annotations![ANNOTATIONS.migrationId] = 'mig-2';
    await expect(activities.handOverToReplicaSet({ ...pods, labels: templateLabels() })).resolves.toEqual({ handedOver: false });
    expect(copy().metadata?.labels).toBeUndefined();
  });
});

describe('awaitReplicaSetChoice', () => {
  test('the ReplicaSet requests the source\'s deletion: "source"', async () => {
    later(150, (pod) => (pod.metadata!.deletionTimestamp = new Date()));
    await expect(activities.awaitReplicaSetChoice({ ...pods, copyUid: 'copy-uid', timeoutSeconds: 5 })).resolves.toEqual({ deleted: 'source' });
  });

  test('it deletes the copy instead: "copy"', async () => {
    later(150, () => api.pods.delete(`default/${COPY}`), COPY);
    await expect(activities.awaitReplicaSetChoice({ ...pods, copyUid: 'copy-uid', timeoutSeconds: 5 })).resolves.toEqual({ deleted: 'copy' });
  });

  test('neither in time: ReplicaSetDidNotChoose, naming both pods', async () => {
    await expect(activities.awaitReplicaSetChoice({ ...pods, copyUid: 'copy-uid', timeoutSeconds: 1 })).rejects.toMatchObject({
      type: 'ReplicaSetDidNotChoose',
      message: expect.stringContaining(`the ReplicaSet deleted neither pod default/${POD} nor its copy ${COPY} in cluster lab-a within 1s`),
    });
  });
});

describe('takeBackFromReplicaSet', () => {
  test('the labels come off the copy (stashed again); it returns once the ReplicaSet has let go of it for 2 s', async () => {
    await activities.handOverToReplicaSet({ ...pods, labels: templateLabels() });
    adopted(copy());
    // The controller releases the copy once it sees the labels gone.
    later(300, (pod) => delete pod.metadata!.ownerReferences, COPY);
    const started = Date.now();
    await expect(activities.takeBackFromReplicaSet({ ...pods, labels: templateLabels(), timeoutSeconds: 10 })).resolves.toEqual({ sourceDeleted: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2300);
    expect(copy().metadata?.labels).toEqual({});
    expect(JSON.parse(copy().metadata!.annotations![ANNOTATIONS.stashedLabels]!)).toEqual(templateLabels());
  });

  test('the ReplicaSet deleted the source meanwhile: sourceDeleted (the copy is the workload now)', async () => {
    await activities.handOverToReplicaSet({ ...pods, labels: templateLabels() });
    adopted(copy());
    later(100, (pod) => (pod.metadata!.deletionTimestamp = new Date()));
    await expect(activities.takeBackFromReplicaSet({ ...pods, labels: templateLabels(), timeoutSeconds: 10 })).resolves.toEqual({ sourceDeleted: true });
  });

  test('the copy already deleted (the ReplicaSet chose it): nothing to take back, the source is still there', async () => {
    api.pods.delete(`default/${COPY}`);
    await expect(activities.takeBackFromReplicaSet({ ...pods, labels: templateLabels(), timeoutSeconds: 10 })).resolves.toEqual({ sourceDeleted: false });
    expect(api.requests.filter((r) => r.startsWith('PATCH'))).toEqual([]);
  });

  test('a ReplicaSet that never lets go: retried (CopyStillOwned), the copy is not stopped meanwhile', async () => {
    await activities.handOverToReplicaSet({ ...pods, labels: templateLabels() });
    adopted(copy());
    await expect(activities.takeBackFromReplicaSet({ ...pods, labels: templateLabels(), timeoutSeconds: 1 })).rejects.toMatchObject({ type: 'CopyStillOwned' });
  });
});
