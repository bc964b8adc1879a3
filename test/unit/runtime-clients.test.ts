// ContainerdTasks, CriImages (and the node worker's pull through it) and ContainerdImport against stand-ins:
// a gRPC server on a unix socket that serves the vendored service definitions, and a shell script in place of ctr.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createTransferActivities } from '../../src/activities/transfer.js';
import { ContainerdImport } from '../../src/node/containerd-import.js';
import { ContainerdTasks } from '../../src/node/containerd-tasks.js';
import { CriImages } from '../../src/node/cri-images.js';
import { IMAGE_SERVICE, TASKS, type TaskStatus } from '../../src/node/proto/services.js';
import { TestActivityEnvironment } from './activity-environment.js';

type Answer = { error: Partial<grpc.StatusObject> } | { response: object } | 'never';

/** What the stand-in runtime answers, per method path; and what it was asked. */
const answers = new Map<string, Answer>();
const calls: { path: string; request: unknown; namespace: string | undefined }[] = [];
let cancelled: string[] = [];

function handler(methodPath: string): grpc.handleUnaryCall<unknown, object> {
  return (call, callback) => {
    calls.push({ path: methodPath, request: call.request, namespace: call.metadata.get('containerd-namespace')[0]?.toString() });
    call.on('cancelled', () => cancelled.push(methodPath));
    const answer = answers.get(methodPath) ?? { response: {} };
    if (answer === 'never') return;
    if ('error' in answer) callback(answer.error);
    else callback(null, answer.response);
  };
}

function implementationOf(methods: Record<string, { path: string }>): grpc.UntypedServiceImplementation {
  return Object.fromEntries(Object.entries(methods).map(([name, method]) => [name, handler(method.path)]));
}

let dir: string;
let socket: string;
let server: grpc.Server;
let tasks: ContainerdTasks;
let images: CriImages;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'podferry-runtime-'));
  socket = path.join(dir, 'containerd.sock');
  server = new grpc.Server();
  server.addService(TASKS as unknown as grpc.ServiceDefinition, implementationOf(TASKS));
  server.addService(IMAGE_SERVICE as unknown as grpc.ServiceDefinition, implementationOf(IMAGE_SERVICE));
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  tasks = new ContainerdTasks({ address: socket, namespace: 'test.ns' });
  images = new CriImages({ address: socket });
});

afterAll(async () => {
  tasks.close();
  images.close();
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  answers.clear();
  calls.length = 0;
  cancelled = [];
});

const unknownError = (details: string) => ({ error: { code: grpc.status.UNKNOWN, details } });
const taskIs = (status: TaskStatus) => ({ response: { process: { status } } });

describe('ContainerdTasks', () => {
  test('pause sends the container id with the containerd-namespace header', async () => {
    await tasks.pause('abc');
    expect(calls).toEqual([{ path: TASKS.pause.path, request: { containerId: 'abc' }, namespace: 'test.ns' }]);
  });

  test('pause of a task already paused counts as done: the shim answers UNKNOWN, the task state says PAUSED', async () => {
    answers.set(TASKS.pause.path, unknownError('cannot pause a paused container: unknown'));
    answers.set(TASKS.get.path, taskIs('PAUSED'));
    await tasks.pause('abc');
    expect(calls.map((c) => c.path)).toEqual([TASKS.pause.path, TASKS.get.path]);
  });

  test('pause that fails while the task runs on rejects with the status and the runtime message', async () => {
    answers.set(TASKS.pause.path, unknownError('OCI runtime pause failed'));
    answers.set(TASKS.get.path, taskIs('RUNNING'));
    await expect(tasks.pause('abc')).rejects.toThrow('containerd pause of task abc (namespace test.ns) failed: UNKNOWN: OCI runtime pause failed');
  });

  test('pause of a missing task rejects with NOT_FOUND, without asking for its state', async () => {
    answers.set(TASKS.pause.path, { error: { code: grpc.status.NOT_FOUND, details: 'task abc not found' } });
    await expect(tasks.pause('abc')).rejects.toThrow('failed: NOT_FOUND: task abc not found');
    expect(calls.map((c) => c.path)).toEqual([TASKS.pause.path]);
  });

  test('resume of a missing task counts as done', async () => {
    answers.set(TASKS.resume.path, { error: { code: grpc.status.NOT_FOUND, details: 'task abc not found' } });
    await tasks.resume('abc');
    expect(calls.map((c) => c.path)).toEqual([TASKS.resume.path]);
  });

  test('resume of a task that is not paused (running or stopped) counts as done', async () => {
    answers.set(TASKS.resume.path, unknownError('cannot resume a running process'));
    for (const status of ['RUNNING', 'STOPPED'] as const) {
      answers.set(TASKS.get.path, taskIs(status));
      await tasks.resume('abc');
    }
  });

  test('resume that fails while the task stays paused rejects, also when its state cannot be read', async () => {
    answers.set(TASKS.resume.path, unknownError('OCI runtime resume failed'));
    answers.set(TASKS.get.path, taskIs('PAUSED'));
    await expect(tasks.resume('abc')).rejects.toThrow('containerd resume of task abc (namespace test.ns) failed: UNKNOWN: OCI runtime resume failed');
    answers.set(TASKS.get.path, { error: { code: grpc.status.UNAVAILABLE, details: 'shim gone' } });
    await expect(tasks.resume('abc')).rejects.toThrow('UNKNOWN: OCI runtime resume failed');
  });

  test('aborting a pause cancels the call and rejects with the signal reason', async () => {
    answers.set(TASKS.pause.path, 'never');
    const controller = new AbortController();
    const paused = tasks.pause('abc', { signal: controller.signal });
    await waitFor(() => calls.length === 1);
    controller.abort(new Error('migration cancelled'));
    await expect(paused).rejects.toThrow('migration cancelled');
    await waitFor(() => cancelled.length === 1);
    expect(cancelled).toEqual([TASKS.pause.path]);
  });
});

