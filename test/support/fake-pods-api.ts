// A fake API server holding pods, Deployments and StatefulSets, enough for the activities that read, patch and watch
// them by name: GET and JSON-patch (RFC 6902: test, add, remove, replace on object paths) of
// /api/v1/namespaces/<ns>/pods/<name> and /apis/apps/v1/namespaces/<ns>/{deployments,statefulsets}/<name>, and GET of the
// namespace's pod list. It answers 404 for a missing object and 422 for a failed test, and moves an object's
// resourceVersion (when it has one) on every patch, as the real one does. The test changes the objects directly
// (the controllers' part) and reads them back.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';

export interface FakePodsApi {
  /** Pods by `namespace/name`. */
  pods: Map<string, V1Pod>;
  /** Deployments by `namespace/name`. */
  deployments: Map<string, V1Deployment>;
  /** StatefulSets by `namespace/name`. */
  statefulSets: Map<string, V1StatefulSet>;
  /** Every request, `METHOD path`. */
  requests: string[];
  /** A kubeconfig file pointing at this server (context `fake`). */
  kubeconfig: string;
  close(): Promise<void>;
}

export async function startFakePodsApi(): Promise<FakePodsApi> {
  const pods = new Map<string, V1Pod>();
  const deployments = new Map<string, V1Deployment>();
  const statefulSets = new Map<string, V1StatefulSet>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const reply = (status: number, object: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(object));
      };
      const status = (code: number, message: string) => reply(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message });
      const url = new URL(req.url ?? '/', 'http://fake');
      const list = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
      if (list && req.method === 'GET') {
        return reply(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [...pods.values()].filter((p) => p.metadata?.namespace === list[1]) });
      }
      const one = /^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/(pods|deployments|statefulsets)\/([^/]+)$/.exec(url.pathname);
      if (!one) return status(404, `no route ${url.pathname}`);
      const objects: Map<string, V1Pod | V1Deployment | V1StatefulSet> = { pods, deployments, statefulsets: statefulSets }[one[2] as 'pods' | 'deployments' | 'statefulsets'];
      const key = `${one[1]}/${one[3]}`;
      const object = objects.get(key);
      if (!object) return status(404, `${one[2]} "${one[3]}" not found`);
      if (req.method === 'GET') return reply(200, object);
      if (req.method === 'PATCH') {
        const patched = applyJsonPatch(structuredClone(object), JSON.parse(body) as Operation[]);
        if (typeof patched === 'string') return status(422, patched);
        if (patched.metadata?.resourceVersion) patched.metadata.resourceVersion = String(Number(patched.metadata.resourceVersion) + 1);
        objects.set(key, patched);
        return reply(200, patched);
      }
      return status(405, `${req.method} not supported here`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-fake-api-')), 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'fake', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }),
  );
  return { pods, deployments, statefulSets, requests, kubeconfig, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface Operation {
  op: 'test' | 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

/** The patched object, or why the patch fails (a failed test, a path that does not exist). */
function applyJsonPatch<T extends object>(target: T, operations: Operation[]): T | string {
  for (const { op, path: pointer, value } of operations) {
    const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let parent: Record<string, unknown> = target as Record<string, unknown>;
    for (const key of keys) {
      const next = parent[key];
      if (typeof next !== 'object' || next === null) return `${op} ${pointer}: the path does not exist`;
      parent = next as Record<string, unknown>;
    }
    if (op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(value)) return `test ${pointer} failed`;
    if ((op === 'remove' || op === 'replace') && !(last in parent)) return `${op} ${pointer}: the path does not exist`;
    if (op === 'remove') delete parent[last];
    if (op === 'add' || op === 'replace') parent[last] = value;
  }
  return target;
}
