// Post-copy's target side. Before the freeze: a CRIU configuration file per container that makes its restore lazy
// (`lazy-pages`, and a work directory of its own, where the restore finds the daemon's socket); the checkpoint
// archive names it in the container's annotations (org.criu.config), which containerd hands to runc. Once the
// checkpoint image is here: the CRIU images from it, and `criu lazy-pages`, which takes the restored processes'
// page faults and pulls the missing pages from the source's page server (mutual TLS, the transfer identities),
// then the rest in the background, and exits once every page has arrived.
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeCriuConfig } from './criu-config.js';
import { lazyPageCount } from './criu-pagemap.js';
import { fileExists } from './archive-files.js';
import { explained, processEnd, processOutcome, startDetached, type ProcessEnd } from './detached-process.js';
import { writeTlsFiles, type PageServer } from './lazy-dump.js';
import type { NodeTlsMaterial } from './node-identity.js';
import type { PostCopyDir } from './postcopy-dirs.js';

const SOCKET = 'lazy-pages.socket';
/** The daemon's output, then its log. */
const DAEMON_LOGS = ['criu.out', 'lazy-pages.log'];
const POLL_MS = 20;
/** The page size of the nodes podferry runs on (x86-64, and arm64 with 4 KiB pages). */
const PAGE_BYTES = 4096;
/**
 * Writes the container's restore configuration (`config`: what org.criu.config names): lazy, with the daemon's
 * socket in the container's directory. The restored container keeps the annotation for life, so once the move has
 * ended the file is rewritten without them (settleLazyRestoreConfig).
 */
export async function writeLazyRestoreConfig(dir: PostCopyDir, config: PostCopyDir, hostRoot: string): Promise<void> {
  await writeCriuConfig(config.local, hostRoot, ['lazy-pages', `work-dir ${dir.host}`]);
}

/**
 * After the move, where the file was written (the target node): the restored container's later checkpoints read the
 * node's options alone; without a restored container the file goes.
 */
export async function settleLazyRestoreConfig(config: PostCopyDir, hostRoot: string, restored: boolean): Promise<void> {
  if (!(await fileExists(config.local))) return;
  if (restored) await writeCriuConfig(config.local, hostRoot, []);
  else await rm(config.local, { force: true });
}

export interface LazyPagesInput {
  dir: PostCopyDir;
  /** The checkpoint archive (the checkpoint image's layer), streamed by the runtime. */
  archive: NodeJS.ReadableStream;
  pageServer: PageServer;
  tls: NodeTlsMaterial;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Unpacks the CRIU images and starts the daemon; resolves once its socket is there. Returns the bytes it is to pull. */
export async function startLazyPages(input: LazyPagesInput): Promise<{ lazyPageBytes: number }> {
  const { dir } = input;
  const images = path.join(dir.local, 'images');
  await rm(images, { recursive: true, force: true });
  await rm(path.join(dir.local, SOCKET), { force: true });
  await rm(path.join(dir.local, 'exit-status'), { force: true });
  await mkdir(images, { mode: 0o700 });
  await untar(input.archive, images, input.signal);
  const lazyPageBytes = await lazyBytes(images);
  const tls = await writeTlsFiles(dir, input.tls);
  await startDetached({
    dir: dir.local,
    command: 'criu',
    args: [
      'lazy-pages', '--page-server', '--address', input.pageServer.host, '--port', String(input.pageServer.port), '-D', images, '-W', dir.local,
      '--tls', '--tls-cacert', tls.ca, '--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-no-cn-verify', '-o', 'lazy-pages.log',
    ],
    logFile: path.join(dir.local, 'criu.out'),
  });
  const deadline = Date.now() + input.timeoutMs;
  while (!(await fileExists(path.join(dir.local, SOCKET)))) {
    input.signal?.throwIfAborted();
    const end = await processEnd(dir.local);
    if (end.ended) throw new Error(await explained(dir.local, `criu lazy-pages ended before it listened (${end.status ?? 'killed'})`, DAEMON_LOGS, logsAt(dir)));
    if (Date.now() > deadline) throw new Error(await explained(dir.local, `criu lazy-pages did not listen within ${input.timeoutMs} ms`, DAEMON_LOGS, logsAt(dir)));
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return { lazyPageBytes };
}

/** How the daemon ended (status 0: every page arrived); a failure explained from its log. */
export function lazyPagesEnd(dir: PostCopyDir): Promise<ProcessEnd & { failure?: string }> {
  return processOutcome(dir.local, 'criu lazy-pages', DAEMON_LOGS, logsAt(dir));
}

function logsAt(dir: PostCopyDir): string {
  return `log: ${dir.host}/lazy-pages.log on the node`;
}

/**
 * Kills the restores still using the containers' directories (CRIU writes its restore log there): once the daemon has
 * ended, a restore waiting on it cannot complete, and would hold the pod's deletion until the kubelet's runtime
 * deadline, 2 min per container (measured in the fault matrix). One pass over the node's processes. Returns how many.
 */
export async function killStrandedRestores(dirs: PostCopyDir[]): Promise<number> {
  if (dirs.length === 0) return 0;
  let killed = 0;
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const file = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (!dirs.some((dir) => file.startsWith(`${dir.host}/`))) continue;
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
      break;
    }
  }
  return killed;
}

/** The archive's checkpoint/ directory, into `images` (what the daemon reads: the process tree and the page maps). */
async function untar(archive: NodeJS.ReadableStream, images: string, signal?: AbortSignal): Promise<void> {
  const child = spawn('tar', ['-x', '-C', images, '--strip-components=1', 'checkpoint'], { stdio: ['pipe', 'ignore', 'pipe'], signal });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
  // tar stops reading at the archive's end marker, before the padding after it: a broken pipe then is no failure.
  const [sendError, code] = await Promise.all([pipeline(archive, child.stdin).then(() => undefined, (err: Error) => err), exited]);
  if (code !== 0) {
    throw new Error(`unpacking the CRIU images of the checkpoint archive: tar exited with ${code}: ${stderr.trim() || sendError?.message || 'no message'}`);
  }
}

async function lazyBytes(images: string): Promise<number> {
  let pages = 0;
  for (const name of await readdir(images)) if (/^pagemap-\d+\.img$/.test(name)) pages += lazyPageCount(await readFile(path.join(images, name)));
  return pages * PAGE_BYTES;
}