describe('CriImages', () => {
  test('pull returns the image reference the runtime gives', async () => {
    answers.set(IMAGE_SERVICE.pullImage.path, { response: { imageRef: 'sha256:abc' } });
    await expect(images.pull('registry.lab/app:1')).resolves.toBe('sha256:abc');
    // No credentials: the runtime's own registry configuration applies.
    expect(calls).toEqual([{ path: IMAGE_SERVICE.pullImage.path, request: { image: { image: 'registry.lab/app:1', userSpecifiedImage: '' }, auth: null }, namespace: undefined }]);
  });

  test('a pull with credentials sends them as the CRI AuthConfig', async () => {
    answers.set(IMAGE_SERVICE.pullImage.path, { response: { imageRef: 'sha256:abc' } });
    await images.pull('registry.lab/app:1', undefined, { auth: { username: 'podferry-pull', password: 'pull-s3cret' } });
    expect(calls.map((c) => c.request)).toEqual([{ image: { image: 'registry.lab/app:1', userSpecifiedImage: '' }, auth: { username: 'podferry-pull', password: 'pull-s3cret' } }]);
  });

  test('status: the image id, or undefined when the runtime answers without an image', async () => {
    answers.set(IMAGE_SERVICE.imageStatus.path, { response: { image: { id: 'sha256:abc' } } });
    await expect(images.status('app:1')).resolves.toBe('sha256:abc');
    answers.set(IMAGE_SERVICE.imageStatus.path, { response: {} });
    await expect(images.status('app:1')).resolves.toBeUndefined();
  });

  test('remove: NOT_FOUND counts as removed, other errors name the image and the status', async () => {
    answers.set(IMAGE_SERVICE.removeImage.path, { error: { code: grpc.status.NOT_FOUND, details: 'image not found' } });
    await images.remove('app:1');
    answers.set(IMAGE_SERVICE.removeImage.path, { error: { code: grpc.status.FAILED_PRECONDITION, details: 'image in use' } });
    await expect(images.remove('app:1')).rejects.toThrow('removing app:1 through CRI failed: FAILED_PRECONDITION: image in use');
  });

  test('a pull past its deadline rejects with DEADLINE_EXCEEDED', async () => {
    answers.set(IMAGE_SERVICE.pullImage.path, 'never');
    await expect(images.pull('app:1', 200)).rejects.toThrow('pulling app:1 through CRI failed: DEADLINE_EXCEEDED');
  });

  test('aborting a pull cancels it on the wire; with no reason given, it rejects with an AbortError', async () => {
    answers.set(IMAGE_SERVICE.pullImage.path, 'never');
    const controller = new AbortController();
    const pulled = images.pull('app:1', undefined, { signal: controller.signal });
    await waitFor(() => calls.length === 1);
    controller.abort();
    await expect(pulled).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => cancelled.length === 1);
  });

  test('an already aborted signal rejects without calling the runtime', async () => {
    await expect(images.status('app:1', undefined, { signal: AbortSignal.abort(new Error('too late')) })).rejects.toThrow('too late');
    expect(calls).toEqual([]);
  });
});

describe("pullCheckpointImage: the node worker's pull ahead of the kubelet", () => {
  const ref = `10.231.0.1:5443/podferry/checkpoints@sha256:${'a'.repeat(64)}`;
  const pullCredentials = { username: 'podferry-pull', password: 'pull-s3cret' };
  const transfer = () =>
    createTransferActivities({
      importer: new ContainerdImport({ ctr: 'ctr', address: socket, namespace: 'k8s.io' }),
      criImages: images,
      repository: 'podferry/checkpoints',
      pullHost: '10.231.0.1:5443',
      pullCredentials,
    });

  test("authenticates with the registry's pull identity from the node worker's configuration", async () => {
    answers.set(IMAGE_SERVICE.pullImage.path, { response: { imageRef: 'sha256:abc' } });
    await new TestActivityEnvironment().run(() => transfer().pullCheckpointImage({ container: 'kv', ref }));
    expect(calls.map((c) => c.request)).toEqual([{ image: { image: ref, userSpecifiedImage: '' }, auth: pullCredentials }]);
  });

  test('sends the identity nowhere but the checkpoint repository: another image is refused before the runtime is asked', async () => {
    await expect(new TestActivityEnvironment().run(() => transfer().pullCheckpointImage({ container: 'kv', ref: 'evil.example/x@sha256:1' }))).rejects.toMatchObject({
      type: 'ImageRefused',
    });
    expect(calls).toEqual([]);
  });
});

describe('ContainerdImport', () => {
  test('aborting an import stops ctr and the source stream, and rejects with the signal reason', async () => {
    const ctr = path.join(dir, 'ctr');
    const started = path.join(dir, 'ctr-started');
    await writeFile(ctr, `#!/bin/sh\ntouch ${started}\nexec cat >/dev/null\n`);
    await chmod(ctr, 0o755);
    const layout = new PassThrough();
    layout.write(Buffer.alloc(1024));
    const controller = new AbortController();
    const imported = new ContainerdImport({ ctr, address: socket, namespace: 'test.ns' }).importLayout(layout, 'app', { signal: controller.signal });
    await waitFor(() => existsSync(started));
    controller.abort(new Error('migration cancelled'));
    await expect(imported).rejects.toThrow('migration cancelled');
    expect(layout.destroyed).toBe(true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
