// Least privilege, shown on the lab: an orchestrator worker of this test runs as the ServiceAccount
// podferry-system/podferry with exactly the roles of deploy/rbac (deploy/lab/least-privilege.sh writes its
// kubeconfig and config/lab-least-privilege.yaml), not as system:masters. With that identity
// (a) a pod migrates lab-a → lab-b with its state, and the Secret and ConfigMap it references are copied;
// (b) a move within lab-a that fails after the source was deleted (the target node refuses the pod: its
//     node affinity names the source node) rolls back: the target is deleted, the pod restored on its
//     source node from the checkpoint images, the images removed, every undo (the copies' clean-up too)
//     done with these roles;
// (c) what podferry does not need is refused: a Secret outside its namespaces, Secrets across namespaces,
//     exec into a pod, deleting a node;
// (d) drain, rebalance and resume read what they need (their activities called directly), and a cordon is
//     allowed (as a dry run: the lab's nodes are shared).
// The test's own objects: the pod rbac-sample and its Secret and ConfigMap in default (both clusters), a
// Secret in podferry-system, a pause pod rbac-exec-probe, a ConfigMap rbac-policy. The lab's workers (its
// node workers serve this test's migrations as they run) and its pod default/sample are left alone.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthenticationV1Api, RbacAuthorizationV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import { createKubernetesActivities } from '../../src/activities/kubernetes.js';
import { createOperationsActivities } from '../../src/activities/operations.js';
import { checkpointImageTag } from '../../src/api/names.js';
import { startMigration } from '../../src/client/migrations.js';
import { loadConfig } from '../../src/config/load.js';
import { apiStatus, Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, isReady, putSampleKey, readSampleState, sampleManifest, waitForPod } from '../../src/lab/sample-workload.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const kubectlBin = path.join(process.env.HOME ?? '/root', '.cache/podferry-lab/kubernetes-v1.37.2/kubectl');
const RESTRICTED_KUBECONFIG = '/var/lib/podferry-lab/kubeconfig-podferry';
const POD = 'rbac-sample';
const CONFIG_NAME = 'rbac-sample-env';
const NAMESPACE = 'default';
const IDENTITY = 'system:serviceaccount:podferry-system:podferry';
/** A pod of the lab's pause image that (c) tries to exec into. */
const EXEC_PROBE = 'rbac-exec-probe';
const PAUSE_IMAGE = '10.231.0.1:5000/podferry/pause:lab';

/** The lab's admin identity: the test's own setup, checks and clean-up. */
const adminConfig = loadConfig({ path: path.join(root, 'config/lab.yaml') });
const admin = new Clusters(adminConfig.clusters);
let restricted: Clusters;
const runTag = Date.now().toString(36);
const taskQueue = `podferry-e2e-rbac-${runTag}`;

let orchestrator: LabOrchestrator | undefined;
let connection: Connection;
let client: Client;

/** Runs an API call that must be refused; returns its HTTP status (undefined: it was not refused). */
async function refusal(call: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await call();
    return undefined;
  } catch (err) {
    if (apiStatus(err) === undefined) throw err;
    return apiStatus(err);
  }
}

async function ignore404(call: () => Promise<unknown>): Promise<void> {
  await call().catch((err: unknown) => {
    if (apiStatus(err) !== 404) throw err;
  });
}

async function removePod(cluster: string): Promise<void> {
  const core = admin.core(cluster);
  await ignore404(() => core.deleteNamespacedPod({ namespace: NAMESPACE, name: POD, gracePeriodSeconds: 0 }));
  await waitForPod(core, NAMESPACE, POD, (p) => p === undefined, 60_000);
}

async function removeExecProbe(): Promise<void> {
  await ignore404(() => admin.core('lab-a').deleteNamespacedPod({ namespace: NAMESPACE, name: EXEC_PROBE, gracePeriodSeconds: 0 }));
  await waitForPod(admin.core('lab-a'), NAMESPACE, EXEC_PROBE, (p) => p === undefined, 60_000);
}

async function removeConfig(cluster: string): Promise<void> {
  const core = admin.core(cluster);
  await ignore404(() => core.deleteNamespacedSecret({ namespace: NAMESPACE, name: CONFIG_NAME }));
  await ignore404(() => core.deleteNamespacedConfigMap({ namespace: NAMESPACE, name: CONFIG_NAME }));
}

/**
 * The sample (src/lab/sample-workload.ts) as rbac-sample on lab-a-node, its kv container reading a Secret
 * and a ConfigMap (so a move copies them), optionally required to run on lab-a-node by node affinity (so
 * another node's kubelet refuses it).
 */
