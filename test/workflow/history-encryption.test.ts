// History encryption (src/client/history-encryption.ts) on a real Temporal dev server, with the codecs wired
// as the processes wire them (orchestratorDataConverter, nodeDataConverter, createTemporalClient): a resume
// whose held source carries a marker string runs through the orchestrator and a node worker that also checks
// the node-call signature (encrypted, then signed); a client without the key reads the raw history and finds
// only `binary/encrypted` payloads and no marker; a client with the key reads the values; another key fails
// with an error that names both key ids and the key file, in a client and in a node worker; a changed byte
// does not decrypt.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { PodferryConfig } from '../../src/api/config.js';
import { resumeWorkflowId, type HeldPod, type ResumedSource } from '../../src/api/held-source.js';
import { nodeTaskQueue } from '../../src/api/names.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { ENCRYPTED_ENCODING, HistoryEncryption } from '../../src/client/history-encryption.js';
import { describeFailure, resumeHeldSource } from '../../src/client/migrations.js';
import { parseConfig } from '../../src/config/load.js';
import { nodeDataConverter } from '../../src/worker/node.js';
import { orchestratorDataConverter } from '../../src/worker/orchestrator.js';
import { createRecordingStandInActivities, Recorder } from '../support/recording-activities.js';
import { startWorkflowTestEnv, type WorkflowTestEnv } from '../support/workflow-env.js';

let env: WorkflowTestEnv | undefined;
let plainClient: Client;
let connection: NativeConnection;
let workflowBundle: { code: string };
let sequence = 0;
const dir = mkdtempSync(path.join(tmpdir(), 'podferry-history-key-'));

function writeKey(name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return file;
}

const nodeCallKeyFile = writeKey('node-call.key');
const historyKeyFile = writeKey('history.key');
const otherHistoryKeyFile = writeKey('rotated-history.key');
const configWith = (security: { historyKeyFile?: string }) => parseConfig({ security: { nodeCallKeyFile, ...security } }, path.join(dir, 'podferry.yaml'));
const encrypted = configWith({ historyKeyFile });
const rotated = configWith({ historyKeyFile: otherHistoryKeyFile });
const unencrypted = configWith({});
const keyId = (file: string) => new HistoryEncryption(readFileSync(file), file).keyId;

beforeAll(async () => {
  env = await startWorkflowTestEnv();
  ({ connection, client: plainClient, workflowBundle } = env);
}, 180_000);

afterAll(async () => {
  await env?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A value that would be a secret in a pod spec: it must never be in the history in plain text. */
const marker = () => `containerd://marker-${randomBytes(8).toString('hex')}`;

/** One resume of a held source whose container id is `secret`: orchestrator, node worker and client each with their own configuration. */
async function resumeWith(secret: string, configs: { orchestrator: PodferryConfig; node: PodferryConfig; client: PodferryConfig }) {
  const id = `h${++sequence}-${Date.now().toString(36)}`;
  const taskQueue = `podferry-history-${id}`;
  const node = `node-${id}`;
  const source: HeldPod = { cluster: 'lab-a', namespace: 'default', name: 'sample', uid: 'source-uid', node, containerIds: [secret], terminating: false };
  const recorder = new Recorder();
  const activities = createRecordingStandInActivities(recorder, { node, held: { source, targets: [] } });
  const orchestrator = await Worker.create({ connection, taskQueue, workflowBundle, activities: activities.orchestrator, dataConverter: orchestratorDataConverter(configs.orchestrator) });
  const nodeWorker = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', node), activities: activities.node, dataConverter: nodeDataConverter(configs.node) });
  const client = createTemporalClient(plainClient.connection, configs.client);
  const migrationId = `migration-${id}`;
  const outcome = await orchestrator.runUntil(
    nodeWorker.runUntil(() =>
      resumeHeldSource(client, migrationId, { taskQueue }).then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      ),
    ),
  );
  return { ...outcome, recorder, workflowId: resumeWorkflowId(migrationId) };
}

/** The history as the server keeps it, read by a client without the key: its bytes and every payload in it. */
async function rawHistory(workflowId: string) {
  const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
  const payloads: Payload[] = [];
  const collect = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    if (object.metadata && typeof object.metadata === 'object' && 'encoding' in object.metadata) payloads.push(object as Payload);
    else Object.values(object).forEach(collect);
  };
  // Except what patched() records: its marker and the TemporalChangeVersion search attribute name a patch id, in
  // plain JSON by design (search attributes are indexed; markers are the SDK's own), never workflow data.
  const patchRecords = (event: temporal.api.history.v1.IHistoryEvent) =>
    event.markerRecordedEventAttributes?.markerName === 'core_patch' || Boolean(event.upsertWorkflowSearchAttributesEventAttributes);
  collect((history.events ?? []).filter((event) => !patchRecords(event)));
  return { bytes: Buffer.from(temporal.api.history.v1.History.encode(history).finish()), payloads };
}

