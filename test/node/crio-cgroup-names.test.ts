// CRI-O with cgroupfs and conmon_cgroup = "pod" puts two cgroups per container under the pod's: crio-<id> (the
// container) and crio-conmon-<id> (its monitor, conmon). The node worker finds a container's cgroup by a substring
// of its name, first match in readdir order (sorted): for an id starting with d, e or f, crio-conmon-<id> comes
// first. Reproduced on lab-c (docs/crio-source.md): freezePod froze conmon and the container ran on. These keep it
// fixed on this machine's real freezer, with stand-ins for the container and conmon: containerCgroup matches
// `crio-<id>` exactly and the kill spares `crio-conmon-*`. Needs root.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from '@jest/globals';
import { createNodeActivities } from '../../src/activities/node.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { FrozenPodRecords } from '../../src/node/frozen-pods.js';
import { HIERARCHIES, startCountingPod, type CountingPod } from './counting-pod.js';

const h = HIERARCHIES.find((candidate) => candidate.available);
const id = `e6c518cf633b${'0'.repeat(52)}`; // starts with e: crio-conmon-e… sorts before crio-e…

(h ? describe : describe.skip)(`CRI-O's cgroup names (real cgroup ${h?.version} freezer)`, () => {
  let pod: CountingPod | undefined;
  afterEach(async () => {
    await pod?.remove();
  });

  async function setUp() {
    // The first cgroup named is the one whose count pod.runs() watches: the container.
    pod = await startCountingPod(h!, [`crio-${id}`, `crio-conmon-${id}`]);
    const activities = createNodeActivities({
      cgroupFsRoot: h!.cgroupFsRoot,
      archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent' }),
      nodeName: 'test-node',
      frozenPods: new FrozenPodRecords(mkdtempSync(path.join(tmpdir(), 'podferry-state-'))),
    });
    const call = { podUid: pod.uid, containerIds: [`cri-o://${id}`], migrationId: 'm1' };
    return { pod, activities, call };
  }

  test('freezePod freezes crio-<id>, not crio-conmon-<id>: the container does not run after the hand-over', async () => {
    const { pod, activities, call } = await setUp();
    await activities.freezePod({ ...call, fence: 1, sweepAfterMs: 60_000 });
    expect(pod.selfFrozen(pod.containerDirs[`crio-${id}`]!)).toBe(true);
    expect(await pod.runs()).toBe(false);
  });

  test('killFrozenPod spares conmon', async () => {
    const { pod, activities, call } = await setUp();
    await activities.freezePod({ ...call, fence: 1, sweepAfterMs: 60_000 });
    const conmon = pod.containerDirs[`crio-conmon-${id}`]!;
    // The stand-in's shell: the task of that cgroup this test process started (its loop forks short-lived children).
    const parentOf = (pid: string) => {
      try {
        return /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      } catch {
        return undefined; // gone meanwhile
      }
    };
    const shells = () =>
      readFileSync(path.join(conmon, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((pid) => pid && parentOf(pid) === String(process.pid));
    const before = shells();
    expect(before.length).toBe(1);
    await activities.killFrozenPod({ ...call, fence: 2 });
    await new Promise((r) => setTimeout(r, 200));
    expect(shells()).toEqual(before);
  });
});
