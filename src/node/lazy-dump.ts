// Post-copy's source side: `runc checkpoint --lazy-pages` of a paused container, run by the node worker against the
// runtime's own runc state (containerd's CRI checkpoint cannot be lazy). CRIU writes every image but the lazy memory,
// says so on runc's status fd, then serves the memory from its page server until the target's lazy-pages daemon
// has pulled every page; only then does runc return. The container stays paused throughout (CRIU puts back the
// freezer state it found, and --leave-running keeps the processes), so the pod's freeze decides what happens next.
// The page server listens on the node's transfer address only (CRIU_CONFIG_FILE: runc's RPC drops the address of
// a lazy dump's page server, which would then listen on every address) and speaks mutual TLS with the node's
// transfer identity: the page stream is the workload's memory.
import { constants } from 'node:fs';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { explained, killDetached, processOutcome, startDetached, type ProcessEnd } from './detached-process.js';
import { writeCriuConfig } from './criu-config.js';
import type { NodeTlsMaterial } from './node-identity.js';
import type { PostCopyDir } from './postcopy-dirs.js';

const run = promisify(execFile);
const POLL_MS = 20;
/** runc's output, then CRIU's log of the dump. */
const DUMP_LOGS = ['runc.log', 'dump.log'];

export interface PageServer {
  host: string;
  port: number;
}

export interface LazyDumpInput {
  runc: { binary: string; root: string };
  containerId: string;
  dir: PostCopyDir;
  /** The address the page server listens on (the node's transfer address); its port is chosen here. */
  host: string;
  tls: NodeTlsMaterial;
  /** Where the host's files are, for the node's CRIU options (runc.conf). */
  hostRoot: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export class LazyDumpFailed extends Error {
  override name = 'LazyDumpFailed';
}

/** Where a lazy dump's CRIU images are, in its directory, as this worker (and the runc it runs) sees it. */
export function imagesOf(dir: PostCopyDir): string {
  return path.join(dir.local, 'images');
}

/** Starts the lazy dump; resolves once every image is written and the page server listens. */
export async function startLazyDump(input: LazyDumpInput): Promise<PageServer> {
  const { dir } = input;
  await stopLazyDump(dir); // an earlier attempt's dump holds the container: CRIU dumps a process once at a time
  const images = imagesOf(dir);
  await rm(images, { recursive: true, force: true });
  await mkdir(images, { mode: 0o700 });
  await rm(path.join(dir.local, 'exit-status'), { force: true });
  const pageServer = { host: input.host, port: await freePort(input.host) };
  const tls = await writeTlsFiles(dir, input.tls);
  const config = path.join(dir.local, 'criu.conf');
  // Parsed when CRIU starts; a restored container's own file (org.criu.config), parsed after it, holds the same node options.
  await writeCriuConfig(config, input.hostRoot, [`address ${pageServer.host}`, 'tls', `tls-cacert ${tls.ca}`, `tls-cert ${tls.cert}`, `tls-key ${tls.key}`, 'tls-no-cn-verify']);

  // runc's --status-fd must be write-only: a FIFO, read here without blocking (EOF once runc and its shell are gone).
  const fifo = path.join(dir.local, 'status');
  await rm(fifo, { force: true });
  await run('mkfifo', ['-m', '0600', fifo]);
  const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const writer = await open(fifo, constants.O_WRONLY);
    try {
      await startDetached({
        dir: dir.local,
        command: input.runc.binary,
        args: [
          '--root', input.runc.root, 'checkpoint', '--lazy-pages', '--page-server', `${pageServer.host}:${pageServer.port}`, '--status-fd', '3',
          '--image-path', images, '--work-path', dir.local, '--leave-running', '--file-locks', input.containerId,
        ],
        env: { ...process.env, CRIU_CONFIG_FILE: config },
        logFile: path.join(dir.local, 'runc.log'),
        extraFds: [writer.fd],
      });
    } finally {
      await writer.close();
    }
    await untilReady(reader, dir, input);
  } finally {
    await reader.close();
    await rm(fifo, { force: true });
  }
  return pageServer;
}

/** How the lazy dump ended; a failure explained from runc's and CRIU's logs. */
export function lazyDumpEnd(dir: PostCopyDir): Promise<ProcessEnd & { failure?: string }> {
  return processOutcome(dir.local, 'runc', DUMP_LOGS, logsAt(dir));
}

/** Stops a lazy dump still serving pages (CRIU then lets the processes go, in the freezer state it found). */
async function stopLazyDump(dir: PostCopyDir): Promise<void> {
  await killDetached(dir.local);
}

async function untilReady(reader: Awaited<ReturnType<typeof open>>, dir: PostCopyDir, input: LazyDumpInput): Promise<void> {
  const deadline = Date.now() + input.timeoutMs;
  const byte = Buffer.alloc(1);
  for (;;) {
    input.signal?.throwIfAborted();
    try {
      const { bytesRead } = await reader.read(byte, 0, 1, null);
      if (bytesRead === 1) return; // CRIU's "status-ready": images written, page server listening
      throw new LazyDumpFailed(await explain(dir, 'runc ended before its page server was ready'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
    if (Date.now() > deadline) {
      await stopLazyDump(dir);
      throw new LazyDumpFailed(await explain(dir, `the lazy dump was not ready within ${input.timeoutMs} ms (stopped)`));
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** What went wrong, with the error lines of runc's output and CRIU's dump.log. */
function explain(dir: PostCopyDir, what: string): Promise<string> {
  return explained(dir.local, what, DUMP_LOGS, logsAt(dir));
}

function logsAt(dir: PostCopyDir): string {
  return `logs: ${dir.host}/runc.log and dump.log on the node`;
}

/** The node's TLS material as files the CRIU this worker runs reads (0600, removed with the directory). */
export async function writeTlsFiles(dir: PostCopyDir, tls: NodeTlsMaterial): Promise<{ ca: string; cert: string; key: string }> {
  const files = { ca: path.join(dir.local, 'tls-ca.pem'), cert: path.join(dir.local, 'tls-cert.pem'), key: path.join(dir.local, 'tls-key.pem') };
  await writeFile(files.ca, tls.ca, { mode: 0o600 });
  await writeFile(files.cert, tls.cert, { mode: 0o600 });
  await writeFile(files.key, tls.key, { mode: 0o600 });
  return files;
}

/** A port free on `host` now (CRIU binds it a moment later). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error(`no free port on ${host}`))));
    });
  });
}