async function deployRbacSample(options: { pinnedByAffinity?: boolean } = {}): Promise<V1Pod> {
  for (const cluster of ['lab-a', 'lab-b']) {
    await removePod(cluster);
    await removeConfig(cluster);
  }
  const core = admin.core('lab-a');
  await core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: CONFIG_NAME }, stringData: { RBAC_SECRET: 'copied by podferry' } } });
  await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: CONFIG_NAME }, data: { RBAC_SETTING: 'copied too' } } });
  const pod = await sampleManifest({ name: POD });
  pod.spec!.nodeName = 'lab-a-node';
  const kv = pod.spec!.containers.find((c) => c.name === 'kv')!;
  kv.envFrom = [{ secretRef: { name: CONFIG_NAME } }, { configMapRef: { name: CONFIG_NAME } }];
  if (options.pinnedByAffinity) {
    pod.spec!.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['lab-a-node'] }] }],
        },
      },
    };
  }
  await core.createNamespacedPod({ namespace: NAMESPACE, body: pod });
  return (await waitForPod(core, NAMESPACE, POD, isReady, 120_000))!;
}

/** The reasons of the Events a migration recorded on rbac-sample in a cluster. */
async function eventReasons(cluster: string, migrationId: string): Promise<string[]> {
  const events = await admin.core(cluster).listNamespacedEvent({ namespace: NAMESPACE, fieldSelector: `involvedObject.name=${POD}` });
  return events.items.filter((e) => e.reportingInstance === migrationId).map((e) => e.reason ?? '');
}

/** The types of a failure and of its causes, outermost first. */
function failureTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e.type) types.push(e.type);
  return types;
}

