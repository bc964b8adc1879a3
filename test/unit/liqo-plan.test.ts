// Planning a move onto a Liqo virtual node and back, from objects as Liqo v1.1.0 makes them: the provider
// recognised and mapped to a podferry cluster, the namespace the pod lands in there taken from Liqo's
// mapping, node-local work sent to the provider's real node, and refusals of what Liqo would not reflect.
import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { sourceExecution, targetExecution, type PlanMigrationInput } from '../../src/api/migration-plan.js';
import { ANNOTATIONS } from '../../src/api/names.js';
import { providerCluster, reflectionRefusals, remoteNamespace, virtualNodeClusterId } from '../../src/kubernetes/liqo.js';
import type { MigrationFacts } from '../../src/planning/migration.js';
import { offloadedSource, offloadedTarget, podOnVirtualNode, realNode, remotePod, VIRTUAL_NODE_TAINT, virtualNode } from '../fixtures/liqo.js';
import { sourcePod } from '../fixtures/source-pod.js';
import { planOf, refusalsOf } from '../support/plan-decision.js';

/** default/sample of lab-a, from lab-a-node to lab-a's virtual node for lab-b (the forward move). */
function onto(overrides: Partial<MigrationFacts> = {}, request: Partial<PlanMigrationInput> = {}): MigrationFacts {
  return {
    request: { migrationId: 'mig-liqo', source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-a', namespace: 'default', node: 'lab-b' }, ...request },
    sourcePod: sourcePod(),
    sourceNodeUnschedulable: false,
    targetNamespaceExists: true,
    targetNode: virtualNode(),
    podAtTarget: sourcePod(),
    targetClusterNodes: [],
    protectedNamespaces: ['kube-system'],
    registryPullIdentity: false,
    offloadedTarget: offloadedTarget(),
    ...overrides,
  };
}

/** The same pod back from the virtual node to lab-a-node (its containers run in lab-b meanwhile). */
function back(overrides: Partial<MigrationFacts> = {}): MigrationFacts {
  return {
    ...onto({ sourcePod: podOnVirtualNode(), targetNode: realNode('lab-a-node'), podAtTarget: podOnVirtualNode(), offloadedTarget: undefined, offloadedSource: offloadedSource() }),
    request: { migrationId: 'mig-back', source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-a', namespace: 'default', node: 'lab-a-node' } },
    ...overrides,
  };
}

describe('a virtual node and its provider', () => {
  test('recognised by liqo.io/type=virtual-node; its provider by liqo.io/remote-cluster-id', () => {
    expect(virtualNodeClusterId(virtualNode())).toBe('lab-b');
    expect(virtualNodeClusterId(realNode('lab-a-node'))).toBeUndefined();
    expect(virtualNodeClusterId(undefined)).toBeUndefined();
  });

  test('the provider is the cluster of that name, or the one whose liqo.clusterId says so', () => {
    expect(providerCluster('lab-b', { 'lab-a': 'lab-a', 'lab-b': 'lab-b' }, 'lab-b')).toEqual({ cluster: 'lab-b' });
    expect(providerCluster('0c5a-remote', { 'lab-a': 'lab-a', 'lab-b': '0c5a-remote' }, 'liqo-0c5a')).toEqual({ cluster: 'lab-b' });
  });

  test('no configured cluster is the provider: refused, naming the id and the configuration to add', () => {
    const decided = providerCluster('far-away', { 'lab-a': 'lab-a', 'lab-b': 'lab-b' }, 'liqo-far-away');
    expect(decided).toEqual({
      refused: {
        type: 'LiqoProviderUnknown',
        message:
          'node liqo-far-away is a Liqo virtual node of the cluster with Liqo cluster id "far-away", which no configured cluster is (clusters and their Liqo ids: lab-a (lab-a), lab-b (lab-b)): ' +
          'add that cluster under `clusters:`, named far-away or with `liqo: { clusterId: far-away }`',
      },
    });
    expect(providerCluster('lab-b', { 'lab-b': 'lab-b', other: 'lab-b' }, 'lab-b')).toMatchObject({ refused: { type: 'LiqoProviderUnknown', message: expect.stringContaining('several configured clusters claim (lab-b, other)') } });
  });
});

describe('the namespace the pod lands in at the provider: Liqo\'s mapping, not a guess', () => {
  test('EnforceSameName: the same name; DefaultName: the name Liqo chose', () => {
    expect(remoteNamespace('default', 'lab-a', 'lab-b', { podOffloadingStrategy: 'LocalAndRemote', mapping: { remoteNamespace: 'default', phase: 'Accepted' } })).toEqual({ namespace: 'default' });
    expect(remoteNamespace('default', 'lab-a', 'lab-b', { podOffloadingStrategy: 'Remote', mapping: { remoteNamespace: 'default-lab-a', phase: 'Accepted' } })).toEqual({ namespace: 'default-lab-a' });
  });

  test.each([
    ['no NamespaceOffloading', { podOffloadingStrategy: undefined, mapping: undefined }, /is not offloaded with Liqo \(it has no NamespaceOffloading\): offload it there first \(liqoctl offload namespace default --namespace-mapping-strategy/],
    ['pods kept local', { podOffloadingStrategy: 'Local', mapping: { remoteNamespace: 'default', phase: 'Accepted' } }, /keeps its pods local .*: set it to LocalAndRemote or Remote$/],
    ['not offloaded to that provider', { podOffloadingStrategy: 'LocalAndRemote', mapping: undefined }, /is not offloaded to cluster lab-b \(its NamespaceMap has no entry for it\)/],
    ['not made by Liqo (yet)', { podOffloadingStrategy: 'LocalAndRemote', mapping: { remoteNamespace: 'default', phase: 'CreationLoopBackOff' } }, /maps to default in cluster lab-b, which is CreationLoopBackOff \(Liqo has not made it\)/],
  ])('refused: %s', (_what, facts, message) => {
    const decided = remoteNamespace('default', 'lab-a', 'lab-b', facts);
    expect(decided).toMatchObject({ refused: { type: 'NamespaceNotOffloaded', message: expect.stringMatching(message) } });
  });
});

describe('onto a virtual node', () => {
  test('the plan records the provider, the namespace there and its only schedulable node: pre-pull and direct transfer reach that node', () => {
    const plan = planOf(onto());
    expect(plan.strategy).toBe('DeleteThenCreate');
    expect(plan.target).toEqual({ cluster: 'lab-a', namespace: 'default', node: 'lab-b', runsAt: { cluster: 'lab-b', namespace: 'default', node: 'lab-b-node' } });
    expect(targetExecution(plan)).toEqual({ cluster: 'lab-b', node: 'lab-b-node' });
    expect(plan.prepullNodes).toEqual(['lab-b-node']);
    // The local pod is bound to the virtual node: its taint is tolerated.
    expect(plan.targetNodeTaints).toEqual([VIRTUAL_NODE_TAINT]);
    expect(sourceExecution(plan)).toEqual({ cluster: 'lab-a', namespace: 'default', pod: 'sample', uid: sourcePod().metadata!.uid, node: 'lab-a-node' });
  });

  test('several nodes could take the pod: the provider\'s scheduler chooses, the plan names none (pre-pull on each of a few)', () => {
    const plan = planOf(onto({ offloadedTarget: offloadedTarget({ providerNodes: [realNode('b1'), realNode('b2'), realNode('cordoned', { unschedulable: true })] }) }));
    expect(plan.target.runsAt).toEqual({ cluster: 'lab-b', namespace: 'default' });
    expect(targetExecution(plan)).toEqual({ cluster: 'lab-b', node: undefined });
    expect(plan.prepullNodes).toEqual(['b1', 'b2']);
  });

  test('the provider\'s node cannot restore what the source runs on: refused before anything is frozen', () => {
    const crio = realNode('lab-b-node');
    crio.status!.nodeInfo!.containerRuntimeVersion = 'cri-o://1.34.0';
    const withIds = sourcePod();
    withIds.status!.containerStatuses = withIds.status!.containerStatuses!.map((s) => ({ ...s, containerID: `containerd://${s.name}` }));
    const [refusal] = refusalsOf(onto({ sourcePod: withIds, offloadedTarget: offloadedTarget({ providerNodes: [crio] }) }));
    expect(refusal?.type).toBe('TargetCannotRestore');
    expect(refusal?.message).toContain('lab-b-node');
  });

  test('refused: the target namespace is not offloaded to the provider', () => {
    const [refusal] = refusalsOf(onto({ offloadedTarget: offloadedTarget({ namespace: { podOffloadingStrategy: 'LocalAndRemote', mapping: undefined } }) }));
    expect(refusal).toEqual({
      type: 'NamespaceNotOffloaded',
      message: 'namespace default of cluster lab-a is not offloaded to cluster lab-b (its NamespaceMap has no entry for it): check the NamespaceOffloading\'s clusterSelector',
    });
  });

  test('refused: a pod of the name at the provider that this migration did not make (Liqo would not reflect over it)', () => {
    const [refusal] = refusalsOf(onto({ offloadedTarget: offloadedTarget({ podAtProvider: remotePod({ labels: {} }) }) }));
    expect(refusal?.type).toBe('TargetPodExists');
    expect(refusal?.message).toMatch(/^a pod named sample already exists in lab-b\/default, where Liqo would run the pod, and was not created by this migration/);
    // One this migration made before (a retried plan) is no obstacle.
    const ours = remotePod();
    ours.metadata!.annotations = { ...ours.metadata!.annotations, [ANNOTATIONS.migrationId]: 'mig-liqo' };
    expect(planOf(onto({ offloadedTarget: offloadedTarget({ podAtProvider: ours }) })).target.runsAt?.node).toBe('lab-b-node');
  });

  test('host namespaces are refused for every pod (Liqo forces them off at the provider)', () => {
    const [refusal] = refusalsOf(onto({ sourcePod: sourcePod({ spec: { hostPID: true } }) }));
    expect(refusal?.type).toBe('HostNamespaceNotSupported');
  });
});

describe('what Liqo would not reflect faithfully', () => {
  const none = { annotations: [], labels: [] };
  const pod = (spec: Partial<V1Pod['spec']>, metadata: Partial<V1Pod['metadata']> = {}) => sourcePod({ spec, metadata });

  test('a pod Liqo reflects as it is: nothing refused', () => {
    expect(reflectionRefusals(sourcePod(), none, 'default', [ANNOTATIONS.migrationId])).toEqual([]);
  });

  test('its own user namespace (hostUsers: false, not copied)', () => {
    expect(reflectionRefusals(pod({ hostUsers: false }), none, 'default', [])).toEqual([
      {
        type: 'NotReflectedByLiqo',
        message: "pod default/sample runs in its own user namespace (hostUsers: false), which Liqo does not copy to the provider's pod: its restored processes would get other uids; migrate it to a real node",
      },
    ]);
  });

  test('its FQDN as hostname, when the namespace has another name at the provider', () => {
    expect(reflectionRefusals(pod({ setHostnameAsFQDN: true }), none, 'default', [])).toEqual([]);
    expect(reflectionRefusals(pod({ setHostnameAsFQDN: true }), none, 'default-lab-a', [])[0]?.message).toMatch(/at the provider it runs in namespace default-lab-a: offload the namespace under its own name \(EnforceSameName\)$/);
  });

  test('labels or annotations it reads through the downward API that the virtual node does not reflect', () => {
    // The fixture's podinfo volume reads metadata.labels.
    const refused = reflectionRefusals(sourcePod(), { annotations: [], labels: ['tier'] }, 'default', []);
    expect(refused).toEqual([
      {
        type: 'NotReflectedByLiqo',
        message: 'pod default/sample reads its labels tier through the downward API, and the virtual node does not reflect them (offloadingPatch.labelsNotReflected): the restored pod would read other values',
      },
    ]);
    const env = pod(
      { containers: [{ name: 'app', image: 'x', env: [{ name: 'ZONE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['example.com/zone']" } } }] }] },
      { annotations: { 'example.com/zone': 'a' } },
    );
    expect(reflectionRefusals(env, { annotations: ['example.com/zone'], labels: [] }, 'default', [])[0]?.message).toContain('reads its annotations example.com/zone');
    // Not read: dropped silently, as Liqo does.
    const unread = pod({ volumes: [] }, { annotations: { 'example.com/zone': 'a' } });
    expect(reflectionRefusals(unread, { annotations: ['example.com/zone'], labels: [] }, 'default', [])).toEqual([]);
  });

  test("podferry's own annotations not reflected: the undo could not prove the remote pod is its own", () => {
    const [refusal] = refusalsOf(onto({ offloadedTarget: offloadedTarget({ notReflected: { annotations: [ANNOTATIONS.migrationId], labels: [] } }) }));
    expect(refusal?.message).toMatch(/^the virtual node does not reflect podferry's annotations podferry.io\/migration-id .*remove them from that list$/);
  });
});

describe('back from a virtual node', () => {
  test('node-local work addresses the provider\'s pod (its namespace, uid, node, container ids); the pod object stays the local one', () => {
    const plan = planOf(back());
    const local = podOnVirtualNode();
    expect(plan.source).toEqual({
      cluster: 'lab-a',
      namespace: 'default',
      pod: 'sample',
      uid: local.metadata!.uid,
      node: 'lab-b',
      runsAt: { cluster: 'lab-b', namespace: 'default', uid: remotePod().metadata!.uid, node: 'lab-b-node' },
    });
    expect(sourceExecution(plan)).toEqual({ cluster: 'lab-b', namespace: 'default', pod: 'sample', uid: remotePod().metadata!.uid, node: 'lab-b-node' });
    expect(plan.containers.map((c) => c.containerId)).toEqual(['containerd://counter-in-lab-b', 'containerd://kv-in-lab-b', 'containerd://ballast-in-lab-b']);
    expect(plan.target.runsAt).toBeUndefined();
    expect(plan.prepullNodes).toEqual(['lab-a-node']);
    expect(plan.strategy).toBe('DeleteThenCreate');
  });

  test('the namespace Liqo mapped the source namespace to is where the remote pod is looked for', () => {
    const facts = back({ offloadedSource: offloadedSource({ namespace: { podOffloadingStrategy: 'Remote', mapping: { remoteNamespace: 'default-lab-a', phase: 'Accepted' } }, remotePod: remotePod({ namespace: 'default-lab-a' }) }) });
    expect(planOf(facts).source.runsAt?.namespace).toBe('default-lab-a');
  });

  test('refused: no pod in the provider that is Liqo\'s reflection of this one', () => {
    const [missing] = refusalsOf(back({ offloadedSource: offloadedSource({ remotePod: undefined }) }));
    expect(missing).toEqual({
      type: 'OffloadedPodNotFound',
      message: 'pod default/sample in cluster lab-a, on Liqo virtual node lab-b, runs as pod default/sample in cluster lab-b, which does not exist: wait until Liqo has reflected it, then retry',
    });
    const [foreign] = refusalsOf(back({ offloadedSource: offloadedSource({ remotePod: remotePod({ labels: { 'offloading.liqo.io/origin': 'elsewhere', 'offloading.liqo.io/destination': 'lab-b' } }) }) }));
    expect(foreign?.message).toMatch(/which is not Liqo's reflection of it/);
  });

  test('refused: the provider\'s pod is not running', () => {
    const [refusal] = refusalsOf(back({ offloadedSource: offloadedSource({ remotePod: remotePod({ phase: 'Pending' }) }) }));
    expect(refusal?.type).toBe('PodNotRunning');
    expect(refusal?.message).toMatch(/runs as pod default\/sample in cluster lab-b, which is Pending: only a running pod has state to migrate/);
  });
});
