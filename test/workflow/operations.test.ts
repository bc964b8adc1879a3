// The drainNode and rebalance workflows on a real Temporal dev server, with recording stand-in activities
// (test/support/operations-activities.ts for the cluster reads and writes; the migratePod children run the
// real migratePod workflow with the recording stand-ins of test/support/recording-activities.ts). And the
// rebalancing schedule: created with overlap SKIP, managed through the podferry CLI.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Client, ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { DrainNodeRequest, DrainReport } from '../../src/api/drain.js';
import { nodeTaskQueue } from '../../src/api/names.js';
import type { PlacementPolicyDocument, RebalanceRequest, RebalanceSummary } from '../../src/api/placement-policy.js';
import { createRebalanceSchedule, startDrain } from '../../src/client/operations.js';
import { MigrationMetrics } from '../../src/worker/metrics.js';
import { summarizePod, type PodSummary } from '../../src/planning/pod-summary.js';
import { DRAIN_WORKFLOW_TYPE, REBALANCE_WORKFLOW_TYPE } from '../../src/workflows/operations-definitions.js';
import { sourcePod } from '../fixtures/source-pod.js';
import { runProcess } from '../support/run-process.js';
import { createRecordingOperationsActivities, emptyClusterState, type StandInClusterState } from '../support/operations-activities.js';
import { replicaSetCopyName } from '../../src/planning/replicaset-handover.js';
import { createRecordingStandInActivities, Recorder } from '../support/recording-activities.js';
import { type TestTemporal } from '../support/temporal.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../support/workflow-env.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let env: WorkflowTestEnv | undefined;
let temporal: TestTemporal;
let client: Client;
let connection: NativeConnection;
let workflowBundle: { code: string };
let sequence = 0;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  env = await startWorkflowTestEnv();
  ({ temporal, connection, client, workflowBundle } = env);
}, 180_000);

afterAll(async () => {
  await env?.stop();
});

const NODE = 'node-d';
/** Another node of lab-a, for moves within the cluster. */
const OTHER_NODE = 'other-node';

/** A pod summary as the real listing activity makes it, from the fixture pod. */
function pod(cluster: string, name: string, overrides: Parameters<typeof sourcePod>[0] = {}, annotations: Record<string, string> = {}): PodSummary {
  const summary = summarizePod(cluster, sourcePod({ ...overrides, metadata: { name, annotations, ...overrides.metadata } }), Object.keys(annotations));
  return summary;
}

/**
 * Runs `body` with an orchestrator worker (workflows + stand-in activities) and node workers for both
 * clusters. `brokenPods` fail at planMigration; `spans` records when each pod's migration started
 * (planMigration) and ended (deleteArchives, its last node-side step).
 */
async function withWorkers<T>(
  state: StandInClusterState,
  options: { checkpointMs?: number; brokenPods?: string[]; blockAt?: string; replicaSetPods?: string[]; deploymentPods?: string[] },
  body: (taskQueue: string, recorder: Recorder) => Promise<T>,
) {
  const id = `ops${++sequence}-${Date.now().toString(36)}`;
  const recorder = new Recorder();
  const migrations = createRecordingStandInActivities(recorder, {
    node: NODE,
    ...(options.replicaSetPods ? { replicaSetPods: options.replicaSetPods } : {}),
    ...(options.deploymentPods ? { deploymentPods: options.deploymentPods } : {}),
    ...(options.checkpointMs ? { checkpointMs: options.checkpointMs } : {}),
    ...(options.blockAt ? { blockAt: options.blockAt } : {}),
  });
  const spans = new Map<string, { start: number; end?: number }>();
  const orchestratorActivities = {
    ...migrations.orchestrator,
    ...createRecordingOperationsActivities(recorder, state),
    planMigration: async (input: Parameters<typeof migrations.orchestrator.planMigration>[0]) => {
      spans.set(input.source.pod, { start: Date.now() });
      if (options.brokenPods?.includes(input.source.pod)) {
        recorder.record({ call: 'planMigration', event: 'start', at: Date.now(), input });
        throw ApplicationFailure.nonRetryable(`injected failure: pod ${input.source.pod} cannot be planned`, 'InjectedFailure');
      }
      return migrations.orchestrator.planMigration(input);
    },
  };
  const nodeActivities = {
    ...migrations.node,
    deleteArchives: async (input: Parameters<typeof migrations.node.deleteArchives>[0]) => {
      const result = await migrations.node.deleteArchives(input);
      const span = input.pod ? spans.get(input.pod.name) : undefined;
      if (span && span.end === undefined && input.paths.length > 0) span.end = Date.now();
      return result;
    },
  };
  const taskQueue = `podferry-ops-${id}`;
  const orchestrator = await Worker.create({ connection, taskQueue, workflowBundle, activities: orchestratorActivities, sinks: new MigrationMetrics().sinks() });
  const nodeA = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', NODE), activities: nodeActivities });
  const nodeB = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-b', NODE), activities: nodeActivities });
  const otherNodeA = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', OTHER_NODE), activities: nodeActivities });
  const value = await orchestrator.runUntil(nodeA.runUntil(nodeB.runUntil(otherNodeA.runUntil(() => body(taskQueue, recorder)))));
  return { value, recorder, spans };
}

