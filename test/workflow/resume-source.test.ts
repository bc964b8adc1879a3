// `podferry resume`: the resumeSource workflow on a real Temporal dev server, through the client function the
// CLI calls, with recording stand-in activities. It thaws a held source only when no pod the failed migration
// created exists (never two copies), with a fence above the migration's, then releases the lock; it refuses
// while that migration still runs, and says why when nothing is held.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { RESUME_FENCE, type HeldMigration, type HeldPod } from '../../src/api/held-source.js';
import { nodeTaskQueue } from '../../src/api/names.js';
import { describeFailure, MigrationInProgress, resumeHeldSource } from '../../src/client/migrations.js';
import { createRecordingStandInActivities, Recorder } from '../support/recording-activities.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../support/workflow-env.js';

let env: WorkflowTestEnv | undefined;
let client: Client;
let connection: NativeConnection;
let workflowBundle: { code: string };
let sequence = 0;

beforeAll(async () => {
  env = await startWorkflowTestEnv();
  ({ connection, client, workflowBundle } = env);
}, 180_000);

afterAll(async () => {
  await env?.stop();
});

const heldPod = (over: Partial<HeldPod> = {}): HeldPod => ({
  cluster: 'lab-a',
  namespace: 'default',
  name: 'sample',
  uid: 'source-uid',
  node: 'lab-a-node',
  containerIds: ['containerd://counter-id', 'containerd://kv-id'],
  terminating: false,
  ...over,
});

async function resume(held: HeldMigration | undefined) {
  const id = `r${++sequence}-${Date.now().toString(36)}`;
  const taskQueue = `podferry-resume-${id}`;
  const [recorder, providerRecorder] = [new Recorder(), new Recorder()];
  const script = { node: 'lab-a-node', ...(held ? { held } : {}) };
  const activities = createRecordingStandInActivities(recorder, script);
  const orchestrator = await Worker.create({ connection, taskQueue, workflowBundle, activities: activities.orchestrator });
  const node = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', 'lab-a-node'), activities: activities.node });
  // lab-b's node: where a source on lab-a's Liqo virtual node runs.
  const providerNode = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-b', 'lab-b-node'), activities: createRecordingStandInActivities(providerRecorder, script).node });
  const outcome = await orchestrator.runUntil(
    node.runUntil(() =>
      providerNode.runUntil(() => resumeHeldSource(client, `migration-${id}`, { taskQueue }).then((result) => ({ result, error: undefined }), (error: unknown) => ({ result: undefined, error }))),
    ),
  );
  return { ...outcome, recorder, providerRecorder, migrationId: `migration-${id}` };
}

describe('podferry resume (resumeSource workflow)', () => {
  test('a held source with no target pod left: thawed on its node above every fence of the migration, then unlocked and its name unfenced', async () => {
    const { result, error, recorder, migrationId } = await resume({ source: heldPod(), targets: [] });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ migrationId, thawed: true, lockReleased: true, source: { name: 'sample', node: 'lab-a-node' } });
    expect(recorder.started()).toEqual(['findHeldMigration', 'thawPod', 'releaseSourceLock', 'liftPodNameFence']);
    expect(recorder.calls.find((c) => c.call === 'liftPodNameFence')?.input).toEqual({ cluster: 'lab-a', namespace: 'default', pod: 'sample', migrationId });
    expect(recorder.calls.find((c) => c.call === 'thawPod')?.input).toEqual({ podUid: 'source-uid', containerIds: ['containerd://counter-id', 'containerd://kv-id'], migrationId, fence: RESUME_FENCE });
    expect(recorder.podEvents).toEqual([expect.objectContaining({ reason: 'SourceResumed', migrationId })]);
  });

  test("a held source on a Liqo virtual node: thawed where it runs, the provider's pod on its node; the local pod unlocked", async () => {
    const runsAt = { cluster: 'lab-b', namespace: 'default', uid: 'remote-uid', node: 'lab-b-node', containerIds: ['containerd://counter-in-lab-b'] };
    const { error, recorder, providerRecorder, migrationId } = await resume({ source: heldPod({ node: 'lab-b', runsAt }), targets: [] });
    expect(error).toBeUndefined();
    expect(providerRecorder.started()).toEqual(['thawPod']);
    expect(providerRecorder.calls.find((c) => c.call === 'thawPod')?.input).toEqual({ podUid: 'remote-uid', containerIds: ['containerd://counter-in-lab-b'], migrationId, fence: RESUME_FENCE });
    expect(recorder.started()).toEqual(['findHeldMigration', 'releaseSourceLock', 'liftPodNameFence']);
    expect(recorder.calls.find((c) => c.call === 'releaseSourceLock')?.input).toMatchObject({ cluster: 'lab-a', uid: 'source-uid' });
  });

  test('refused while a target pod of the migration exists, even terminating: the source stays frozen', async () => {
    const target = heldPod({ cluster: 'lab-b', node: 'lab-b-node', uid: 'target-uid', terminating: true });
    const { error, recorder } = await resume({ source: heldPod(), targets: [target] });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('TargetStillExists');
    expect(describeFailure(error).message).toMatch(/stays frozen: migration .* still has a target pod \(pod default\/sample in cluster lab-b on node lab-b-node \(terminating\)\)/);
    expect(recorder.started()).toEqual(['findHeldMigration']);
  });

  test('nothing held: says so and changes nothing', async () => {
    const { error, recorder } = await resume(undefined);
    expect(((error as WorkflowFailedError).cause as ApplicationFailure).type).toBe('NothingHeld');
    expect(describeFailure(error).message).toMatch(/no pod in any configured cluster holds the lock of migration/);
    expect(recorder.started()).toEqual(['findHeldMigration']);
  });

  test('refused while the migration still runs, and for an id that cannot be one', async () => {
    const running = await client.workflow.start('migratePod', { args: [{}], taskQueue: 'nobody-polls-this', workflowId: `still-running-${Date.now().toString(36)}` });
    await expect(resumeHeldSource(client, running.workflowId)).rejects.toThrow(MigrationInProgress);
    await expect(resumeHeldSource(client, running.workflowId)).rejects.toThrow(/is still running and decides about its source/);
    await running.terminate('test over');
    await expect(resumeHeldSource(client, 'has space')).rejects.toThrow(/invalid migration id "has space": .*no spaces/);
  });
});
