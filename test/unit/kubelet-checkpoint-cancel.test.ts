// A cancelled checkpointContainer gives up its request to the API server at once instead of waiting out
// the checkpoint timeout. The kubelet (behind the API server's node proxy) is stood in for by a local HTTP
// server that takes the request and never answers, as a kubelet stuck in a long checkpoint would.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CancelledFailure } from '@temporalio/common';
import { createKubeletActivities } from '../../src/activities/kubelet.js';
import { sleep } from '../../src/activities/context.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { TestActivityEnvironment } from './activity-environment.js';

let kubeletStandIn: Server;
const received: IncomingMessage[] = [];
let kubeconfig: string;

beforeAll(async () => {
  kubeletStandIn = createServer((req) => received.push(req)); // never answers
  await new Promise<void>((resolve) => kubeletStandIn.listen(0, '127.0.0.1', resolve));
  const { port } = kubeletStandIn.address() as AddressInfo;
  kubeconfig = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-kubelet-')), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'worker', user: {} }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'worker' } }],
      'current-context': 'stand-in',
    }),
  );
});

afterAll(async () => {
  kubeletStandIn.closeAllConnections();
  await new Promise((resolve) => kubeletStandIn.close(resolve));
});

describe('checkpointContainer under cancellation', () => {
  test('a cancel destroys the checkpoint request and ends the activity as cancelled', async () => {
    const { checkpointContainer } = createKubeletActivities({ clusters: new Clusters({ lab: { kubeconfig } }) });
    const env = new TestActivityEnvironment();
    const running = env.run(() =>
      checkpointContainer({ cluster: 'lab', node: 'node-1', namespace: 'default', pod: 'counter', container: 'counter', timeoutSeconds: 600 }),
    );
    await sleep(300);
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/v1/nodes/node-1/proxy/checkpoint/default/counter/counter?timeout=600']);
    const connectionClosed = new Promise<void>((resolve) => received[0]!.socket.once('close', () => resolve()));
    const cancelled = Date.now();
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    await connectionClosed;
    console.log(`checkpointContainer: cancelled and its request closed after ${Date.now() - cancelled} ms`);
    expect(Date.now() - cancelled).toBeLessThan(10_000);
  });
});
