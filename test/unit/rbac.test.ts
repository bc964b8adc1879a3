// podferry's RBAC (deploy/rbac) read as data: every rule says which activity needs it, nothing is granted with
// `*`, Secrets are never listed cluster-wide, cluster-wide grants are only what the API offers nowhere else,
// and deploy/base and the lab's restricted configuration agree with it. That the rules are enough is shown on
// the lab (test/e2e/least-privilege.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { parse, parseAllDocuments, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { createDeploymentActivities } from '../../src/activities/deployments.js';
import { createKubeletActivities } from '../../src/activities/kubelet.js';
import { createKubernetesActivities } from '../../src/activities/kubernetes.js';
import { createOperationsActivities } from '../../src/activities/operations.js';
import { createPodNameFenceActivities } from '../../src/activities/pod-name-fence.js';
import { createStatefulSetActivities } from '../../src/activities/statefulsets.js';
import { Clusters } from '../../src/kubernetes/clusters.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rbacDir = path.join(root, 'deploy/rbac');

/** The activities that call a Kubernetes API server (the orchestrator worker's). */
const clusters = new Clusters({});
const apiActivities = Object.keys({
  ...createKubernetesActivities({ clusters }),
  ...createKubeletActivities({ clusters }),
  ...createOperationsActivities({ clusters }),
  ...createPodNameFenceActivities({ clusters }),
  ...createDeploymentActivities({ clusters }),
  ...createStatefulSetActivities({ clusters }),
}).sort();

interface Rule {
  file: string;
  kind: string;
  role: string;
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** The comment lines right above the rule and inside it. */
  comment: string;
}

