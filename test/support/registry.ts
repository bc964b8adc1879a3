// Starts a real OCI registry (Debian's docker-registry, distribution 2.8) on a free loopback port with a
// temporary storage directory, for tests: plain HTTP, or HTTPS with a certificate of a test CA.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestCertificates } from './tls.js';

export const REGISTRY_BINARY = process.env.PODFERRY_TEST_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TestRegistry {
  url: string;
  stop(): Promise<void>;
}

/**
 * extraConfig: more top-level YAML for the registry's configuration (e.g. an `auth:` section); tls: serve
 * HTTPS with this certificate (see test/support/tls.ts).
 */
export async function startRegistry(options: { extraConfig?: string; tls?: TestCertificates } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'podferry-registry-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(options.tls ? ['  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`] : []),
      options.extraConfig ?? '',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Never outlive the test process, even when a suite times out before its afterAll.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = options.tls ? readFileSync(options.tls.ca) : undefined;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const status = await statusOf(`${url}/v2/`, ca);
      if (status === 200 || status === 401) break; // 401: up, and demanding authentication
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`registry did not start on ${url}: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The status of a GET (over HTTPS trusting `ca`: this process's fetch trusts only the default CAs). */
function statusOf(url: string, ca: Buffer | undefined): Promise<number> {
  if (!ca) return fetch(url).then((res) => res.status);
  return new Promise((resolve, reject) => {
    https.get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}
