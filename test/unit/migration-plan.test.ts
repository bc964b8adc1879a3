import { describe, expect, test } from '@jest/globals';
import type { V1Node, V1Taint } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import { ANNOTATIONS } from '../../src/api/names.js';
import { buildTargetPod } from '../../src/kubernetes/target-pod.js';
import { MAX_PREPULL_NODES, sourceRefusals, type MigrationFacts } from '../../src/planning/migration.js';
import { offloadedTarget } from '../fixtures/liqo.js';
import { sourcePod } from '../fixtures/source-pod.js';
import { planOf, refusalsOf } from '../support/plan-decision.js';

/** The fixture pod (default/sample on lab-a-node in lab-a) moving to cluster lab-b by default. */
function facts(target: Partial<PlanMigrationInput['target']> = {}, overrides: Partial<MigrationFacts> = {}): MigrationFacts {
  return {
    request: { migrationId: 'mig-1', source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-b', namespace: 'default', ...target } },
    sourcePod: sourcePod(),
    sourceNodeUnschedulable: false,
    targetNamespaceExists: true,
    targetNode: target.node ? node(target.node) : undefined,
    podAtTarget: undefined,
    targetClusterNodes: [],
    protectedNamespaces: ['kube-system'],
    registryPullIdentity: false,
    ...overrides,
  };
}

function node(name: string, options: { ready?: boolean; unschedulable?: boolean; labels?: Record<string, string>; taints?: V1Taint[] } = {}): V1Node {
  return {
    metadata: { name, ...(options.labels ? { labels: options.labels } : {}) },
    spec: { unschedulable: options.unschedulable, taints: options.taints },
    status: { conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }] },
  };
}

