// The activities of a StatefulSet's pod moving to another cluster or namespace against a fake API server: a range
// changed only from the one planned, exactly once whatever retries, and a target StatefulSet found as planned (or
// not). The controllers' part is played by the test.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { createStatefulSetActivities } from '../../src/activities/statefulsets.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { REVISION, STATEFULSET, statefulSet } from '../fixtures/statefulset.js';
import { startFakePodsApi, type FakePodsApi } from '../support/fake-pods-api.js';

let api: FakePodsApi;
let statefulSets: ReturnType<typeof createStatefulSetActivities>;
const web = () => api.statefulSets.get(`default/${STATEFULSET}`)!;
const ref = { cluster: 'lab-a', namespace: 'default', name: STATEFULSET, uid: statefulSet().metadata!.uid! };

beforeAll(async () => {
  api = await startFakePodsApi();
  statefulSets = createStatefulSetActivities({ clusters: new Clusters({ 'lab-a': { kubeconfig: api.kubeconfig } }), pollIntervalMs: 20 });
});

afterAll(() => api.close());

beforeEach(() => {
  api.statefulSets.clear();
  api.requests.length = 0;
  api.statefulSets.set(`default/${STATEFULSET}`, statefulSet({ metadata: { resourceVersion: '100' }, spec: { replicas: 3 } }));
});

describe('setStatefulSetOrdinals', () => {
  test('the highest ordinal leaves: replicas only, spec.ordinals untouched; a retry changes nothing', async () => {
    const change = { ...ref, from: { start: 0, replicas: 3 }, to: { start: 0, replicas: 2 } };
    await expect(statefulSets.setStatefulSetOrdinals(change)).resolves.toEqual({ changed: true });
    expect(web().spec).toMatchObject({ replicas: 2 });
    expect(web().spec?.ordinals).toBeUndefined();
    await expect(statefulSets.setStatefulSetOrdinals(change)).resolves.toEqual({ changed: false });
    expect(api.requests.filter((r) => r.startsWith('PATCH'))).toHaveLength(1);
  });

  test('the lowest ordinal leaves: start and replicas in one patch', async () => {
    await statefulSets.setStatefulSetOrdinals({ ...ref, from: { start: 0, replicas: 3 }, to: { start: 1, replicas: 2 } });
    expect(web().spec).toMatchObject({ ordinals: { start: 1 }, replicas: 2 });
  });

  test('already the range it makes: done; neither that nor the planned one: left alone, saying what it found', async () => {
    await expect(statefulSets.setStatefulSetOrdinals({ ...ref, from: { start: 0, replicas: 4 }, to: { start: 0, replicas: 3 } })).resolves.toEqual({ changed: false });
    await expect(statefulSets.setStatefulSetOrdinals({ ...ref, from: { start: 0, replicas: 5 }, to: { start: 0, replicas: 4 } })).rejects.toMatchObject({
      type: 'StatefulSetChanged',
      message: expect.stringContaining(`StatefulSet default/${STATEFULSET} in cluster lab-a runs ordinals 0–2, neither ordinals 0–4 (as planned) nor ordinals 0–3 (as the move makes it)`),
    });
    expect(web().spec?.replicas).toBe(3);
  });

  test('another incarnation of the name, or none: refused, nothing changed', async () => {
    await expect(statefulSets.setStatefulSetOrdinals({ ...ref, uid: 'other', from: { start: 0, replicas: 3 }, to: { start: 0, replicas: 2 } })).rejects.toMatchObject({ type: 'StatefulSetGone' });
    expect(web().spec?.replicas).toBe(3);
  });
});

describe('prepareTargetStatefulSet, the StatefulSet already at the target', () => {
  const input = { migrationId: 'mig-1', source: { ...ref, cluster: 'lab-a' }, target: { cluster: 'lab-a', namespace: 'default' }, ordinal: 3, range: { start: 0, replicas: 3 }, revision: REVISION, timeoutSeconds: 2 };

  test('of the planned range and the source\'s revision: ready, not created by this migration', async () => {
    await expect(statefulSets.prepareTargetStatefulSet(input)).resolves.toEqual({ uid: ref.uid, created: false });
  });

  test('another range than planned: TargetStatefulSetChanged; another revision: TargetStatefulSetDiffers; never observed: TargetStatefulSetNotReady', async () => {
    await expect(statefulSets.prepareTargetStatefulSet({ ...input, range: { start: 0, replicas: 2 } })).rejects.toMatchObject({ type: 'TargetStatefulSetChanged' });
    await expect(statefulSets.prepareTargetStatefulSet({ ...input, revision: `${STATEFULSET}-85d4f9b7c` })).rejects.toMatchObject({
      type: 'TargetStatefulSetDiffers',
      message: expect.stringContaining(`is of revision ${REVISION}, the source's of ${STATEFULSET}-85d4f9b7c`),
    });
    web().status!.observedGeneration = 1;
    await expect(statefulSets.prepareTargetStatefulSet({ ...input, timeoutSeconds: 0.2 })).rejects.toMatchObject({
      type: 'TargetStatefulSetNotReady',
      message: expect.stringContaining('its controller has observed generation 1 of 2'),
    });
  });
});
