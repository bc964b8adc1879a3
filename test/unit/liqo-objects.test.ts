// Reading Liqo's objects for planning, against stand-in API clients that answer with the JSON Liqo v1.1.0's
// controllers write: which objects are asked for (group, plural, label selector) and what is taken from them.
import { describe, expect, test } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Clusters } from '../../src/kubernetes/clusters.js';
import { readOffloadedSource, readOffloadedTarget } from '../../src/kubernetes/liqo-objects.js';
import { realNode, remotePod, virtualNode } from '../fixtures/liqo.js';

/** The consumer lab-a's Liqo objects for namespace `default` offloaded to lab-b under its own name. */
const namespaceOffloading = {
  apiVersion: 'offloading.liqo.io/v1beta1',
  kind: 'NamespaceOffloading',
  metadata: { name: 'offloading', namespace: 'default' },
  spec: { namespaceMappingStrategy: 'EnforceSameName', podOffloadingStrategy: 'LocalAndRemote', clusterSelector: {} },
  status: { remoteNamespaceName: 'default', offloadingPhase: 'Ready', remoteNamespacesConditions: { 'lab-b': [{ type: 'Ready', status: 'True' }] } },
};
const namespaceMap = {
  apiVersion: 'offloading.liqo.io/v1beta1',
  kind: 'NamespaceMap',
  metadata: { name: 'lab-b', namespace: 'liqo-tenant-lab-b', labels: { 'liqo.io/remote-cluster-id': 'lab-b', 'liqo.io/replication': 'true', 'liqo.io/remoteID': 'lab-b' } },
  spec: { desiredMapping: { default: 'default' } },
  status: { currentMapping: { default: { remoteNamespace: 'default', phase: 'Accepted' } } },
};
const virtualNodeObject = {
  apiVersion: 'offloading.liqo.io/v1beta1',
  kind: 'VirtualNode',
  metadata: { name: 'lab-b', namespace: 'liqo-tenant-lab-b', labels: { 'liqo.io/remote-cluster-id': 'lab-b' } },
  spec: { clusterID: 'lab-b', createNode: true, offloadingPatch: { annotationsNotReflected: ['cloud.google.com/neg'] } },
};

interface Asked {
  calls: string[];
}

function clusters(options: { offloading?: object; pods?: Record<string, V1Pod> } = {}): { clusters: Clusters; asked: Asked } {
  const asked: Asked = { calls: [] };
  const notFound = () => Promise.reject(Object.assign(new Error('not found'), { code: 404 }));
  const fake = {
    liqoClusterIds: () => ({ 'lab-a': 'lab-a', 'lab-b': 'lab-b' }),
    customObjects: (cluster: string) => ({
      getNamespacedCustomObject: (p: { group: string; namespace: string; plural: string; name: string }) => {
        asked.calls.push(`${cluster} get ${p.group}/${p.plural} ${p.namespace}/${p.name}`);
        return options.offloading === undefined ? notFound() : Promise.resolve(options.offloading);
      },
      listClusterCustomObject: (p: { group: string; plural: string; labelSelector?: string }) => {
        asked.calls.push(`${cluster} list ${p.group}/${p.plural}${p.labelSelector ? ` ${p.labelSelector}` : ''}`);
        return Promise.resolve({ items: p.plural === 'namespacemaps' ? [namespaceMap] : [virtualNodeObject] });
      },
    }),
    core: (cluster: string) => ({
      listNode: () => Promise.resolve({ items: [realNode('lab-b-node')] as V1Node[] }),
      readNamespacedPod: (p: { name: string; namespace: string }) => {
        asked.calls.push(`${cluster} get pod ${p.namespace}/${p.name}`);
        const pod = options.pods?.[`${cluster}/${p.namespace}/${p.name}`];
        return pod ? Promise.resolve(pod) : notFound();
      },
    }),
  };
  return { clusters: fake as unknown as Clusters, asked };
}

describe("reading Liqo's objects", () => {
  test('onto a virtual node: the offloading, the mapping, what is not reflected, the provider\'s nodes and the pod of the name there', async () => {
    const { clusters: c, asked } = clusters({ offloading: namespaceOffloading });
    const facts = await readOffloadedTarget(c, 'lab-a', virtualNode(), 'default', 'sample');
    expect(facts).toEqual({
      provider: 'lab-b',
      providerId: 'lab-b',
      consumerId: 'lab-a',
      namespace: { podOffloadingStrategy: 'LocalAndRemote', mapping: { remoteNamespace: 'default', phase: 'Accepted' } },
      notReflected: { annotations: ['cloud.google.com/neg'], labels: [] },
      providerNodes: [realNode('lab-b-node')],
      podAtProvider: undefined,
    });
    expect(asked.calls.sort()).toEqual(
      [
        'lab-a get offloading.liqo.io/namespaceoffloadings default/offloading',
        'lab-a list offloading.liqo.io/namespacemaps liqo.io/remote-cluster-id=lab-b,!liqo.io/replicated',
        'lab-a list offloading.liqo.io/virtualnodes',
        'lab-b get pod default/sample',
      ].sort(),
    );
  });

  test('a namespace not offloaded: its facts say so, and no pod is looked for at the provider', async () => {
    const { clusters: c, asked } = clusters();
    const facts = await readOffloadedTarget(c, 'lab-a', virtualNode(), 'default', 'sample');
    expect(facts).toMatchObject({ namespace: { podOffloadingStrategy: undefined } });
    expect(asked.calls.filter((call) => call.includes('get pod'))).toEqual([]);
  });

  test("back from a virtual node: the pod Liqo made in the provider", async () => {
    const { clusters: c } = clusters({ offloading: namespaceOffloading, pods: { 'lab-b/default/sample': remotePod() } });
    expect(await readOffloadedSource(c, 'lab-a', virtualNode(), 'default', 'sample')).toMatchObject({ provider: 'lab-b', remotePod: remotePod() });
  });

  test('a virtual node of a cluster podferry does not know: the refusal, nothing read', async () => {
    const { clusters: c, asked } = clusters();
    expect(await readOffloadedTarget(c, 'lab-a', virtualNode('liqo-far', 'far'), 'default', 'sample')).toMatchObject({ refused: { type: 'LiqoProviderUnknown' } });
    expect(asked.calls).toEqual([]);
  });
});