function kubectlAsPodferry(cluster: string, args: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(kubectlBin, ['--kubeconfig', RESTRICTED_KUBECONFIG, '--context', cluster, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, stderr: run.stderr };
}

beforeAll(async () => {
  // The identity, its roles and its kubeconfig (idempotent: fresh tokens, and roles re-applied if another
  // test removed them).
  execFileSync(path.join(root, 'deploy/lab/least-privilege.sh'), { stdio: 'inherit' });
  const config = loadConfig({ path: path.join(root, 'config/lab-least-privilege.yaml') });
  restricted = new Clusters(config.clusters);
  connection = await Connection.connect({ address: config.temporal.address });
  client = createTemporalClient(connection, config);
  // The lab's node workers (started if they are not running) serve the node calls; this orchestrator signs them.
  orchestrator = await startLabOrchestrator(config, taskQueue);
}, 180_000);

afterAll(async () => {
  await orchestrator?.stop();
  await connection?.close();
  for (const cluster of ['lab-a', 'lab-b']) {
    await removePod(cluster).catch((err: unknown) => console.warn(`removing ${POD} from ${cluster}: ${String(err)}`));
    await removeConfig(cluster).catch((err: unknown) => console.warn(`removing ${CONFIG_NAME} from ${cluster}: ${String(err)}`));
  }
  await ignore404(() => admin.core('lab-a').deleteNamespacedSecret({ namespace: 'podferry-system', name: 'rbac-canary' })).catch(() => undefined);
  await removeExecProbe().catch((err: unknown) => console.warn(`removing ${EXEC_PROBE}: ${String(err)}`));
  await ignore404(() => admin.core('lab-a').deleteNamespacedConfigMap({ namespace: NAMESPACE, name: 'rbac-policy' })).catch(() => undefined);
}, 180_000);

describe('podferry with least privilege on the lab', () => {
  test('the orchestrator runs as podferry-system/podferry, bound to exactly the roles of deploy/rbac', async () => {
    for (const cluster of ['lab-a', 'lab-b']) {
      const review = await restricted.kubeConfig(cluster).makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
      expect(review.status?.userInfo?.username).toBe(IDENTITY);
      expect(review.status?.userInfo?.groups).not.toContain('system:masters');

      const rbac = admin.kubeConfig(cluster).makeApiClient(RbacAuthorizationV1Api);
      const names = (subjects?: { kind: string; name: string; namespace?: string }[]) =>
        (subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === 'podferry' && s.namespace === 'podferry-system');
      const bindings = [
        ...(await rbac.listClusterRoleBinding()).items.filter((b) => names(b.subjects)).map((b) => `ClusterRoleBinding ${b.metadata!.name} → ${b.roleRef.name}`),
        ...(await rbac.listRoleBindingForAllNamespaces()).items
          .filter((b) => names(b.subjects))
          .map((b) => `RoleBinding ${b.metadata!.namespace}/${b.metadata!.name} → ${b.roleRef.kind} ${b.roleRef.name}`),
      ].sort();
      expect({ cluster, bindings }).toEqual({
        cluster,
        bindings: [
          'ClusterRoleBinding podferry-source-cluster → podferry-source-cluster',
          'ClusterRoleBinding podferry-target-cluster → podferry-target-cluster',
          'RoleBinding default/podferry-source → Role podferry-source',
          'RoleBinding default/podferry-target → Role podferry-target',
        ],
      });
    }
  }, 60_000);

  test('(a) migrate lab-a → lab-b: the pod keeps its state, its Secret and ConfigMap are copied, Events are recorded', async () => {
    const source = await deployRbacSample();
    await putSampleKey(source.status!.podIP!, 'rbac', 'moved by a least-privilege identity');
    const before = await readSampleState(source.status!.podIP!);

    const started = Date.now();
    const migrationId = `podferry-e2e-rbac-${runTag}-move`;
    const handle = await startMigration(
      client,
      { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: POD }, target: { cluster: 'lab-b', node: 'lab-b-node' } },
      { taskQueue, migrationId },
    );
    const result = await handle.result();
    expect(result).toMatchObject({ strategy: 'CreateThenDelete', target: { cluster: 'lab-b', namespace: NAMESPACE, name: POD, node: 'lab-b-node' } });
    expect(result.warnings.filter((w) => /forbidden|403/i.test(w))).toEqual([]);

    const target = await waitForPod(admin.core('lab-b'), NAMESPACE, POD, isReady, 60_000);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    await waitForPod(admin.core('lab-a'), NAMESPACE, POD, (pod) => pod === undefined, 30_000);

    // ensureTargetConfig read them at the source and created them at the target with this identity.
    const secret = await admin.core('lab-b').readNamespacedSecret({ namespace: NAMESPACE, name: CONFIG_NAME });
    expect(Buffer.from(secret.data!.RBAC_SECRET!, 'base64').toString()).toBe('copied by podferry');
    expect(secret.metadata?.labels?.['podferry.io/migration-key']).toBeDefined();
    const configMap = await admin.core('lab-b').readNamespacedConfigMap({ namespace: NAMESPACE, name: CONFIG_NAME });
    expect(configMap.data).toEqual({ RBAC_SETTING: 'copied too' });
    // recordPodEvent's failures are only logged by the workflow: the Events show that its rule holds.
    expect(await eventReasons('lab-a', migrationId)).toEqual(expect.arrayContaining(['MigrationStarted', 'SourceFrozen', 'Migrated']));
    expect(await eventReasons('lab-b', migrationId)).toEqual(expect.arrayContaining(['Restored']));
    console.log(`least privilege: lab-a → lab-b in ${Date.now() - started} ms, downtime ${result.downtimeMs} ms`);
  }, 420_000);

  test('(b) a move within lab-a that fails after the source was deleted rolls back: target deleted, pod restored on its node, images removed, nothing left behind', async () => {
    const source = await deployRbacSample({ pinnedByAffinity: true });
    await putSampleKey(source.status!.podIP!, 'rbac', 'still here after the failed move');
    const before = await readSampleState(source.status!.podIP!);
    const migrationId = `podferry-e2e-rbac-${runTag}-rollback`;

    const handle = await startMigration(
      client,
      { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: POD }, target: { cluster: 'lab-a', node: 'lab-a-node2' } },
      { taskQueue, migrationId },
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as Error;
    // The target's kubelet refused the pod (NodeAffinity): waitPodReady failed after the checkpoint.
    expect(failureTypes(cause)).toEqual(['MigrationRolledBack', 'TargetPodFailed']);
    expect(cause.message).toContain('restored from its checkpoint on its source node lab-a-node');
    // Every undo ran with these roles: nothing was left behind.
    expect(cause.message).not.toContain('Left behind');

    const restored = await waitForPod(admin.core('lab-a'), NAMESPACE, POD, isReady, 60_000);
    expect(restored!.spec!.nodeName).toBe('lab-a-node');
    expect(restored!.metadata!.uid).not.toBe(source.metadata!.uid);
    expect(restored!.metadata!.annotations?.['podferry.io/migration-lock']).toBeUndefined();
    const resumed = await readSampleState(restored!.status!.podIP!);
    expect(compareSampleStates(before, resumed).filter((check) => !check.ok)).toEqual([]);
    expect(await eventReasons('lab-a', migrationId)).toEqual(expect.arrayContaining(['MigrationRolledBack']));

    // The checkpoint images are deleted once the pod runs again.
    const registry = new RegistryClient(adminConfig.registry!);
    for (const container of ['counter', 'kv', 'ballast']) {
      const tag = checkpointImageTag(migrationId, container);
      expect({ tag, digest: await registry.headManifest(adminConfig.registry!.repository, tag) }).toEqual({ tag, digest: undefined });
    }
  }, 420_000);

  test('(c) what podferry does not need is refused: a Secret outside its namespaces, Secrets across namespaces, exec, deleting a node', async () => {
    const core = restricted.core('lab-a');
    // A Secret that exists, in a namespace where podferry has no role.
    await ignore404(() => admin.core('lab-a').deleteNamespacedSecret({ namespace: 'podferry-system', name: 'rbac-canary' }));
    await admin.core('lab-a').createNamespacedSecret({ namespace: 'podferry-system', body: { metadata: { name: 'rbac-canary' }, stringData: { token: 'not for podferry' } } });
    expect(await refusal(() => core.readNamespacedSecret({ namespace: 'podferry-system', name: 'rbac-canary' }))).toBe(403);
    expect(await refusal(() => core.readNamespacedSecret({ namespace: 'kube-system', name: 'any' }))).toBe(403);
    for (const cluster of ['lab-a', 'lab-b']) {
      expect(await refusal(() => restricted.core(cluster).listSecretForAllNamespaces())).toBe(403);
    }
    // dryRun: were the rule wrong, the node would still be there (authorization comes before the dry run).
    expect(await refusal(() => core.deleteNode({ name: 'lab-a-node2', dryRun: 'All' }))).toBe(403);
    // Pods outside its namespaces cannot be created either.
    const stray = await sampleManifest({ name: 'rbac-stray' });
    expect(await refusal(() => core.createNamespacedPod({ namespace: 'kube-system', body: stray, dryRun: 'All' }))).toBe(403);

    // exec into a pod of a namespace where it may read, create and delete pods: pods/exec is not granted.
    const probe = await sampleManifest({ name: EXEC_PROBE });
    probe.spec = { nodeName: 'lab-a-node2', automountServiceAccountToken: false, terminationGracePeriodSeconds: 0, containers: [{ name: 'pause', image: PAUSE_IMAGE }] };
    await removeExecProbe();
    await admin.core('lab-a').createNamespacedPod({ namespace: NAMESPACE, body: probe });
    await waitForPod(admin.core('lab-a'), NAMESPACE, EXEC_PROBE, (pod) => pod?.status?.phase === 'Running', 120_000);
    const exec = kubectlAsPodferry('lab-a', ['exec', '-n', NAMESPACE, EXEC_PROBE, '--', '/pause']);
    expect(exec.status).toBe(1);
    expect(exec.stderr).toContain(`is forbidden: User "${IDENTITY}" cannot create resource "pods/exec"`);
    // Nor through the kubelet: the default checkpoints through the node's runtime, so nodes/proxy (whose /run
    // executes commands) is not granted.
    const run = kubectlAsPodferry('lab-a', ['create', '--raw', `/api/v1/nodes/lab-a-node2/proxy/run/${NAMESPACE}/${EXEC_PROBE}/pause?cmd=true`, '-f', '/dev/null']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('cannot create resource "nodes/proxy"');
  }, 180_000);

  test('(d) drain, rebalance and resume read what they need, and a cordon is allowed (dry run)', async () => {
    const operations = createOperationsActivities({ clusters: restricted });
    const kubernetes = createKubernetesActivities({ clusters: restricted });
    // drainNode: the node's pods in every namespace.
    const onNode = await operations.listNodePods({ cluster: 'lab-a', node: 'lab-a-node' });
    expect(onNode.every((pod) => pod.cluster === 'lab-a')).toBe(true);
    // rebalance: candidates across namespaces and in named ones, free capacity, a policy in a ConfigMap.
    const selector = 'app.kubernetes.io/name=podferry-sample';
    await operations.listCandidatePods({ clusters: ['lab-a', 'lab-b'], labelSelector: selector, annotationKeys: [] });
    await operations.listCandidatePods({ clusters: ['lab-a', 'lab-b'], labelSelector: selector, namespaces: [NAMESPACE], annotationKeys: [] });
    const capacity = await operations.clusterCapacity({ clusters: ['lab-a', 'lab-b'] });
    expect(Object.keys(capacity).sort()).toEqual(['lab-a', 'lab-b']);
    await ignore404(() => admin.core('lab-a').deleteNamespacedConfigMap({ namespace: NAMESPACE, name: 'rbac-policy' }));
    await admin.core('lab-a').createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: 'rbac-policy' }, data: { 'policy.yaml': 'clusters: [lab-a, lab-b]\n' } } });
    expect(await operations.readPolicyConfigMap({ cluster: 'lab-a', namespace: NAMESPACE, name: 'rbac-policy', key: 'policy.yaml' })).toEqual({ clusters: ['lab-a', 'lab-b'] });
    // resumeSource: every pod of every cluster, for the lock and the migration's annotations.
    expect(await kubernetes.findHeldMigration({ migrationId: `podferry-e2e-rbac-${runTag}-none` })).toEqual({ targets: [] });
    // cordonNode's patch, authorized but not applied.
    const cordoned = await restricted.core('lab-a').patchNode({ name: 'lab-a-node2', body: [{ op: 'add', path: '/spec/unschedulable', value: true }], dryRun: 'All' });
    expect(cordoned.spec?.unschedulable).toBe(true);
  }, 60_000);
});