describe('refusals: each names the object and what to do', () => {
  test('PodNotFound: the source pod does not exist', () => {
    const f = facts({}, { sourcePod: undefined });
    const [refusal] = refusalsOf(f);
    expect(refusal?.type).toBe('PodNotFound');
    expect(refusal?.message).toBe('pod default/sample in cluster lab-a does not exist: check the name with kubectl get pods -n default');
    expect(sourceRefusals(f.request, f.sourcePod)).toEqual([refusal]);
  });

  test('the eligibility refusals of the source pod, all of them, in order', () => {
    const f = facts({}, { sourcePod: sourcePod({ spec: { hostNetwork: true }, status: { phase: 'Pending' } }) });
    const refused = refusalsOf(f);
    expect(refused.map((r) => r.type)).toEqual(['PodNotRunning', 'HostNamespaceNotSupported']);
    expect(refused[0]?.message).toMatch(/^pod default\/sample is Pending, not Running: .*wait until it runs/);
    expect(refused[1]?.message).toMatch(/^pod default\/sample uses hostNetwork: true; .*run it without hostNetwork$/);
    expect(sourceRefusals(f.request, f.sourcePod)).toEqual(refused);
  });

  test('PodNotScheduled: the source pod is not bound to a node', () => {
    const f = facts({}, { sourcePod: sourcePod({ spec: { nodeName: undefined } }) });
    const [refusal] = refusalsOf(f);
    expect(refusal?.type).toBe('PodNotScheduled');
    expect(refusal?.message).toMatch(/^pod default\/sample in cluster lab-a is not bound to a node yet: wait until it is scheduled .*then retry$/);
    expect(sourceRefusals(f.request, f.sourcePod)).toEqual([refusal]);
  });

  test('AlreadyOnTargetNode: within the cluster and namespace, to the node the pod runs on', () => {
    const f = facts({ cluster: 'lab-a', node: 'lab-a-node' });
    const [refusal] = refusalsOf(f);
    expect(refusal?.type).toBe('AlreadyOnTargetNode');
    expect(refusal?.message).toBe('pod default/sample in cluster lab-a already runs on node lab-a-node: pass another target node (or cluster)');
    expect(sourceRefusals(f.request, f.sourcePod)).toEqual([refusal]);
  });

  test('the same node name in another cluster is another node', () => {
    expect(planOf(facts({ node: 'lab-a-node' })).target.node).toBe('lab-a-node');
  });

  test('TargetNamespaceMissing: the target namespace does not exist', () => {
    const [refusal] = refusalsOf(facts({ namespace: 'moved' }, { targetNamespaceExists: false }));
    expect(refusal?.type).toBe('TargetNamespaceMissing');
    expect(refusal?.message).toBe(
      'namespace moved does not exist in cluster lab-b: create it (kubectl create namespace moved) or pass another target namespace',
    );
  });

  test('UnknownTargetNode: the named target node does not exist', () => {
    const [refusal] = refusalsOf(facts({ node: 'lab-b-nod' }, { targetNode: undefined }));
    expect(refusal?.type).toBe('UnknownTargetNode');
    expect(refusal?.message).toBe(
      'node lab-b-nod does not exist in cluster lab-b: list nodes with kubectl get nodes, or omit the node to let the scheduler choose',
    );
  });

  test('TargetPodExists: a pod of the name at the target that this migration did not create', () => {
    const [refusal] = refusalsOf(facts({}, { podAtTarget: sourcePod({ metadata: { uid: 'someone-else' } }) }));
    expect(refusal?.type).toBe('TargetPodExists');
    expect(refusal?.message).toBe(
      'a pod named sample already exists in lab-b/default and was not created by this migration: delete it or migrate into another namespace',
    );
  });

  test('a pod at the target that this migration created (a retry), or the source itself, is not in the way', () => {
    const ours = sourcePod({ metadata: { uid: 'target-uid', annotations: { [ANNOTATIONS.migrationId]: 'mig-1' } } });
    expect(planOf(facts({}, { podAtTarget: ours })).strategy).toBe('CreateThenDelete');
    expect(planOf(facts({ cluster: 'lab-a', node: 'lab-a-other' }, { podAtTarget: sourcePod() })).strategy).toBe('DeleteThenCreate');
  });

  test('ProtectedNamespace: nothing moves out of or into a protected namespace', () => {
    const out = facts({}, { request: { ...facts().request, source: { cluster: 'lab-a', namespace: 'kube-system', pod: 'sample' } } });
    expect(refusalsOf({ ...out, sourcePod: { ...sourcePod(), metadata: { ...sourcePod().metadata, namespace: 'kube-system' } } })).toEqual([
      { type: 'ProtectedNamespace', message: expect.stringContaining('namespace kube-system is protected (protectedNamespaces') },
    ]);
    expect(refusalsOf(facts({ namespace: 'kube-system' }, { request: { ...facts({ namespace: 'kube-system' }).request, allowSecretsToOtherNamespace: true } }))).toEqual([
      { type: 'ProtectedNamespace', message: expect.stringContaining('namespace kube-system is protected') },
    ]);
    expect(refusalsOf(facts({ namespace: 'tenant' }, { protectedNamespaces: ['tenant'] }))[0]?.type).toBe('ProtectedNamespace');
  });

  test('SecretsToOtherNamespace: a pod with Secrets moves into another namespace only when the request allows the copy', () => {
    expect(refusalsOf(facts({ namespace: 'elsewhere' }))).toEqual([
      {
        type: 'SecretsToOtherNamespace',
        message: expect.stringContaining('the pod references Secrets (kv-credentials, kv-tls) that would be copied from namespace default into elsewhere'),
      },
    ]);
    const allowed = facts({ namespace: 'elsewhere' });
    expect(planOf({ ...allowed, request: { ...allowed.request, allowSecretsToOtherNamespace: true } }).config.secrets).toEqual(['kv-credentials', 'kv-tls']);
  });

  test('TargetNodeUnschedulable: a cordoned node, or taints the pod does not tolerate, unless the request allows it', () => {
    const cordoned = facts({ node: 'lab-b-node' }, { targetNode: node('lab-b-node', { unschedulable: true }) });
    expect(refusalsOf(cordoned)).toEqual([{ type: 'TargetNodeUnschedulable', message: expect.stringContaining('node lab-b-node in cluster lab-b is cordoned') }]);
    const tainted = facts({ node: 'lab-b-node' }, { targetNode: node('lab-b-node', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }) });
    expect(refusalsOf(tainted)[0]?.message).toContain('has taints the pod does not tolerate (dedicated=gpu:NoSchedule)');
    expect(planOf({ ...cordoned, request: { ...cordoned.request, allowUnschedulableTargetNode: true } }).target.node).toBe('lab-b-node');
    // A soft taint, or one the pod tolerates, keeps nobody away.
    const soft = facts({ node: 'lab-b-node' }, { targetNode: node('lab-b-node', { taints: [{ key: 'busy', effect: 'PreferNoSchedule' }] }) });
    expect(planOf(soft).target.node).toBe('lab-b-node');
  });

  test('an eligible, bound pod has no refusal at the source', () => {
    expect(sourceRefusals(facts().request, sourcePod())).toEqual([]);
  });
});

