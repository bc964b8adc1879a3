// A pod containerd holds paused while its cgroups run, on the lab's real containerd: what a stalled containerd
// leaves behind when it carries out a pause after the freeze gave up and thawed the pod itself (the fault
// matrix's "source containerd stalled" cell). The shim then refuses every resume ("container not paused"),
// so a thaw failed until its retries ran out. The thaw must set containerd right, and the pod must stay
// migratable: containerd pauses and resumes it again afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createNodeActivities } from '../../src/activities/node.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { deploySample } from '../../src/lab/sample-workload.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { ContainerdTasks, PausedOnlyInContainerd } from '../../src/node/containerd-tasks.js';
import { FrozenPodRecords } from '../../src/node/frozen-pods.js';
import { childCgroups, containerCgroupNames, findPodCgroup, freezerState, thaw } from '../../src/node/pod-cgroup.js';
import { parseRuntimeId } from '../../src/node/runtime-id.js';

const clusters = new Clusters(loadConfig().clusters);
const NAME = 'pause-drift';
const stateDir = mkdtempSync(path.join(tmpdir(), 'podferry-drift-'));
let containerd: ContainerdTasks;

beforeAll(() => {
  containerd = new ContainerdTasks({ address: '/run/podferry-lab/lab-a-node/containerd.sock' });
});

afterAll(async () => {
  containerd.close();
  rmSync(stateDir, { recursive: true, force: true });
  await clusters.core('lab-a').deleteNamespacedPod({ namespace: 'default', name: NAME, gracePeriodSeconds: 0 }).catch(() => undefined);
});

describe('a pod containerd holds paused while its cgroup runs (lab-a-node, real containerd)', () => {
  test('thawPod sets containerd right; containerd pauses and resumes the pod again afterwards', async () => {
    const pod = await deploySample(clusters, 'lab-a', { name: NAME, ballastMiB: 1 });
    const uid = pod.metadata!.uid!;
    const runtimeId = pod.status!.containerStatuses!.find((s) => s.name === 'counter')!.containerID!;
    const { id } = parseRuntimeId(runtimeId);
    const podCgroup = (await findPodCgroup('/sys/fs/cgroup', uid))!;
    const cgroup = (await childCgroups(podCgroup)).find((c) => containerCgroupNames(id).includes(path.basename(c.dir)))!;
    expect(cgroup).toBeDefined();

    // The drift: containerd pauses the task, then the cgroup is thawed behind its back.
    await containerd.pause(id);
    expect(await freezerState(cgroup)).toBe('FROZEN');
    await thaw(cgroup);
    await expect(containerd.resume(id)).rejects.toBeInstanceOf(PausedOnlyInContainerd);

    const activities = createNodeActivities({
      cgroupFsRoot: '/sys/fs/cgroup',
      archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent' }),
      nodeName: 'lab-a-node',
      containerd,
      frozenPods: new FrozenPodRecords(stateDir),
    });
    expect(await activities.thawPod({ podUid: uid, containerIds: [runtimeId], migrationId: 'drift-test', fence: 1 })).toEqual({ thawed: true });
    expect(await freezerState(cgroup)).toBe('THAWED');

    // containerd agrees again: a pause freezes the cgroup, a resume thaws it.
    await containerd.pause(id);
    expect(await freezerState(cgroup)).toBe('FROZEN');
    await containerd.resume(id);
    expect(await freezerState(cgroup)).toBe('THAWED');
  }, 120_000);
});
