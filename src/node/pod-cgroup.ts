// Finds a pod's cgroup on this node and freezes or thaws it. Freezing the pod cgroup stops every process of
// every container at one instant (the kernel freezer, the same mechanism `runc pause` and CRIU use), so
// the checkpoints of all containers describe one consistent moment and nothing runs after it.
//
// CRIU must be able to work with the frozen containers: it seizes the tasks of a frozen *container* cgroup,
// then thaws that cgroup so the tasks enter ptrace-stop (they run no user code), dumps, and restores the
// cgroup's original freezer state. A frozen *parent* would keep them frozen and CRIU times out ("Unseizable
// non-zombie ... state D", seen on the lab). So the node activity hands the pod freeze over to the
// containers: freeze the pod cgroup (one instant), pause every container (already frozen: no task runs),
// then thaw the pod cgroup; the containers stay frozen by their own state (src/activities/node.ts).
// Supports cgroup v1 (freezer hierarchy, `freezer.state`) and v2 (`cgroup.freeze`), and both the cgroupfs
// (`pod<uid>`) and systemd (`kubepods-<qos>-pod<uid_with_underscores>.slice`) naming of pod cgroups.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type CgroupVersion = 'v1' | 'v2';

export interface PodCgroup {
  version: CgroupVersion;
  /** Absolute path of the pod's cgroup directory (in the freezer hierarchy for v1). */
  dir: string;
}

/** Where to look: v1 if the freezer hierarchy is mounted, else the unified (v2) hierarchy. */
export function freezerHierarchy(cgroupFsRoot: string): { version: CgroupVersion; root: string } {
  const v1 = path.join(cgroupFsRoot, 'freezer');
  if (existsSync(path.join(v1, 'freezer.state')) || existsSync(path.join(v1, 'cgroup.procs'))) return { version: 'v1', root: v1 };
  return { version: 'v2', root: cgroupFsRoot };
}

export function podCgroupNames(podUid: string): string[] {
  const underscored = podUid.replace(/-/g, '_');
  return [`pod${podUid}`, `pod${underscored}.slice`].concat(
    ['kubepods', 'kubepods-besteffort', 'kubepods-burstable'].map((prefix) => `${prefix}-pod${underscored}.slice`),
  );
}

/**
 * Breadth-first search, bounded in depth and only into kubepods-like directories after the first levels,
 * because the hierarchy can hold thousands of cgroups and the pod dir is at most a few levels down
 * (e.g. <root>/<cgroupRoot>/kubepods/burstable/pod<uid>).
 */
export async function findPodCgroup(cgroupFsRoot: string, podUid: string, maxDepth = 6): Promise<PodCgroup | undefined> {
  const { version, root } = freezerHierarchy(cgroupFsRoot);
  const wanted = new Set(podCgroupNames(podUid));
  let frontier = [root];
  for (let depth = 0; depth < maxDepth && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of frontier) {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        if (wanted.has(entry.name)) return { version, dir: path.join(dir, entry.name) };
        // Below the second level only descend into what can contain pods.
        if (depth < 2 || /kubepods|besteffort|burstable|guaranteed/.test(entry.name)) next.push(path.join(dir, entry.name));
      }
    }
    frontier = next;
  }
  return undefined;
}

export async function freezerState(cgroup: PodCgroup): Promise<'FROZEN' | 'FREEZING' | 'THAWED'> {
  if (cgroup.version === 'v1') {
    return (await readFile(path.join(cgroup.dir, 'freezer.state'), 'utf8')).trim() as 'FROZEN' | 'FREEZING' | 'THAWED';
  }
  const events = await readFile(path.join(cgroup.dir, 'cgroup.events'), 'utf8');
  const frozen = /^frozen 1$/m.test(events);
  const requested = (await readFile(path.join(cgroup.dir, 'cgroup.freeze'), 'utf8')).trim() === '1';
  return frozen ? 'FROZEN' : requested ? 'FREEZING' : 'THAWED';
}

async function request(cgroup: PodCgroup, frozen: boolean): Promise<void> {
  if (cgroup.version === 'v1') await writeFile(path.join(cgroup.dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
  else await writeFile(path.join(cgroup.dir, 'cgroup.freeze'), frozen ? '1' : '0');
}

/** The container cgroups (and the sandbox's) directly under the pod cgroup. */
/** CRI-O (cgroupfs, conmon_cgroup "pod") puts each container's monitor beside it: crio-conmon-<id>. */
const CRIO_MONITOR_PREFIX = 'crio-conmon-';

/**
 * The names a container's own cgroup has under its pod's, by runtime and cgroup driver: exact names, never a
 * substring (crio-conmon-<id> contains the id too, and may sort first).
 */
export function containerCgroupNames(id: string): string[] {
  return [id, `crio-${id}`, `crio-${id}.scope`, `cri-containerd-${id}.scope`, `docker-${id}.scope`];
}

export async function childCgroups(cgroup: PodCgroup): Promise<PodCgroup[]> {
  const entries = await readdir(cgroup.dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => ({ version: cgroup.version, dir: path.join(cgroup.dir, e.name) }));
}

/** Freezes and waits until the kernel reports every task frozen. Idempotent. */
export async function freeze(cgroup: PodCgroup, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await request(cgroup, true); // v1: re-writing FROZEN retries tasks that were busy the last time
    if ((await freezerState(cgroup)) === 'FROZEN') return;
    if (Date.now() > deadline) {
      await request(cgroup, false); // do not leave a half-frozen pod behind
      throw new Error(`cgroup ${cgroup.dir} did not reach FROZEN within ${timeoutMs} ms (tasks in uninterruptible sleep?); thawed it again`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Thaws. Idempotent. */
export async function thaw(cgroup: PodCgroup): Promise<void> {
  await request(cgroup, false);
}

/** PIDs of every task in the pod cgroup and its children (the containers). */
export async function podPids(cgroup: PodCgroup): Promise<number[]> {
  const pids: number[] = [];
  async function walk(dir: string) {
    const procs = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of procs.split('\n')) if (line.trim()) pids.push(Number(line));
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      // CRI-O's container monitor (conmon) must see its container die to report the exit: spared.
      if (entry.isDirectory() && !entry.name.startsWith(CRIO_MONITOR_PREFIX)) await walk(path.join(dir, entry.name));
    }
  }
  await walk(cgroup.dir);
  return pids;
}