describe('strategy', () => {
  const deleteFirst = /frozen source pod is deleted before the target is created/;

  test('CreateThenDelete across clusters', () => {
    const plan = planOf(facts());
    expect(plan.strategy).toBe('CreateThenDelete');
    expect(plan.warnings).not.toContainEqual(expect.stringMatching(deleteFirst));
  });

  test('CreateThenDelete across namespaces of the same cluster', () => {
    const moved = facts({ cluster: 'lab-a', namespace: 'moved' });
    expect(planOf({ ...moved, request: { ...moved.request, allowSecretsToOtherNamespace: true } }).strategy).toBe('CreateThenDelete');
  });

  test('DeleteThenCreate within the source cluster and namespace, with the warning that the source goes first', () => {
    const plan = planOf(facts({ cluster: 'lab-a', node: 'lab-a-other' }));
    expect(plan.strategy).toBe('DeleteThenCreate');
    expect(plan.warnings).toContainEqual(expect.stringMatching(deleteFirst));
    expect(plan.warnings).toContainEqual(expect.stringContaining('restored on lab-a-node from its checkpoint images'));
    expect(plan.warnings).not.toContainEqual(expect.stringContaining('the scheduler may place the pod'));
  });

  test('DeleteThenCreate without a target node warns that the scheduler may choose the source node, unless it is cordoned', () => {
    const schedulable = planOf(facts({ cluster: 'lab-a' }));
    expect(schedulable.warnings).toContainEqual(
      'no target node given and lab-a-node is schedulable: the scheduler may place the pod on lab-a-node again (cordon it, or pass a target node)',
    );
    const cordoned = planOf(facts({ cluster: 'lab-a' }, { sourceNodeUnschedulable: true }));
    expect(cordoned.warnings).not.toContainEqual(expect.stringContaining('the scheduler may place the pod'));
  });
});

