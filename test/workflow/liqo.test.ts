// migratePod onto a Liqo virtual node and back, with recording stand-in activities: node-local work goes to
// the node worker of the provider's node where the containers run (plan.source.runsAt / target.runsAt),
// the pod objects (lock, deletion) stay in the consumer, and the undo of the target proves the provider's
// pod gone too. Each node worker records its own calls, so the tests see which node did what.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { MigratePodRequest, MigrationResult } from '../../src/api/migration.js';
import { nodeTaskQueue } from '../../src/api/names.js';
import { startMigration } from '../../src/client/migrations.js';
import { HEARTBEAT_FLUSH } from '../../src/worker/bootstrap.js';
import { MigrationMetrics } from '../../src/worker/metrics.js';
import { createRecordingStandInActivities, Recorder, type Script } from '../support/recording-activities.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../support/workflow-env.js';

let env: WorkflowTestEnv;
let sequence = 0;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  env = await startWorkflowTestEnv();
}, 180_000);

afterAll(async () => {
  await env?.stop();
});

const REMOTE_UID = 'remote-uid-in-lab-b';

/**
 * One migration within lab-a (namespace default, so DeleteThenCreate): `onto` from a real node to the virtual
 * node `lab-b` (the pod then runs on the provider's node), `back` from the virtual node to a real lab-a node.
 * Workers: the orchestrator, lab-a's real node and lab-b's node, each recording apart.
 */
async function migrate(direction: 'onto' | 'back', script: Omit<Script, 'node' | 'runsAt'> = {}, options: MigratePodRequest['options'] = {}) {
  const id = `l${++sequence}-${Date.now().toString(36)}`;
  const [labANode, labBNode] = [`lab-a-node-${id}`, `lab-b-node-${id}`];
  const runsAt: Script['runsAt'] =
    direction === 'onto'
      ? { target: { cluster: 'lab-b', namespace: 'default', node: labBNode } }
      : { source: { cluster: 'lab-b', namespace: 'default', uid: REMOTE_UID, node: labBNode } };
  const full: Script = { ...script, node: direction === 'onto' ? labANode : 'lab-b', runsAt };
  const recorders = { api: new Recorder(), labA: new Recorder(), labB: new Recorder() };
  const activitiesOf = (recorder: Recorder) => createRecordingStandInActivities(recorder, full);
  const flush = { maxHeartbeatThrottleInterval: HEARTBEAT_FLUSH, defaultHeartbeatThrottleInterval: HEARTBEAT_FLUSH };
  const taskQueue = `podferry-liqo-${id}`;
  const { connection, workflowBundle } = env;
  const orchestrator = await Worker.create({ connection, taskQueue, workflowBundle, activities: activitiesOf(recorders.api).orchestrator, sinks: new MigrationMetrics().sinks(), ...flush });
  const labA = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', labANode), activities: activitiesOf(recorders.labA).node, ...flush });
  const labB = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-b', labBNode), activities: activitiesOf(recorders.labB).node, ...flush });
  const request: MigratePodRequest = {
    source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
    target: { cluster: 'lab-a', node: direction === 'onto' ? 'lab-b' : labANode },
    options: { transfer: 'registry', ...options },
  };
  const handle = await startMigration(env.client, request, { taskQueue, migrationId: `migration-${id}` });
  const settled = await orchestrator.runUntil(
    labA.runUntil(
      labB.runUntil(() =>
        handle.result().then(
          (result) => ({ result, error: undefined }),
          (error: unknown) => ({ result: undefined, error }),
        ),
      ),
    ),
  );
  return { ...settled, recorders, labANode, labBNode, migrationId: handle.workflowId };
}

/** The inputs of a recorder's calls of that name. */
function inputsOf(recorder: Recorder, call: string): Record<string, unknown>[] {
  return recorder.calls.filter((c) => c.call === call && c.event === 'start').map((c) => c.input as Record<string, unknown>);
}