async function outcome<T>(promise: Promise<T>): Promise<{ result?: T; error?: unknown }> {
  return promise.then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
}

function maxOverlap(spans: Array<{ start: number; end?: number }>): number {
  const events = spans.flatMap((s) => [
    [s.start, 1],
    [s.end ?? Infinity, -1],
  ]);
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let current = 0;
  let max = 0;
  for (const [, delta] of events) max = Math.max(max, (current += delta!));
  return max;
}

describe('drainNode', () => {
  const daemonSet = { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-exporter', uid: 'u', controller: true }] } };
  const replicaSet = { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true }] } };
  const job = { metadata: { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'db-migrate', uid: 'u', controller: true }] } };
  const mirror = { metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc' } } };

  test("a mix of pods: cordons, moves the migratable ones (a Deployment's too) at most 2 at a time, reports skipped and failed with the reason", async () => {
    const state = emptyClusterState();
    state.nodes.set(`lab-a/${NODE}`, false);
    state.nodePods.set(`lab-a/${NODE}`, [
      pod('lab-a', 'app-1'),
      pod('lab-a', 'app-2'),
      pod('lab-a', 'app-3'),
      pod('lab-a', 'app-4'),
      pod('lab-a', 'broken'),
      pod('lab-a', 'node-exporter-x1', daemonSet),
      pod('lab-a', 'kube-proxy', mirror),
      pod('lab-a', 'web-7d9f-x', replicaSet),
    ]);
    const request: DrainNodeRequest = { source: { cluster: 'lab-a', node: NODE }, target: { cluster: 'lab-b' } };
    let details = '';
    const { value, recorder, spans } = await withWorkers(state, { checkpointMs: 300, brokenPods: ['broken'], deploymentPods: ['web-7d9f-x'] }, async (taskQueue) => {
      const handle = await startDrain(client, request, { taskQueue, drainId: `drain-mix-${Date.now().toString(36)}` });
      const settled = await outcome(handle.result());
      // What the Web UI shows for it.
      details = ((await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';
      return settled;
    });
    expect(value.error).toBeUndefined();
    const report = value.result as DrainReport;
    expect(report.moved.map((m) => m.name).sort()).toEqual(['app-1', 'app-2', 'app-3', 'app-4', 'web-7d9f-x']);
    expect(report.moved.every((m) => m.targetCluster === 'lab-b' && m.migrationId === `podferry-lab-a-default-${m.name}`)).toBe(true);
    expect(report.failed).toEqual([expect.objectContaining({ name: 'broken', type: 'MigrationRolledBack', reason: expect.stringContaining('injected failure: pod broken cannot be planned') })]);
    expect(Object.fromEntries(report.skipped.map((s) => [s.name, s.type]))).toEqual({
      'node-exporter-x1': 'DaemonSetPod',
      'kube-proxy': 'StaticPod',
    });
    expect(report).toMatchObject({ cordonedByDrain: true, cordoned: true, complete: false, warnings: [] });
    expect(state.nodes.get(`lab-a/${NODE}`)).toBe(true);
    expect(details).toContain(`**Drain** lab-a/${NODE} → lab-b: **Done**`);
    expect(details).toContain('| default/app-1 | moved | podferry-lab-a-default-app-1 |');
    expect(details).toContain('| default/node-exporter-x1 | skipped | DaemonSetPod: ');

    // Cordoned before anything else; never uncordoned (pods moved); each moved pod marked at the target.
    const calls = recorder.started();
    expect(calls.slice(0, 2)).toEqual(['cordonNode', 'listNodePods']);
    expect(calls).not.toContain('uncordonNode');
    const marked = recorder.calls.filter((c) => c.call === 'markMigrated' && c.event === 'start').map((c) => c.input as { cluster: string; name: string });
    expect(marked.map((m) => `${m.cluster}/${m.name}`).sort()).toEqual(['lab-b/app-1', 'lab-b/app-2', 'lab-b/app-3', 'lab-b/app-4', 'lab-b/web-7d9f-x']);
    // The Deployment's pod moved with its Deployment: the target's scaled up, the source's down.
    expect(calls.filter((c) => c.startsWith('scaleDeployment:'))).toEqual(['scaleDeployment:lab-b', 'scaleDeployment:lab-a']);
    // Skipped pods were never planned; the concurrency limit held, and was used.
    expect(spans.has('node-exporter-x1') || spans.has('kube-proxy')).toBe(false);
    const moved = ['app-1', 'app-2', 'app-3', 'app-4', 'web-7d9f-x'].map((name) => spans.get(name)!);
    expect(moved.every((s) => s.end !== undefined)).toBe(true);
    expect(maxOverlap([...spans.values()])).toBe(2);
  }, 120_000);

  test('an unknown node: fails as UnknownNode naming it, nothing listed, nothing migrated', async () => {
    const state = emptyClusterState();
    const { value, recorder } = await withWorkers(state, {}, async (taskQueue) =>
      outcome((await startDrain(client, { source: { cluster: 'lab-a', node: 'no-such-node' }, target: { cluster: 'lab-b' } }, { taskQueue })).result()),
    );
    expect(value.error).toBeInstanceOf(WorkflowFailedError);
    const failure = (value.error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe('UnknownNode');
    expect(failure.message).toContain('node no-such-node does not exist in cluster lab-a');
    expect(recorder.started()).toEqual(['cordonNode']);
  }, 60_000);

  test('within the cluster (another node of the same cluster): every movable pod moves, each deleted at the source before its target is created', async () => {
    const state = emptyClusterState();
    state.nodes.set(`lab-a/${NODE}`, false);
    state.nodePods.set(`lab-a/${NODE}`, [pod('lab-a', 'app-1'), pod('lab-a', 'app-2')]);
    const request: DrainNodeRequest = { source: { cluster: 'lab-a', node: NODE }, target: { node: OTHER_NODE }, concurrency: 1 };
    const { value, recorder } = await withWorkers(state, {}, async (taskQueue) => outcome((await startDrain(client, request, { taskQueue })).result()));
    const report = value.result as DrainReport;
    expect(report).toMatchObject({ targetCluster: 'lab-a', complete: true, cordoned: true, failed: [], skipped: [] });
    // `podferry status` understands a drain id too: it prints the drain's report.
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-status-')), 'podferry.yaml');
    writeFileSync(configFile, `temporal: { address: "${temporal.address}", namespace: default }\n`);
    const status = await runProcess(process.execPath, ['--import', path.join(repo, 'test/support/ts-resolve.mjs'), path.join(repo, 'src/cli/podferry.ts'), '--config', configFile, 'status', report.drainId]);
    expect(status.stdout).toContain(`drain ${report.drainId}: node lab-a/${NODE} → lab-a: 2 moved, 0 failed, 0 skipped; complete, node cordoned`);
    expect(report.moved.map((m) => [m.name, m.targetCluster])).toEqual([
      ['app-1', 'lab-a'],
      ['app-2', 'lab-a'],
    ]);
    // Per pod (concurrency 1): the frozen source goes, then the target is created on the other node.
    const calls = recorder.started().filter((c) => ['deletePod:lab-a:request', 'killFrozenPod', 'deletePod:lab-a', 'createTargetPod', 'waitPodReady'].includes(c));
    const onePod = ['deletePod:lab-a:request', 'killFrozenPod', 'deletePod:lab-a', 'createTargetPod', 'waitPodReady'];
    expect(calls).toEqual([...onePod, ...onePod]);
    const creates = recorder.calls.filter((c) => c.call === 'createTargetPod' && c.event === 'start').map((c) => (c.input as { node?: string }).node);
    expect(creates).toEqual([OTHER_NODE, OTHER_NODE]);
  }, 60_000);

  test("within the cluster a Deployment's pods move too, by AdoptByReplicaSet, one after another whatever the concurrency; the report names each copy", async () => {
    const state = emptyClusterState();
    state.nodes.set(`lab-a/${NODE}`, false);
    state.nodePods.set(`lab-a/${NODE}`, [pod('lab-a', 'web-7d9f-x', replicaSet), pod('lab-a', 'web-7d9f-y', replicaSet), pod('lab-a', 'app-1')]);
    const request: DrainNodeRequest = { source: { cluster: 'lab-a', node: NODE }, target: { node: OTHER_NODE }, concurrency: 2 };
    const { value, recorder, spans } = await withWorkers(state, { replicaSetPods: ['web-7d9f-x', 'web-7d9f-y'] }, async (taskQueue) =>
      outcome((await startDrain(client, request, { taskQueue })).result()),
    );
    const report = value.result as DrainReport;
    expect(report).toMatchObject({ targetCluster: 'lab-a', complete: true, failed: [], skipped: [] });
    const copyOf = (name: string) => replicaSetCopyName('sample-7d9f8c6b5', `podferry-lab-a-default-${name}`);
    expect(report.moved.map((m) => [m.name, m.targetName]).sort()).toEqual([
      ['app-1', undefined],
      ['web-7d9f-x', copyOf('web-7d9f-x')],
      ['web-7d9f-y', copyOf('web-7d9f-y')],
    ]);
    const marked = recorder.calls.filter((c) => c.call === 'markMigrated' && c.event === 'start').map((c) => (c.input as { name: string }).name);
    expect(marked.sort()).toEqual(['app-1', copyOf('web-7d9f-x'), copyOf('web-7d9f-y')].sort());
    expect(recorder.started().filter((c) => c === 'handOverToReplicaSet')).toHaveLength(2);
    // The two pods of the ReplicaSet never overlap; the standalone pod moves beside them.
    const [x, y] = [spans.get('web-7d9f-x')!, spans.get('web-7d9f-y')!];
    expect(x.end! <= y.start).toBe(true);
    expect(maxOverlap([...spans.values()])).toBe(2);
  }, 120_000);

  test('a node whose selected pods cannot move (a PVC, a controller): each is reported with the reason, unselected pods are left alone, the node is uncordoned again', async () => {
    const state = emptyClusterState();
    state.nodes.set(`lab-a/${NODE}`, false);
    const withClaim = { spec: { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] } };
    state.nodePods.set(`lab-a/${NODE}`, [pod('lab-a', 'app-1', withClaim), pod('lab-a', 'db-migrate-x', job), pod('lab-a', 'someone-elses')]);
    state.labels.set('app-1', ['team=edge']);
    state.labels.set('db-migrate-x', ['team=edge']);
    const request: DrainNodeRequest = { source: { cluster: 'lab-a', node: NODE }, target: { node: OTHER_NODE }, podSelector: 'team=edge' };
    const { value, recorder } = await withWorkers(state, {}, async (taskQueue) => outcome((await startDrain(client, request, { taskQueue })).result()));
    const report = value.result as DrainReport;
    expect(report.moved).toEqual([]);
    expect(report.skipped.map((s) => [s.name, s.type])).toEqual([
      ['app-1', 'VolumeCannotMove'],
      ['db-migrate-x', 'ControllerOwnedPod'],
    ]);
    expect(report).toMatchObject({ targetCluster: 'lab-a', complete: false, cordonedByDrain: true, cordoned: false });
    expect(report.warnings).toEqual([`node ${NODE} was uncordoned again: no pod could be moved`]);
    expect(recorder.started()).toEqual(['cordonNode', 'listNodePods', 'uncordonNode']);
    expect(state.nodes.get(`lab-a/${NODE}`)).toBe(false);
  }, 60_000);

  test('a pod another migration is moving is left to it (MigrationInProgress); the others move', async () => {
    const state = emptyClusterState();
    state.nodes.set(`lab-a/${NODE}`, false);
    state.nodePods.set(`lab-a/${NODE}`, [pod('lab-a', 'busy'), pod('lab-a', 'free')]);
    // A running migration of lab-a/default/busy (started by someone else; nobody polls its queue, so it stays running).
    const other = await client.workflow.start('migratePod', { taskQueue: `nobody-${Date.now()}`, workflowId: 'podferry-lab-a-default-busy', args: [{}] });
    try {
      const { value } = await withWorkers(state, {}, async (taskQueue) =>
        outcome((await startDrain(client, { source: { cluster: 'lab-a', node: NODE }, target: { cluster: 'lab-b' } }, { taskQueue })).result()),
      );
      const report = value.result as DrainReport;
      expect(report.moved.map((m) => m.name)).toEqual(['free']);
      expect(report.failed).toEqual([
        { namespace: 'default', name: 'busy', migrationId: 'podferry-lab-a-default-busy', type: 'MigrationInProgress', reason: expect.stringContaining('already running') },
      ]);
    } finally {
      await other.terminate('test over');
    }
  }, 60_000);

  test('cancelled mid-way: the running child rolls back, no other pod starts, the node is uncordoned (nothing moved)', async () => {
    const state = emptyClusterState();
    state.nodes.set(`lab-a/${NODE}`, false);
    state.nodePods.set(`lab-a/${NODE}`, [pod('lab-a', 'app-1'), pod('lab-a', 'app-2')]);
    const request: DrainNodeRequest = { source: { cluster: 'lab-a', node: NODE }, target: { cluster: 'lab-b' }, concurrency: 1 };
    const { value, recorder } = await withWorkers(state, { blockAt: 'waitPodReady' }, async (taskQueue, rec) => {
      const handle = await startDrain(client, request, { taskQueue });
      const deadline = Date.now() + 30_000;
      while (!rec.started().includes('waitPodReady')) {
        if (Date.now() > deadline) throw new Error(`waitPodReady never started: ${rec.started().join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await handle.cancel();
      return outcome(handle.result());
    });
    expect(value.error).toBeInstanceOf(WorkflowFailedError);
    expect((value.error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const calls = recorder.started();
    // app-1's migration undid itself (target deleted, source thawed); app-2 was never planned.
    expect(calls).toEqual(expect.arrayContaining(['deletePod:lab-b', 'thawPod']));
    expect(calls.filter((c) => c === 'planMigration')).toHaveLength(1);
    expect(calls.at(-1)).toBe('uncordonNode');
    expect(calls.indexOf('uncordonNode')).toBeGreaterThan(calls.indexOf('thawPod'));
    expect(state.nodes.get(`lab-a/${NODE}`)).toBe(false);
  }, 60_000);

  test('invalid input fails as InvalidInput naming the field, before any activity', async () => {
    const { value, recorder } = await withWorkers(emptyClusterState(), {}, (taskQueue) =>
      outcome(client.workflow.execute(DRAIN_WORKFLOW_TYPE, { taskQueue, workflowId: `drain-bad-${Date.now()}`, args: [{ source: { cluster: 'lab-a', node: 'N_1' }, concurrency: 0 }] })),
    );
    const failure = (value.error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toBe('invalid input: source.node: not a valid Kubernetes node name (DNS-1123 subdomain); concurrency: at least 1 migration at a time');
    expect(recorder.calls).toEqual([]);
  }, 60_000);
});

describe('rebalance', () => {
  const policy = (guards: PlacementPolicyDocument['guards'] = {}): PlacementPolicyDocument => ({
    selector: { matchLabels: { tier: 'demo' } },
    clusters: ['lab-a', 'lab-b'],
    guards: { coolDownMinutes: 30, maxConcurrentPerCluster: 2, ...guards },
  });
  const stateWith = (...pods: PodSummary[]) => {
    const state = emptyClusterState();
    state.candidates.push(...pods);
    return state;
  };
  const run = (taskQueue: string, request: RebalanceRequest) =>
    outcome(client.workflow.execute(REBALANCE_WORKFLOW_TYPE, { taskQueue, workflowId: `rebalance-${Date.now().toString(36)}-${++sequence}`, args: [request] })) as Promise<{
      result?: RebalanceSummary;
      error?: unknown;
    }>;

  test('dry-run: reports the plan and starts nothing', async () => {
    const state = stateWith(
      pod('lab-a', 'sample', {}, { 'podferry.io/preferred-cluster': 'lab-b' }),
      pod('lab-b', 'stays', {}, { 'podferry.io/preferred-cluster': 'lab-b' }),
    );
    const { value, recorder } = await withWorkers(state, {}, (taskQueue) => run(taskQueue, { policy: { inline: policy({ dryRun: true }) } }));
    expect(value.error).toBeUndefined();
    expect(value.result).toMatchObject({
      dryRun: true,
      candidates: 2,
      planned: [{ name: 'sample', from: 'lab-a', to: 'lab-b', why: 'podferry.io/preferred-cluster=lab-b' }],
      moved: [],
      failed: [],
      skipped: [expect.objectContaining({ name: 'stays', type: 'AlreadyPlaced' })],
    });
    expect(recorder.started()).toEqual(['listCandidatePods', 'clusterCapacity']);
  }, 60_000);

  test('a run moves the pod to its preferred cluster; a second run within the cool-down moves nothing, even when the preference flips', async () => {
    const state = stateWith(pod('lab-a', 'sample', {}, { 'podferry.io/preferred-cluster': 'lab-b' }));
    const { value, recorder } = await withWorkers(state, {}, async (taskQueue) => {
      const first = await run(taskQueue, { policy: { inline: policy() } });
      // Whatever tracks the pod's users changes its mind right away: the cool-down must hold it.
      state.candidates[0]!.annotations['podferry.io/preferred-cluster'] = 'lab-a';
      const second = await run(taskQueue, { policy: { inline: policy() } });
      return { first, second };
    });
    expect(value.first.error).toBeUndefined();
    expect(value.first.result!.moved).toEqual([expect.objectContaining({ name: 'sample', from: 'lab-a', to: 'lab-b' })]);
    expect(state.candidates[0]).toMatchObject({ cluster: 'lab-b', annotations: { 'podferry.io/last-migrated-at': expect.any(String) } });

    expect(value.second.result!.moved).toEqual([]);
    expect(value.second.result!.planned).toEqual([]);
    expect(value.second.result!.skipped).toEqual([expect.objectContaining({ cluster: 'lab-b', name: 'sample', type: 'CoolingDown' })]);
    expect(recorder.started().filter((c) => c === 'planMigration')).toHaveLength(1);
  }, 120_000);

  test('a policy from a ConfigMap that does not validate fails the run as InvalidPolicy naming the field; nothing listed', async () => {
    const state = emptyClusterState();
    state.configMaps.set('lab-a/podferry/policy#policy.yaml', { ...policy(), guards: { maxConcurrentPerCluster: 'two' } });
    const { value, recorder } = await withWorkers(state, {}, (taskQueue) =>
      run(taskQueue, { policy: { configMap: { cluster: 'lab-a', namespace: 'podferry', name: 'policy' } } }),
    );
    const failure = (value.error as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure.type).toBe('InvalidPolicy');
    expect(failure.message).toBe(
      'invalid placement policy (configmap lab-a/podferry/policy#policy.yaml): guards.maxConcurrentPerCluster: Invalid input: expected number, received string',
    );
    expect(recorder.started()).toEqual(['readPolicyConfigMap']);
  }, 60_000);
});

describe('rebalancing schedules', () => {
  test('created with overlap SKIP; a triggered dry-run run reports its plan; the CLI lists, shows its runs, pauses, refuses a bad policy, deletes', async () => {
    const state = emptyClusterState();
    state.candidates.push(pod('lab-a', 'sample', {}, { 'podferry.io/preferred-cluster': 'lab-b' }));
    const dir = mkdtempSync(path.join(tmpdir(), 'podferry-schedule-'));
    const { value, recorder } = await withWorkers(state, {}, async (taskQueue) => {
      const scheduleId = `edge-${Date.now().toString(36)}`;
      const handle = await createRebalanceSchedule(client, {
        scheduleId,
        input: { policy: { inline: { selector: { matchLabels: { tier: 'demo' } }, clusters: ['lab-a', 'lab-b'] } }, dryRun: true },
        everyMs: 3_600_000,
        taskQueue,
        description: 'inline test policy',
      });
      const description = await handle.describe();
      await handle.trigger();
      const deadline = Date.now() + 30_000;
      let runId: string | undefined;
      while (!runId) {
        runId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
        if (Date.now() > deadline) throw new Error('the triggered run never started');
        await new Promise((r) => setTimeout(r, 200));
      }
      const summary = (await client.workflow.getHandle(runId).result()) as RebalanceSummary;

      // The CLI, against this server.
      const configFile = path.join(dir, 'podferry.yaml');
      writeFileSync(configFile, `temporal: { address: "${temporal.address}", namespace: default, taskQueue: ${taskQueue} }\nclusters:\n  lab-a: { kubeconfig: /nonexistent }\n  lab-b: { kubeconfig: /nonexistent }\n`);
      const badPolicy = path.join(dir, 'bad.yaml');
      writeFileSync(badPolicy, 'selector:\n  matchLabels: {}\nclusters: [lab-a, lab-b]\n');
      const goodPolicy = path.join(dir, 'good.yaml');
      writeFileSync(goodPolicy, 'selector:\n  matchLabels: { tier: demo }\nclusters: [lab-a, lab-b]\nguards: { coolDownMinutes: 60 }\n');
      const cli = (...args: string[]) => runProcess(process.execPath, ['--import', path.join(repo, 'test/support/ts-resolve.mjs'), path.join(repo, 'src/cli/podferry.ts'), '--config', configFile, ...args]);
      const refused = await cli('schedule', 'create', `${scheduleId}-bad`, '--policy', badPolicy, '--every', '10m');
      const created = await cli('schedule', 'create', `${scheduleId}-cli`, '--policy', goodPolicy, '--every', '10m', '--json');
      const paused = await cli('schedule', 'pause', `${scheduleId}-cli`);
      // Schedules reach the listing through visibility, a moment after they exist.
      let listed: Array<{ scheduleId: string; paused: boolean; overlap: string; policy?: string }> = [];
      for (let attempt = 0; attempt < 15 && !listed.some((s) => s.scheduleId === `${scheduleId}-cli`); attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
        listed = JSON.parse((await cli('schedule', 'list', '--json')).stdout) as typeof listed;
      }
      const cliDescription = await client.schedule.getHandle(`${scheduleId}-cli`).describe();
      const shown = await cli('schedule', 'show', scheduleId);
      const deleted = await cli('schedule', 'delete', `${scheduleId}-cli`);
      await handle.delete();
      return { description, summary, refused, created, paused, listed, cliDescription, shown, deleted };
    });
    expect(value.description.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(value.description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'rebalance' });
    expect(value.description.spec.intervals?.[0]?.every).toBe(3_600_000);
    expect(value.summary).toMatchObject({ dryRun: true, planned: [expect.objectContaining({ name: 'sample', to: 'lab-b' })], moved: [] });
    expect(recorder.started()).not.toContain('planMigration');

    expect(value.refused.code).toBe(1);
    expect(value.refused.stderr).toContain('selector.matchLabels: at least one label: a policy never takes every pod of a cluster');
    expect(value.created.code).toBe(0);
    expect(JSON.parse(value.created.stdout)).toMatchObject({ every: '10m', paused: false, overlap: 'SKIP', dryRun: false });
    expect(value.paused.stdout).toContain('paused');
    expect(value.cliDescription.state.paused).toBe(true);
    expect(value.listed.find((s) => s.scheduleId.endsWith('-cli'))).toMatchObject({ paused: true, overlap: 'SKIP', policy: expect.stringContaining('good.yaml') });
    expect(value.cliDescription.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(value.shown.stdout).toMatch(/run rebalance-edge-.* COMPLETED\n1 candidate\(s\), dry-run\n/);
    expect(value.shown.stdout).toMatch(/lab-a\/default\/sample\s+would move\s+→ lab-b \(podferry.io\/preferred-cluster=lab-b\)/);
    expect(value.deleted.code).toBe(0);
  }, 120_000);
});