describe('pre-pull nodes and target node taints', () => {
  const noExecute: V1Taint = { key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' };

  test('the named target node, with its taints (allowed there explicitly)', () => {
    const tainted = facts({ node: 'lab-b-node' }, { targetNode: node('lab-b-node', { taints: [noExecute] }) });
    const plan = planOf({ ...tainted, request: { ...tainted.request, allowUnschedulableTargetNode: true } });
    expect(plan.prepullNodes).toEqual(['lab-b-node']);
    expect(plan.targetNodeTaints).toEqual([noExecute]);
  });

  test("a Liqo virtual node: the provider's node that runs the pod (test/unit/liqo-plan.test.ts), the virtual node's taints tolerated", () => {
    const virtual = node('liqo-lab-b', { labels: { 'liqo.io/type': 'virtual-node', 'liqo.io/remote-cluster-id': 'lab-b' }, taints: [noExecute] });
    const plan = planOf(facts({ node: 'liqo-lab-b' }, { targetNode: virtual, offloadedTarget: offloadedTarget({ providerNodes: [node('lab-b-node')] }) }));
    expect(plan.prepullNodes).toEqual(['lab-b-node']);
    expect(plan.targetNodeTaints).toEqual([noExecute]);
  });

  test(`the scheduler chooses among at most ${MAX_PREPULL_NODES} Ready, schedulable nodes: all of them`, () => {
    const nodes = [node('b1'), node('b2'), node('b3'), node('down', { ready: false }), node('cordoned', { unschedulable: true })];
    const plan = planOf(facts({}, { targetClusterNodes: nodes }));
    expect(plan.prepullNodes).toEqual(['b1', 'b2', 'b3']);
    expect(plan.targetNodeTaints).toEqual([]);
  });

  test(`the scheduler chooses among more than ${MAX_PREPULL_NODES}: none`, () => {
    const nodes = ['b1', 'b2', 'b3', 'b4'].map((name) => node(name));
    expect(planOf(facts({}, { targetClusterNodes: nodes })).prepullNodes).toEqual([]);
  });
});

describe('warnings', () => {
  test('a liveness probe that gives up before maxFrozenSeconds: set it lower', () => {
    const f = facts();
    const plan = planOf({ ...f, request: { ...f.request, maxFrozenSeconds: 180 } });
    expect(plan.warnings).toContainEqual(expect.stringMatching(/^container kv has a liveness probe: .* after about 20s, .*\(maxFrozenSeconds is 180: set it below 20 to roll back before the probe gives up\)$/));
  });

  test('a liveness probe more patient than maxFrozenSeconds: the warning only', () => {
    const f = facts();
    const plan = planOf({ ...f, request: { ...f.request, maxFrozenSeconds: 15 } });
    const liveness = plan.warnings.find((w) => w.startsWith('container kv has a liveness probe'));
    expect(liveness).toBeDefined();
    expect(liveness).not.toContain('maxFrozenSeconds');
  });
});

describe('what the plan carries', () => {
  test('the source, the containers as the kubelet reports them and the config the pod references', () => {
    const running = sourcePod().status!;
    const withIds = { ...running, containerStatuses: running.containerStatuses!.map((s) => ({ ...s, containerID: `containerd://${s.name}-id` })) };
    const plan = planOf(facts({}, { sourcePod: sourcePod({ status: withIds }) }));
    expect(plan.source).toEqual({ cluster: 'lab-a', namespace: 'default', pod: 'sample', uid: '0f6b5d1e-9c1a-4b58-8d3e-2a4c1e0b7f11', node: 'lab-a-node' });
    expect(plan.containers).toEqual(
      ['counter', 'kv', 'ballast'].map((name) => ({ name, image: '10.231.0.1:5000/podferry/sample:lab', containerId: `containerd://${name}-id`, imageId: 'sha256:abc' })),
    );
    expect(plan.config).toEqual({ configMaps: ['kv-settings', 'sample-config'], secrets: ['kv-credentials', 'kv-tls'] });
  });

  test("the migration's pull secret when the registry has a pull identity; none (anonymous pulls) without", () => {
    expect(planOf(facts({}, { registryPullIdentity: true })).pullSecret).toBe('podferry-pull-mig-1');
    expect(planOf(facts())).not.toHaveProperty('pullSecret');
  });

  test('of the source pod only identity, labels, annotations and spec: no status, no managedFields; the same target pod is built from it', () => {
    const plan = planOf(facts());
    expect(Object.keys(plan.sourcePod).sort()).toEqual(['metadata', 'spec']);
    expect(plan.sourcePod.metadata).toEqual({
      name: 'sample',
      namespace: 'default',
      uid: '0f6b5d1e-9c1a-4b58-8d3e-2a4c1e0b7f11',
      labels: { 'app.kubernetes.io/name': 'podferry-sample', tier: 'demo' },
      annotations: { 'podferry.io/purpose': 'lab sample workload' },
    });
    const images = { counter: 'r/c@sha256:1', kv: 'r/c@sha256:2', ballast: 'r/c@sha256:3' };
    const build = (source: Parameters<typeof buildTargetPod>[0]['source']) =>
      buildTargetPod({ source, sourceCluster: 'lab-a', targetNamespace: 'default', targetNode: 'lab-b-node', images, migrationId: 'mig-1' });
    expect(build(plan.sourcePod)).toEqual(build(sourcePod()));
  });
});
