// The kubelet checkpoint API, reached through the API server's node proxy:
//   POST /api/v1/nodes/<node>/proxy/checkpoint/<ns>/<pod>/<container>?timeout=N
// A raw request, because the generated client percent-encodes the `/` of the proxied path and cannot carry
// the query. The archive stays on the node; only its path comes back.
import http from 'node:http';
import https from 'node:https';
import { ApplicationFailure } from '@temporalio/common';
import type { Clusters } from '../kubernetes/clusters.js';
import { whileHeartbeating } from './context.js';

export interface CheckpointContainerInput {
  cluster: string;
  node: string;
  namespace: string;
  pod: string;
  container: string;
  timeoutSeconds: number;
}

export interface CheckpointContainerResult {
  container: string;
  /** Path of the archive on the node's filesystem. */
  archivePath: string;
  durationMs: number;
}

export function createKubeletActivities(deps: { clusters: Clusters }) {
  async function checkpointContainer(input: CheckpointContainerInput): Promise<CheckpointContainerResult> {
    const kc = deps.clusters.kubeConfig(input.cluster);
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw ApplicationFailure.nonRetryable(`cluster ${input.cluster}: kubeconfig context has no server`, 'UnknownCluster');
    const enc = encodeURIComponent;
    const url = new URL(
      `api/v1/nodes/${enc(input.node)}/proxy/checkpoint/${enc(input.namespace)}/${enc(input.pod)}/${enc(input.container)}?timeout=${input.timeoutSeconds}`,
      server.endsWith('/') ? server : `${server}/`,
    );
    const options: https.RequestOptions = { method: 'POST', headers: { accept: 'application/json' } };
    await kc.applyToHTTPSOptions(options);
    const ref = `container ${input.container} of pod ${input.namespace}/${input.pod} on node ${input.node} (cluster ${input.cluster})`;

    const started = Date.now();
    const response = await whileHeartbeating(
      (signal) => send(url, options, (input.timeoutSeconds + 30) * 1000, signal),
      () => ({ waitingMs: Date.now() - started }),
    );
    const durationMs = Date.now() - started;

    if (response.status === 404) {
      throw ApplicationFailure.nonRetryable(
        `checkpointing ${ref}: the kubelet has no checkpoint endpoint (404: ${response.body.trim().slice(0, 200)}). ` +
          'Enable the ContainerCheckpoint feature gate and enableDebuggingHandlers: true in the kubelet configuration, ' +
          'and check that the pod and container names are right',
        'CheckpointApiUnavailable',
      );
    }
    if (response.status === 403 || response.status === 401) {
      throw ApplicationFailure.nonRetryable(
        `checkpointing ${ref}: forbidden (${response.status}: ${response.body.trim().slice(0, 300)}). The worker's identity needs ` +
          '`create` on `nodes/proxy`, and the API server\'s kubelet-client identity needs `create` on `nodes/checkpoint` (see README, RBAC)',
        'CheckpointForbidden',
      );
    }
    if (response.status < 200 || response.status >= 300) {
      throw ApplicationFailure.create({
        message: `checkpointing ${ref} failed: HTTP ${response.status}: ${response.body.trim().slice(0, 1000)}`,
        type: 'CheckpointFailed',
      });
    }
    let items: unknown;
    try {
      items = (JSON.parse(response.body) as { items?: unknown }).items;
    } catch {
      items = undefined;
    }
    const archivePath = Array.isArray(items) && typeof items[0] === 'string' ? items[0] : undefined;
    if (!archivePath) {
      throw ApplicationFailure.nonRetryable(`checkpointing ${ref}: unexpected answer ${response.body.slice(0, 300)}`, 'CheckpointFailed');
    }
    return { container: input.container, archivePath, durationMs };
  }

  return { checkpointContainer };
}

export type KubeletActivities = ReturnType<typeof createKubeletActivities>;

/** One request; an aborted `signal` destroys it (and so the connection to the API server). */
function send(url: URL, options: https.RequestOptions, timeoutMs: number, signal: AbortSignal): Promise<{ status: number; body: string }> {
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { ...options, timeout: timeoutMs, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}
