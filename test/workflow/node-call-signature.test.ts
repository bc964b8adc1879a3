// Node calls signed by the orchestrator (src/worker/node-call-signature.ts), on a real Temporal dev server:
// a node worker that verifies runs an activity the orchestrator's worker scheduled with the shared key, and
// refuses, before the activity code runs, one scheduled by a worker without the key (anyone who can reach the
// Temporal namespace could run such a worker) or with another key, and a signed input copied from another
// migration's history (the signature is bound to the workflow and activity it was scheduled for). The workflow is `podferry resume`, whose
// one node call is a thaw; the activities are the recording stand-ins.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { resumeWorkflowId, type HeldPod } from '../../src/api/held-source.js';
import { nodeTaskQueue } from '../../src/api/names.js';
import { describeFailure, resumeHeldSource } from '../../src/client/migrations.js';
import { NodeCallSignature } from '../../src/worker/node-call-signature.js';
import { createRecordingStandInActivities, Recorder } from '../support/recording-activities.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../support/workflow-env.js';

let env: WorkflowTestEnv | undefined;
let client: Client;
let connection: NativeConnection;
let workflowBundle: { code: string };
let sequence = 0;
const key = Buffer.from(randomBytes(32).toString('hex'));

beforeAll(async () => {
  env = await startWorkflowTestEnv();
  ({ connection, client, workflowBundle } = env);
}, 180_000);

afterAll(async () => {
  await env?.stop();
});

const source: HeldPod = { cluster: 'lab-a', namespace: 'default', name: 'sample', uid: 'source-uid', node: 'n1', containerIds: ['containerd://c1'], terminating: false };

/** One resume with the orchestrator's payloads going through `orchestratorCodec` (none: unsigned) and the node verifying with `key`. */
async function resumeWith(orchestratorCodec: PayloadCodec | undefined) {
  const id = `s${++sequence}-${Date.now().toString(36)}`;
  const taskQueue = `podferry-signature-${id}`;
  const node = `node-${id}`;
  const recorder = new Recorder();
  const activities = createRecordingStandInActivities(recorder, { node, held: { source: { ...source, node }, targets: [] } });
  const orchestrator = await Worker.create({
    connection,
    taskQueue,
    workflowBundle,
    activities: activities.orchestrator,
    ...(orchestratorCodec ? { dataConverter: { payloadCodecs: [orchestratorCodec] } } : {}),
  });
  const nodeWorker = await Worker.create({
    connection,
    taskQueue: nodeTaskQueue('lab-a', node),
    activities: activities.node,
    dataConverter: { payloadCodecs: [new NodeCallSignature(key, 'verify')] },
  });
  const outcome = await orchestrator.runUntil(
    nodeWorker.runUntil(() => resumeHeldSource(client, `migration-${id}`, { taskQueue }).then((result) => ({ result, error: undefined }), (error: unknown) => ({ result: undefined, error }))),
  );
  return { ...outcome, recorder, workflowId: resumeWorkflowId(`migration-${id}`) };
}

const signing = (withKey: Buffer) => new NodeCallSignature(withKey, 'sign');

/** Refused before the activity code ran: the failure chain says UnsignedNodeCall, and the thaw never started. */
function expectRefused(error: unknown, recorder: Recorder) {
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect(describeFailure(error).message).toMatch(/refused: this node worker runs only activities scheduled by podferry's orchestrator/);
  const chain = [];
  for (let e: unknown = error; e instanceof Error; e = (e as { cause?: unknown }).cause) chain.push(e);
  expect(chain.some((e) => e instanceof ApplicationFailure && e.type === 'UnsignedNodeCall')).toBe(true);
  expect(recorder.started()).toEqual(['findHeldMigration']);
}

describe('node calls signed by the orchestrator', () => {
  test('signed with the shared key: the node worker runs it', async () => {
    const { result, error, recorder } = await resumeWith(signing(key));
    expect(error).toBeUndefined();
    expect(result?.thawed).toBe(true);
    expect(recorder.started()).toContain('thawPod');
  }, 30_000);

  test.each([
    ['without a key', undefined],
    ['with another key', signing(Buffer.from(randomBytes(32).toString('hex')))],
  ])('scheduled by a worker %s: refused before the activity code runs', async (_what, codec) => {
    const { error, recorder } = await resumeWith(codec);
    expectRefused(error, recorder);
  }, 30_000);

  test("a signed input copied from another migration's history, scheduled as the same activity id: refused", async () => {
    const first = await resumeWith(signing(key));
    expect(first.error).toBeUndefined();
    const scheduled = (await client.workflow.getHandle(first.workflowId).fetchHistory()).events!
      .map((e) => e.activityTaskScheduledEventAttributes)
      .find((a) => a?.activityType?.name === 'thawPod')!;
    const captured = scheduled.input!.payloads![0] as Payload;
    // A worker without the key that puts the captured, validly signed payload where its own thaw's input goes.
    const replaying: PayloadCodec = {
      encode: async (payloads: Payload[], context?: SerializationContext) =>
        context?.type === 'activity' && context.activityId === scheduled.activityId ? [captured] : payloads,
      decode: async (payloads: Payload[]) => payloads,
    };
    const { error, recorder } = await resumeWith(replaying);
    expectRefused(error, recorder);
  }, 60_000);
});

describe('the signature itself', () => {
  const payload = { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('{"podUid":"a"}') };

  test('round trip: the data and metadata arrive as they were, without the signature', async () => {
    const [signed] = await new NodeCallSignature(key, 'sign').encode([payload]);
    expect(Object.keys(signed!.metadata!)).toEqual(['encoding', 'podferry-signature']);
    expect(await new NodeCallSignature(key, 'verify').decode([signed!])).toEqual([payload]);
  });

  test('a changed byte of data or metadata is refused; the orchestrator reads unsigned payloads (workflow inputs from clients)', async () => {
    const [signed] = await new NodeCallSignature(key, 'sign').encode([payload]);
    const tampered = { ...signed!, data: new TextEncoder().encode('{"podUid":"b"}') };
    await expect(new NodeCallSignature(key, 'verify').decode([tampered])).rejects.toMatchObject({ type: 'UnsignedNodeCall' });
    const retyped = { ...signed!, metadata: { ...signed!.metadata, encoding: new TextEncoder().encode('binary/plain') } };
    await expect(new NodeCallSignature(key, 'verify').decode([retyped])).rejects.toMatchObject({ type: 'UnsignedNodeCall' });
    expect(await new NodeCallSignature(key, 'sign').decode([payload])).toEqual([payload]);
  });
});