interface K8sObject {
  file: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

const files = readdirSync(rbacDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const objects: K8sObject[] = [];
const rules: Rule[] = [];
for (const file of files) {
  const text = readFileSync(path.join(rbacDir, file), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const object = { file, ...(doc.toJSON() as Omit<K8sObject, 'file'>) };
    objects.push(object);
    const pair = (doc.contents as YAMLMap).items.find((p) => (p.key as Scalar).value === 'rules') as Pair<Scalar, YAMLSeq<YAMLMap>> | undefined;
    const items = pair?.value?.items ?? [];
    items.forEach((item, i) => {
      const from = i === 0 ? pair!.key.range![1] : items[i - 1]!.range![2];
      const rule = item.toJSON() as Pick<Rule, 'apiGroups' | 'resources' | 'verbs'>;
      const comment = (text.slice(from, item.range![2]).match(/#.*/g) ?? []).join('\n');
      rules.push({ file, kind: object.kind, role: object.metadata.name, ...rule, comment });
    });
  }
}
const describeRule = (r: Rule) => `${r.file} ${r.kind} ${r.role}: ${r.verbs.join(',')} ${r.resources.join(',')}`;

describe('deploy/rbac', () => {
  test('every rule names an activity that calls the Kubernetes API, and every such activity has its rules', () => {
    const unnamed = rules.filter((r) => !apiActivities.some((a) => r.comment.includes(a)) && r.role !== 'podferry-kubelet-checkpoint');
    expect(unnamed.map(describeRule)).toEqual([]);
    // The kubelet-client identity's rule names the activity whose call the kubelet authorizes against it.
    expect(rules.find((r) => r.role === 'podferry-kubelet-checkpoint')?.comment).toContain('checkpointContainer');
    const allComments = rules.map((r) => r.comment).join('\n');
    expect(apiActivities.filter((a) => !new RegExp(`\\b${a}\\b`).test(allComments))).toEqual([]);
  });

  test('nothing is granted with a wildcard', () => {
    const wild = rules.filter((r) => [...r.apiGroups, ...r.resources, ...r.verbs].some((v) => v.includes('*')));
    expect(wild.map(describeRule)).toEqual([]);
  });

  test('cluster-wide grants are only for what the API offers nowhere else; Secrets and ConfigMaps only inside namespaces', () => {
    // Pods are listed across namespaces only by drain (the pods of a node) and rebalance (candidates, capacity).
    // Liqo's NamespaceMaps and VirtualNodes live in tenant namespaces whose names Liqo chooses (liqo.yaml, optional).
    const clusterWide = rules.filter((r) => r.kind === 'ClusterRole').flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}`)));
    expect([...new Set(clusterWide)].sort()).toEqual(
      [
        'create nodes/checkpoint',
        'create nodes/proxy',
        'get namespaces',
        'get nodes',
        'list nodes',
        'list pods',
        'patch nodes',
        'get namespaceoffloadings',
        'list namespacemaps',
        'list virtualnodes',
      ].sort(),
    );
    // nodes/proxy reaches the kubelet's /run (exec-like): only in the optional file for checkpointVia: kubelet.
    expect(rules.filter((r) => r.resources.some((res) => res.startsWith('nodes/'))).map((r) => r.file)).toEqual(['kubelet-checkpoint.yaml', 'kubelet-checkpoint.yaml']);
    const secretsListed = rules.filter((r) => r.resources.includes('secrets') && r.verbs.some((v) => ['list', 'watch'].includes(v)));
    expect(secretsListed.map((r) => r.kind)).toEqual(['Role']);
  });

  test('Roles and RoleBindings carry no namespace: they are applied in each namespace pods migrate from or into', () => {
    const namespaced = objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding');
    expect(namespaced.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'Role/podferry-source',
      'Role/podferry-target',
      'RoleBinding/podferry-source',
      'RoleBinding/podferry-target',
    ]);
    expect(namespaced.filter((o) => o.metadata.namespace !== undefined)).toEqual([]);
  });

  test('every binding refers to a role defined here and binds the ServiceAccount defined here (or the API server\'s kubelet client)', () => {
    const serviceAccounts = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    expect(serviceAccounts).toEqual(['podferry-system/podferry']);
    const bindings = objects.filter((o) => o.kind.endsWith('Binding'));
    for (const binding of bindings) {
      expect({ binding: binding.metadata.name, role: objects.some((o) => o.kind === binding.roleRef!.kind && o.metadata.name === binding.roleRef!.name) }).toEqual({
        binding: binding.metadata.name,
        role: true,
      });
      // A Role is bound only in its own namespace; a namespaced rule set is never granted cluster-wide.
      if (binding.kind === 'ClusterRoleBinding') expect(binding.roleRef!.kind).toBe('ClusterRole');
      for (const subject of binding.subjects ?? []) {
        expect(subject.kind === 'ServiceAccount' ? `${subject.namespace}/${subject.name}` : `${subject.kind} ${subject.name}`).toMatch(
          /^(podferry-system\/podferry|User kube-apiserver-kubelet-client)$/,
        );
      }
    }
  });

  test('deploy/base runs the orchestrator as that ServiceAccount and takes its roles from deploy/rbac, defining none of its own', () => {
    const base = parse(readFileSync(path.join(root, 'deploy/base/kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(base.resources).toContain('../rbac');
    const rbacKustomization = parse(readFileSync(path.join(rbacDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect(rbacKustomization.resources.sort()).toEqual(['service-account.yaml', 'source-cluster.yaml', 'target-cluster.yaml']);
    const baseObjects = base.resources
      .filter((r) => r.endsWith('.yaml'))
      .flatMap((r) => parseAllDocuments(readFileSync(path.join(root, 'deploy/base', r), 'utf8')).map((d) => d.toJSON() as K8sObject & { spec?: unknown }));
    expect(baseObjects.filter((o) => o.kind.includes('Role'))).toEqual([]);
    const orchestrator = baseObjects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'podferry-orchestrator') as
      | { spec: { template: { spec: { serviceAccountName: string } } } }
      | undefined;
    expect(orchestrator?.spec.template.spec.serviceAccountName).toBe('podferry');
  });

  test('config/lab-least-privilege.yaml is config/lab.yaml with the restricted kubeconfig', () => {
    const lab = parse(readFileSync(path.join(root, 'config/lab.yaml'), 'utf8')) as { clusters: Record<string, { kubeconfig: string }> };
    const restricted = parse(readFileSync(path.join(root, 'config/lab-least-privilege.yaml'), 'utf8')) as typeof lab;
    for (const cluster of Object.values(lab.clusters)) cluster.kubeconfig = '/var/lib/podferry-lab/kubeconfig-podferry';
    expect(restricted).toEqual(lab);
  });
});