describe('migratePod with Liqo virtual nodes (recording stand-ins)', () => {
  test('onto the virtual node: pre-pull, runtime check and image pulls on the provider\'s node; the local pod bound to the virtual node', async () => {
    const { error, result, recorders } = await migrate('onto');
    expect(error).toBeUndefined();
    // The source's node freezes and checkpoints; the provider's node prepares the restore.
    expect(recorders.labA.started()).toEqual(expect.arrayContaining(['describeRuntime:source', 'freezePod', 'killFrozenPod']));
    expect(recorders.labB.started()).toEqual(expect.arrayContaining(['describeRuntime:target', 'pullImages', 'pullCheckpointImage:counter']));
    expect(recorders.labB.started()).not.toContain('freezePod');
    expect(inputsOf(recorders.api, 'createTargetPod')[0]).toMatchObject({ node: 'lab-b' });
    expect((result as MigrationResult).target).toMatchObject({ cluster: 'lab-a', namespace: 'default', name: 'sample' });
  }, 60_000);

  test('onto the virtual node, node to node: the checkpoint images go to the provider\'s node', async () => {
    const { error, recorders, labBNode } = await migrate('onto', {}, { transfer: 'direct' });
    expect(error).toBeUndefined();
    const offers = inputsOf(recorders.labA, 'offerCheckpointImage:kv');
    expect(offers[0]).toMatchObject({ receiver: { cluster: 'lab-b', node: labBNode } });
    expect(recorders.labB.started()).toContain('importCheckpointImage:kv');
  }, 60_000);

  test('onto the virtual node, the target never Ready: its undo waits for the local pod, then for the provider\'s pod, before the source is restored', async () => {
    const { error, recorders, migrationId } = await migrate('onto', { failAt: 'waitPodReady', failOnce: true });
    expect(error).toBeDefined();
    const api = recorders.api.calls.filter((c) => c.event === 'start');
    // The target's stop: the deletions made only of this migration's pods.
    const stops = api.filter((c) => (c.input as { onlyIfMigrationId?: string }).onlyIfMigrationId === migrationId).map((c) => c.call);
    expect(stops).toEqual(['deletePod:lab-a', 'deletePod:lab-b']);
    const remote = api.findIndex((c) => c.call === 'deletePod:lab-b');
    expect(inputsOf(recorders.api, 'deletePod:lab-b')[0]).toEqual({
      cluster: 'lab-b',
      namespace: 'default',
      name: 'sample',
      onlyIfMigrationId: migrationId,
      onlyIfSourceUid: expect.any(String),
      gracePeriodSeconds: 1,
      waitSeconds: 60,
    });
    // Then the source is created again on its node from its checkpoint (DeleteThenCreate's undo).
    const createdAt = recorders.api.calls.filter((c) => c.call === 'createTargetPod' && c.event === 'start').map((c) => (c.input as { node: string }).node);
    expect(createdAt).toEqual(['lab-b', expect.stringMatching(/^lab-a-node-/)]);
    expect(api.map((c) => c.call).lastIndexOf('createTargetPod')).toBeGreaterThan(remote);
  }, 60_000);

  test('back from the virtual node: freeze, checkpoint and kill address the provider\'s pod on its node; its deletion is requested before the kill', async () => {
    const { error, recorders } = await migrate('back');
    expect(error).toBeUndefined();
    expect(recorders.labB.started()).toEqual(expect.arrayContaining(['describeRuntime:source', 'freezePod', 'killFrozenPod', 'deleteArchives']));
    expect(recorders.labA.started()).toEqual(expect.arrayContaining(['describeRuntime:target', 'pullImages']));
    expect(recorders.labA.started()).not.toContain('freezePod');
    expect(inputsOf(recorders.labB, 'freezePod')[0]).toMatchObject({ podUid: REMOTE_UID });
    expect(inputsOf(recorders.labB, 'killFrozenPod')[0]).toMatchObject({ podUid: REMOTE_UID });
    expect(inputsOf(recorders.labB, 'checkpointContainer:kv')[0]).toMatchObject({ namespace: 'default', pod: 'sample', podUid: REMOTE_UID });
    // The local pod's deletion, then the provider pod's (that incarnation only), before the kill.
    const api = recorders.api.started();
    expect(api.indexOf('deletePod:lab-a:request')).toBeLessThan(api.indexOf('deletePod:lab-b:request'));
    expect(inputsOf(recorders.api, 'deletePod:lab-b:request')[0]).toEqual({ cluster: 'lab-b', namespace: 'default', name: 'sample', uid: REMOTE_UID, waitSeconds: 0 });
    const killedAt = recorders.labB.calls.find((c) => c.call === 'killFrozenPod' && c.event === 'start')!.at;
    const remoteDeletionAt = recorders.api.calls.find((c) => c.call === 'deletePod:lab-b:request' && c.event === 'end')!.at;
    expect(remoteDeletionAt).toBeLessThanOrEqual(killedAt);
  }, 60_000);
});
