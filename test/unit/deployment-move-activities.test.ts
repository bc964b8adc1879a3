// The activities of a Deployment's pod moving to another cluster or namespace against a fake API server: a
// Deployment scaled by one exactly once per migration, whatever retries, and the copy's adoption watched. The
// controllers' part (adopting, deleting) is played by the test.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { createDeploymentActivities } from '../../src/activities/deployments.js';
import { createKubernetesActivities } from '../../src/activities/kubernetes.js';
import { ANNOTATIONS, SCALED_BY_KEPT } from '../../src/api/names.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { deployment, POD, replicaSet, replicaSetPod } from '../fixtures/deployment.js';
import { startFakePodsApi, type FakePodsApi } from '../support/fake-pods-api.js';

let api: FakePodsApi;
let deployments: ReturnType<typeof createDeploymentActivities>;
let kubernetes: ReturnType<typeof createKubernetesActivities>;
const sample = () => api.deployments.get('default/sample')!;
const ref = { cluster: 'lab-a', namespace: 'default', name: 'sample', uid: deployment().metadata!.uid! };

beforeAll(async () => {
  api = await startFakePodsApi();
  const clusters = new Clusters({ 'lab-a': { kubeconfig: api.kubeconfig } });
  deployments = createDeploymentActivities({ clusters, pollIntervalMs: 20 });
  kubernetes = createKubernetesActivities({ clusters, pollIntervalMs: 20 });
});

afterAll(() => api.close());

beforeEach(() => {
  api.deployments.clear();
  api.pods.clear();
  api.deployments.set('default/sample', deployment({ metadata: { resourceVersion: '100' } }));
});

describe('scaleDeployment', () => {
  test('by one, naming the migration in the same patch; a retry of that migration scales nothing', async () => {
    await expect(deployments.scaleDeployment({ ...ref, by: -1, migrationId: 'mig-1' })).resolves.toEqual({ replicas: 1, scaled: true });
    expect(sample().spec?.replicas).toBe(1);
    expect(sample().metadata?.annotations).toMatchObject({ [ANNOTATIONS.scaledBy]: '["mig-1"]', 'deployment.kubernetes.io/revision': '3' });
    await expect(deployments.scaleDeployment({ ...ref, by: -1, migrationId: 'mig-1' })).resolves.toEqual({ replicas: 1, scaled: false });
    expect(sample().spec?.replicas).toBe(1);
  });

  test("another migration's scale in between does not make a retry scale again", async () => {
    await deployments.scaleDeployment({ ...ref, by: 1, migrationId: 'mig-1' });
    await deployments.scaleDeployment({ ...ref, by: 1, migrationId: 'mig-2' });
    await expect(deployments.scaleDeployment({ ...ref, by: 1, migrationId: 'mig-1' })).resolves.toEqual({ replicas: 4, scaled: false });
    expect(sample().metadata?.annotations?.[ANNOTATIONS.scaledBy]).toBe('["mig-1","mig-2"]');
  });

  test(`a Deployment without annotations gets them; the ids kept are the last ${SCALED_BY_KEPT}`, async () => {
    delete sample().metadata!.annotations;
    await deployments.scaleDeployment({ ...ref, by: 1, migrationId: 'mig-1' });
    expect(sample().metadata?.annotations).toEqual({ [ANNOTATIONS.scaledBy]: '["mig-1"]' });
    const many = Array.from({ length: SCALED_BY_KEPT }, (_, i) => `old-${i}`);
    sample().metadata!.annotations![ANNOTATIONS.scaledBy] = JSON.stringify(many);
    await deployments.scaleDeployment({ ...ref, by: 1, migrationId: 'mig-2' });
    expect(JSON.parse(sample().metadata!.annotations![ANNOTATIONS.scaledBy]!)).toEqual([...many.slice(1), 'mig-2']);
  });

  test('another incarnation of the name, or none: refused, nothing scaled', async () => {
    await expect(deployments.scaleDeployment({ ...ref, uid: 'other', by: 1, migrationId: 'mig-1' })).rejects.toMatchObject({ type: 'DeploymentGone' });
    expect(sample().spec?.replicas).toBe(2);
  });
});

describe('awaitPodOwner', () => {
  const copy = () => replicaSetPod({ name: POD, uid: 'copy-uid' });
  const input = { cluster: 'lab-a', namespace: 'default', name: POD, uid: 'copy-uid', ownerUid: replicaSet().metadata!.uid!, timeoutSeconds: 5 };

  test("returns once the ReplicaSet's ownerReference is on the copy", async () => {
    const orphan = copy();
    delete orphan.metadata!.ownerReferences;
    api.pods.set(`default/${POD}`, orphan);
    setTimeout(() => api.pods.set(`default/${POD}`, copy()), 100);
    await expect(kubernetes.awaitPodOwner(input)).resolves.toEqual({ ownedAt: expect.any(Number) });
  });

  test('the copy deleted, or taken by another owner: fails at once, saying so', async () => {
    await expect(kubernetes.awaitPodOwner(input)).rejects.toMatchObject({ type: 'CopyDeleted' });
    api.pods.set(`default/${POD}`, copy());
    await expect(kubernetes.awaitPodOwner({ ...input, ownerUid: 'target-rs-uid' })).rejects.toMatchObject({ type: 'CopyAdoptedByAnother' });
  });
});
