// Starts a real Temporal dev server (the locally built Temporal CLI; nothing is downloaded) on free
// loopback ports with a temporary database, with podferry's search attributes registered.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './registry.js';

/** The lab's tool cache (deploy/lab/lib.sh: LAB_CACHE). */
export function labCacheDir(): string {
  return process.env.PODFERRY_LAB_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'podferry-lab');
}

export function temporalBinary(): string {
  return process.env.PODFERRY_TEMPORAL_BIN ?? path.join(labCacheDir(), 'temporal-v1.5.1', 'temporal');
}

export interface TestTemporal {
  address: string;
  namespace: string;
  stop(): Promise<void>;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function startTemporal(): Promise<TestTemporal> {
  const binary = temporalBinary();
  if (!existsSync(binary)) {
    throw new Error(`Temporal CLI not found at ${binary}: build it (make lab-tools) or set PODFERRY_TEMPORAL_BIN`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'podferry-temporal-'));
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    binary,
    [
      'server', 'start-dev', '--headless',
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--http-port', String(httpPort),
      '--metrics-port', String(metricsPort),
      '--db-filename', path.join(dir, 'temporal.db'),
      '--log-level', 'error',
      '--search-attribute', 'PodferrySourceCluster=Keyword',
      '--search-attribute', 'PodferryTargetCluster=Keyword',
      '--search-attribute', 'PodferryPhase=Keyword',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Never outlive the test process, even when a suite times out before its afterAll.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const deadline = Date.now() + 90_000; // a loaded 2-core machine can be slow to start it
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`Temporal dev server did not start on port ${port}: ${stderr.slice(-800)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${port}`,
    namespace: 'default',
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