const encoding = (payload: Payload) => new TextDecoder().decode(payload.metadata?.encoding ?? undefined);

describe('history encryption', () => {
  test('on every party: the resume runs, and the history holds only encrypted payloads, the marker nowhere', async () => {
    const secret = marker();
    const { result, error, recorder, workflowId } = await resumeWith(secret, { orchestrator: encrypted, node: encrypted, client: encrypted });
    expect(error).toBeUndefined();
    expect(result?.source.containerIds).toEqual([secret]);
    // The node worker verified the signature over the encrypted input, then decrypted it.
    expect(recorder.calls.find((c) => c.call === 'thawPod' && c.event === 'start')?.input).toMatchObject({ containerIds: [secret] });

    const { bytes, payloads } = await rawHistory(workflowId);
    expect(bytes.includes(secret)).toBe(false);
    expect(payloads.length).toBeGreaterThanOrEqual(5); // input, findHeldMigration's result, thawPod's input and result, …
    expect(new Set(payloads.map(encoding))).toEqual(new Set([ENCRYPTED_ENCODING]));

    // With the key the values decode: the workflow's result as a client reads it, and a node call's input
    // (encrypted, then signed: the signature travels outside the ciphertext and is not part of what decrypts).
    const handle = createTemporalClient(plainClient.connection, encrypted).workflow.getHandle<() => Promise<ResumedSource>>(workflowId);
    expect((await handle.result()).source.containerIds).toEqual([secret]);
    const history = await plainClient.workflow.getHandle(workflowId).fetchHistory();
    const thaw = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'thawPod')!.activityTaskScheduledEventAttributes!;
    const [sealed] = thaw.input!.payloads! as Payload[];
    expect(Object.keys(sealed!.metadata!).sort()).toEqual(['encoding', 'encryption-key-id', 'podferry-signature']);
    const codec = new HistoryEncryption(readFileSync(historyKeyFile), historyKeyFile);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toMatchObject({ containerIds: [secret] });
    const changed = Buffer.from(sealed!.data!);
    changed[20]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data: changed }])).rejects.toMatchObject({ type: 'HistoryPayloadCorrupt' });
  });

  test('without a history key (the control): the marker is in the history in plain text', async () => {
    const secret = marker();
    const { error, workflowId } = await resumeWith(secret, { orchestrator: unencrypted, node: unencrypted, client: unencrypted });
    expect(error).toBeUndefined();
    expect((await rawHistory(workflowId)).bytes.includes(secret)).toBe(true);
  });

  test('a client with another key: refused with both key ids and the file to check', async () => {
    const { error, workflowId } = await resumeWith(marker(), { orchestrator: encrypted, node: encrypted, client: encrypted });
    expect(error).toBeUndefined();
    const result = createTemporalClient(plainClient.connection, rotated).workflow.getHandle(workflowId).result();
    await expect(result).rejects.toMatchObject({
      type: 'HistoryKeyMismatch',
      message: `history payload encrypted with key id ${keyId(historyKeyFile)}, but the history key in ${otherHistoryKeyFile} (security.historyKeyFile) has key id ${keyId(otherHistoryKeyFile)}: ` +
        'every worker and client of an installation needs the same key (the Secret podferry-history-key); check that file, or whether the key was rotated',
    });
  });

  test('a node worker with another key: the node call is refused before the activity code runs', async () => {
    const { error, recorder } = await resumeWith(marker(), { orchestrator: encrypted, node: rotated, client: encrypted });
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(describeFailure(error).message).toMatch(new RegExp(`history payload encrypted with key id ${keyId(historyKeyFile)}, but the history key in ${otherHistoryKeyFile}`));
    const chain = [];
    for (let e: unknown = error; e instanceof Error; e = (e as { cause?: unknown }).cause) chain.push(e);
    expect(chain.some((e) => e instanceof ApplicationFailure && e.type === 'HistoryKeyMismatch')).toBe(true);
    expect(recorder.started()).toEqual(['findHeldMigration']);
  });
});
