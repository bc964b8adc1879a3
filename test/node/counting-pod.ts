// A pod-shaped cgroup tree on this machine's real freezer (v1 or v2), each container a process that keeps
// counting into a file: a frozen pod's count stands still, a thawed one goes on from the same value.
// Shared by the node tests; they need root (skipped otherwise).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Context, asyncLocalStorage } from '@temporalio/activity';
import type { ContainerdTasks } from '../../src/node/containerd-tasks.js';

const isRoot = process.getuid?.() === 0;
const FREEZER = '/sys/fs/cgroup/freezer';
const UNIFIED = '/sys/fs/cgroup/unified'; // cgroup v2 beside the v1 hierarchies (hybrid mode) on the lab machines

export interface FreezerHierarchy {
  version: 'v1' | 'v2';
  /** Where the test's cgroups go. */
  hierarchy: string;
  /** What the node worker is configured with (for v1 the parent of freezer/, for v2 the unified mount itself). */
  cgroupFsRoot: string;
  available: boolean;
}

export const HIERARCHIES: FreezerHierarchy[] = [
  { version: 'v1', hierarchy: FREEZER, cgroupFsRoot: '/sys/fs/cgroup', available: isRoot && existsSync(path.join(FREEZER, 'cgroup.procs')) },
  { version: 'v2', hierarchy: UNIFIED, cgroupFsRoot: UNIFIED, available: isRoot && existsSync(path.join(UNIFIED, 'cgroup.controllers')) },
];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks the kernel to freeze or thaw one cgroup (what the runtime or an operator would do). */
export function requestFreezer(h: FreezerHierarchy, dir: string, frozen: boolean): void {
  if (h.version === 'v1') writeFileSync(path.join(dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
  else writeFileSync(path.join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
}

export interface CountingPod {
  uid: string;
  podDir: string;
  /** Container name → its cgroup directory. */
  containerDirs: Record<string, string>;
  /** The count of the pod's (first) container. */
  count(): number;
  /** Whether the count moves within `ms`. */
  runs(ms?: number): Promise<boolean>;
  /** The kernel's word on whether the cgroup is frozen (a frozen parent freezes it too). */
  frozen(dir: string): boolean;
  /** Whether the cgroup itself asks to be frozen. */
  selfFrozen(dir: string): boolean;
  worker: ChildProcess;
  /** Kills what is left (thawing first, or it cannot die) and removes the cgroups. */
  remove(): Promise<void>;
}

export async function startCountingPod(h: FreezerHierarchy, containers = ['container-1']): Promise<CountingPod> {
  const uid = randomUUID();
  const root = path.join(h.hierarchy, `podferry-test-${h.version}-${process.pid}-${uid.slice(0, 8)}`);
  const podDir = path.join(root, 'kubepods', 'besteffort', `pod${uid}`);
  const containerDirs = Object.fromEntries(containers.map((c) => [c, path.join(podDir, c)]));
  const counterFile = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-freezer-')), 'count');
  const workers: ChildProcess[] = [];
  for (const [i, dir] of Object.values(containerDirs).entries()) {
    mkdirSync(dir, { recursive: true });
    const file = i === 0 ? counterFile : `${counterFile}-${i}`;
    // A "container" that counts as fast as it can write.
    const worker = spawn('sh', ['-c', `i=0; while :; do i=$((i+1)); echo $i > ${file}.tmp && mv ${file}.tmp ${file}; done`], { stdio: 'ignore' });
    writeFileSync(path.join(dir, 'cgroup.procs'), String(worker.pid));
    workers.push(worker);
  }
  const count = () => Number(readFileSync(counterFile, 'utf8') || '0');
  await sleep(200);
  return {
    uid,
    podDir,
    containerDirs,
    count,
    async runs(ms = 200) {
      const before = count();
      await sleep(ms);
      return count() !== before;
    },
    frozen: (dir) =>
      h.version === 'v1'
        ? readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() === 'FROZEN'
        : /^frozen 1$/m.test(readFileSync(path.join(dir, 'cgroup.events'), 'utf8')),
    selfFrozen: (dir) =>
      h.version === 'v1'
        ? readFileSync(path.join(dir, 'freezer.self_freezing'), 'utf8').trim() === '1'
        : readFileSync(path.join(dir, 'cgroup.freeze'), 'utf8').trim() === '1',
    worker: workers[0]!,
    async remove() {
      for (const dir of [podDir, ...Object.values(containerDirs)]) {
        if (existsSync(dir)) requestFreezer(h, dir, false);
      }
      for (const worker of workers) {
        if (worker.exitCode === null && worker.signalCode === null) {
          const exited = new Promise((r) => worker.once('exit', r));
          worker.kill('SIGKILL');
          await exited;
        }
      }
      for (const dir of [...Object.values(containerDirs), podDir, path.dirname(podDir), path.dirname(path.dirname(podDir)), root]) {
        for (let i = 0; i < 50 && existsSync(dir); i++) {
          try {
            rmdirSync(dir);
          } catch {
            await sleep(50); // tasks leave a cgroup asynchronously
          }
        }
      }
    },
  };
}

/**
 * Runs `fn` as if inside a Temporal activity with this attempt number and cancellation signal: a stand-in
 * context (the real one exists only in a worker), enough for what the node activities read from it.
 */
export function asActivityAttempt<T>(attempt: number, fn: () => Promise<T>, cancellation: AbortSignal = new AbortController().signal): Promise<T> {
  const standIn = { info: { attempt }, cancellationSignal: cancellation, heartbeat: () => undefined };
  return asyncLocalStorage.run(standIn as unknown as Context, fn);
}

/**
 * A stand-in for the node's containerd: pausing a task freezes its container cgroup, as containerd does.
 * `holdNextPause()` keeps the next pause waiting until the test lets it go (or fail), to let another call
 * overtake it.
 */
export function standInContainerd(pod: () => CountingPod, h: FreezerHierarchy) {
  const write = (id: string, frozen: boolean) => {
    const dir = pod().containerDirs[id];
    if (!dir) throw new Error(`stand-in containerd: no task ${id}`);
    requestFreezer(h, dir, frozen);
  };
  let held: { reached: () => void; outcome: Promise<Error | undefined> } | undefined;
  const tasks = {
    async pause(id: string) {
      if (held) {
        const { reached, outcome } = held;
        held = undefined;
        reached();
        const failure = await outcome;
        if (failure) throw failure;
      }
      write(id, true);
      await sleep(20);
    },
    async resume(id: string) {
      write(id, false);
    },
  };
  return {
    tasks: tasks as unknown as ContainerdTasks,
    /** Holds the next pause; `reached` resolves when a call is waiting in it, `release` lets it continue or fail. */
    holdNextPause() {
      let reached!: () => void;
      let release!: (failure?: Error) => void;
      const reachedPromise = new Promise<void>((r) => (reached = r));
      held = { reached, outcome: new Promise<Error | undefined>((r) => (release = r)) };
      return { reached: reachedPromise, release };
    },
  };
}
