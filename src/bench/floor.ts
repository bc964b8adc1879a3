// Way 3, the floor: what CRIU itself costs on this machine. The same containers (the sample's counter with
// the same ballast, one port each) as standalone runc containers on the host, no Kubernetes, no image, no
// transfer: `runc checkpoint` of all of them at once, then `runc restore -d` of all of them at once.
// The containers share the host's network namespace (so the host reaches their ports, and CRIU needs no
// network namespace restore) and keep a pipe as stdio (runc hands the restorer's own stdio to a pipe fd).
import { spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { GapProbe } from './gap-probe.js';
import { observeWorkload, readCounters, type WorkloadObservation } from './workload.js';

const LAB_CACHE = process.env.PODFERRY_LAB_CACHE ?? path.join(homedir(), '.cache/podferry-lab');
export const RUNC = process.env.PODFERRY_BENCH_RUNC ?? path.join(LAB_CACHE, 'runc-v1.4.4/runc');
export const CRIU_DIR = process.env.PODFERRY_BENCH_CRIU_DIR ?? path.join(LAB_CACHE, 'criu-4.2');
const RUNC_ROOT = '/run/podferry-bench/runc';
/** On disk, like the kubelet's checkpoint archives. */
const WORK_DIR = '/var/lib/podferry-bench/floor';
export const FLOOR_FIRST_PORT = 18080;

export interface FloorRun extends WorkloadObservation {
  checkpointMs: number;
  restoreMs: number;
  /** checkpoint + restore wall time: the floor's downtime as the runtime sees it. */
  downtimeMs: number;
  perContainer: Array<{ checkpointMs: number; restoreMs: number; imageBytes: number }>;
  imageBytes: number;
}

function runcArgs(...args: string[]): string[] {
  return ['--root', RUNC_ROOT, ...args];
}

function envWithCriu(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${CRIU_DIR}:${process.env.PATH ?? ''}` };
}

/** Runs runc to completion; resolves with its wall time, rejects with its stderr. */
function runc(args: string[], stdio: 'ignore' | 'pipe' = 'pipe'): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(RUNC, runcArgs(...args), { env: envWithCriu(), stdio: ['ignore', stdio, stdio] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout?.resume();
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`runc ${args.join(' ')}: exit ${code}: ${stderr.trim().slice(-8000)}`)),
    );
  });
}

async function newestSampleBinary(): Promise<string> {
  if (process.env.PODFERRY_BENCH_SAMPLE_BIN) return process.env.PODFERRY_BENCH_SAMPLE_BIN;
  const dir = path.join(LAB_CACHE, 'sample-images');
  const candidates = await Promise.all(
    (await readdir(dir)).map(async (d) => {
      const file = path.join(dir, d, 'podferry-sample');
      return stat(file).then((s) => ({ file, mtime: s.mtimeMs }), () => undefined);
    }),
  );
  const newest = candidates.filter((c) => c !== undefined).sort((a, b) => b.mtime - a.mtime)[0];
  if (!newest) throw new Error(`no sample binary under ${dir}/*/podferry-sample: run 'make lab-up' once (it builds it)`);
  return newest.file;
}

/** An OCI bundle from `runc spec`, adapted: the counter with its ballast and port, host network, writable root. */
async function makeBundle(dir: string, binary: string, port: number, ballastMiB: number): Promise<void> {
  await mkdir(path.join(dir, 'rootfs'), { recursive: true });
  await cp(binary, path.join(dir, 'rootfs/podferry-sample'));
  await runcSpec(dir);
  const spec = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as {
    process: { args: string[]; env: string[]; terminal: boolean };
    root: { readonly: boolean };
    linux: { namespaces: Array<{ type: string }> };
  };
  spec.process.args = ['/podferry-sample', 'counter'];
  spec.process.env = [...spec.process.env, `PORT=${port}`, `BALLAST_MIB=${ballastMiB}`];
  spec.process.terminal = false;
  spec.root.readonly = false; // CRIU's restore needs a temporary directory in the root
  spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
}

function runcSpec(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(RUNC, ['spec'], { cwd: dir, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc spec in ${dir}: exit ${code}`))));
  });
}

/**
 * `runc run -d` with real pipes as the container's stdio: CRIU dumps pipes whose other end is outside (runc
 * hands the restorer's own stdio to them), but not the unix socketpairs Node uses for a child's stdio, so a
 * shell builds the pipes (`true |` for stdin, `| cat` for stdout and stderr) and reports runc's exit code
 * on fd 3. `cat` exits by itself once the checkpointed container is gone.
 */
function startContainer(id: string, bundle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = 'true | { "$@" 3>&-; echo "rc=$?" >&3; } 2>&1 | cat >/dev/null 3>&- &';
    const child = spawn('sh', ['-c', script, 'sh', RUNC, ...runcArgs('run', '-d', '--bundle', bundle, id)], {
      env: envWithCriu(),
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    let out = '';
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.on('data', (c: Buffer) => (out += c.toString()));
    fd3.on('end', () => {
      const rc = /rc=(\d+)/.exec(out)?.[1];
      if (rc === '0') resolve();
      else reject(new Error(`runc run ${id}: exit ${rc ?? '?'}`));
    });
    child.on('error', reject);
  });
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await du(p) : (await stat(p)).size;
  }
  return total;
}

async function cleanup(ids: string[], dir: string): Promise<void> {
  await Promise.all(ids.map((id) => runc(['delete', '-f', id]).catch(() => undefined)));
  await rm(dir, { recursive: true, force: true });
}

/** Removes every container and directory an interrupted earlier run may have left (all of them are the bench's own). */
export async function sweepFloor(): Promise<void> {
  const listed = await new Promise<string>((resolve) => {
    const child = spawn(RUNC, runcArgs('list', '-q'), { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', () => resolve(''));
    child.on('exit', () => resolve(out));
  });
  const ids = listed.split('\n').filter((id) => id.startsWith('podferry-bench-'));
  await Promise.all(ids.map((id) => runc(['delete', '-f', id]).catch(() => undefined)));
  await rm(WORK_DIR, { recursive: true, force: true });
}

export async function runFloor(containers: number, ballastMiB: number, runTag: string): Promise<FloorRun> {
  const binary = await newestSampleBinary();
  const dir = path.join(WORK_DIR, runTag);
  const ids = Array.from({ length: containers }, (_, i) => `podferry-bench-${runTag}-c${i}`);
  await mkdir(RUNC_ROOT, { recursive: true });
  try {
    await Promise.all(ids.map((_, i) => makeBundle(path.join(dir, `bundle-${i}`), binary, FLOOR_FIRST_PORT + i, ballastMiB)));
    await Promise.all(ids.map((id, i) => startContainer(id, path.join(dir, `bundle-${i}`))));
    const before = await readCounters('127.0.0.1', containers, FLOOR_FIRST_PORT, 120); // the ballast fills first
    const probe = new GapProbe(() => ['127.0.0.1'], ids.map((_, i) => FLOOR_FIRST_PORT + i));
    probe.start();
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    const checkpoints = await Promise.all(ids.map((id, i) => runc(['checkpoint', '--image-path', path.join(dir, `image-${i}`), id])));
    const t1 = performance.now();
    const restores = await Promise.all(
      ids.map((id, i) => runc(['restore', '-d', '--image-path', path.join(dir, `image-${i}`), '--bundle', path.join(dir, `bundle-${i}`), id], 'ignore')),
    );
    const t2 = performance.now();

    const after = await readCounters('127.0.0.1', containers, FLOOR_FIRST_PORT);
    await new Promise((r) => setTimeout(r, 100));
    const client = await probe.stop();
    const imageSizes = await Promise.all(ids.map((_, i) => du(path.join(dir, `image-${i}`))));
    return {
      checkpointMs: t1 - t0,
      restoreMs: t2 - t1,
      downtimeMs: t2 - t0,
      perContainer: ids.map((_, i) => ({ checkpointMs: checkpoints[i]!, restoreMs: restores[i]!, imageBytes: imageSizes[i]! })),
      imageBytes: imageSizes.reduce((a, b) => a + b, 0),
      ...observeWorkload(before, after, client),
    };
  } finally {
    if (!process.env.PODFERRY_BENCH_KEEP) await cleanup(ids, dir);
  }
}
