// findHeldMigration (what `podferry resume` acts on) with a source on a Liqo virtual node: Liqo copies the
// source's lock annotation to the pod it runs in the provider, which is then where the source runs, not a
// second source.
import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { createKubernetesActivities } from '../../src/activities/kubernetes.js';
import { ANNOTATIONS } from '../../src/api/names.js';
import type { Clusters } from '../../src/kubernetes/clusters.js';
import { podOnVirtualNode, remotePod } from '../fixtures/liqo.js';

function clustersWith(pods: Record<string, V1Pod[]>): Clusters {
  return {
    names: () => Object.keys(pods),
    core: (cluster: string) => ({ listPodForAllNamespaces: () => Promise.resolve({ items: pods[cluster] ?? [] }) }),
  } as unknown as Clusters;
}

const locked = <T extends V1Pod>(pod: T): T => {
  pod.metadata!.annotations = { ...pod.metadata!.annotations, [ANNOTATIONS.lock]: 'mig-held' };
  return pod;
};

describe('findHeldMigration with Liqo', () => {
  test("the held source on the virtual node, and the provider's pod of it as where it runs", async () => {
    const local = locked(podOnVirtualNode());
    const remote = locked(remotePod());
    const { findHeldMigration } = createKubernetesActivities({ clusters: clustersWith({ 'lab-a': [local], 'lab-b': [remote] }) });
    const held = await findHeldMigration({ migrationId: 'mig-held' });
    expect(held.targets).toEqual([]);
    expect(held.source).toMatchObject({ cluster: 'lab-a', namespace: 'default', name: 'sample', uid: local.metadata!.uid, node: 'lab-b' });
    expect(held.source?.runsAt).toEqual({
      cluster: 'lab-b',
      namespace: 'default',
      uid: remote.metadata!.uid,
      node: 'lab-b-node',
      containerIds: ['containerd://counter-in-lab-b', 'containerd://kv-in-lab-b', 'containerd://ballast-in-lab-b'],
    });
  });
});
