// Node-local activities, run by the node worker on the node that holds the pod: freezing and thawing the
// pod's cgroup, and the checkpoint archives the kubelet wrote to the node's disk.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { findPodCgroup, freeze, freezerState, podPids, thaw } from '../node/pod-cgroup.js';

export interface NodeActivityDeps {
  /** Where cgroup filesystems are mounted (/sys/fs/cgroup). */
  cgroupFsRoot: string;
  /** Prefix for host paths reported by the kubelet ("/" for a host process, "/host" in a DaemonSet). */
  hostRoot: string;
  nodeName: string;
}

export interface DeleteArchivesInput {
  /** Archive paths as the kubelet reported them. */
  paths: string[];
  /** Also delete any other archive of these containers (e.g. from a retried checkpoint whose answer was lost). */
  pod?: { namespace: string; name: string; containers: string[]; checkpointDir?: string };
}

export function createNodeActivities(deps: NodeActivityDeps) {
  const onHost = (p: string) => path.join(deps.hostRoot, p);

  async function podCgroupOrFail(podUid: string) {
    const cgroup = await findPodCgroup(deps.cgroupFsRoot, podUid);
    if (!cgroup) {
      throw ApplicationFailure.nonRetryable(
        `no cgroup for pod uid ${podUid} under ${deps.cgroupFsRoot} on node ${deps.nodeName}: is this node worker running on the pod's node, ` +
          'with the host cgroup filesystem at cgroupFsRoot?',
        'PodCgroupNotFound',
      );
    }
    return cgroup;
  }

  /** Stops every process of the pod at one instant. The downtime clock starts when this returns. */
  async function freezePod(input: { podUid: string }): Promise<{ frozenAt: number; cgroup: string; version: string }> {
    const cgroup = await podCgroupOrFail(input.podUid);
    await freeze(cgroup);
    return { frozenAt: Date.now(), cgroup: cgroup.dir, version: cgroup.version };
  }

  /** Lets the pod continue exactly where it stopped. A pod that no longer exists needs no thawing. */
  async function thawPod(input: { podUid: string }): Promise<{ thawed: boolean }> {
    const cgroup = await findPodCgroup(deps.cgroupFsRoot, input.podUid);
    if (!cgroup) return { thawed: false };
    await thaw(cgroup);
    return { thawed: true };
  }

  /**
   * After the commit point: kill the frozen source's processes, then thaw, so they die without running
   * another instruction (a pending SIGKILL is acted on before returning to user space). A frozen task cannot
   * exit, so without this the kubelet would wait forever for the deleted source pod to stop.
   */
  async function killFrozenPod(input: { podUid: string }): Promise<{ killed: number }> {
    const cgroup = await findPodCgroup(deps.cgroupFsRoot, input.podUid);
    if (!cgroup) return { killed: 0 };
    const pids = await podPids(cgroup);
    let killed = 0;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
    if ((await freezerState(cgroup).catch(() => 'THAWED')) !== 'THAWED') await thaw(cgroup).catch(() => undefined);
    return { killed };
  }

  async function archiveSize(input: { path: string }): Promise<number> {
    return (await stat(onHost(input.path))).size;
  }

  /** Deletes archives (checkpoints hold the memory of the workload: treat them as secrets). Idempotent. */
  async function deleteArchives(input: DeleteArchivesInput): Promise<{ deleted: string[] }> {
    const targets = new Set(input.paths);
    const dirs = new Set(input.paths.map((p) => path.dirname(p)));
    if (input.pod?.checkpointDir) dirs.add(input.pod.checkpointDir);
    if (input.pod) {
      // Kubelet naming: checkpoint-<pod>_<namespace>-<container>-<timestamp>.tar
      const prefixes = input.pod.containers.map((c) => `checkpoint-${input.pod!.name}_${input.pod!.namespace}-${c}-`);
      for (const dir of dirs) {
        for (const entry of await readdir(onHost(dir)).catch(() => [] as string[])) {
          if (entry.endsWith('.tar') && prefixes.some((prefix) => entry.startsWith(prefix))) targets.add(path.join(dir, entry));
        }
      }
    }
    const deleted: string[] = [];
    for (const target of targets) {
      try {
        await stat(onHost(target));
      } catch {
        continue;
      }
      await rm(onHost(target), { force: true });
      await rm(onHost(`${target}.podferry-sha256`), { force: true }); // digest memo of the registry push
      deleted.push(target);
    }
    return { deleted };
  }

  return { freezePod, thawPod, killFrozenPod, archiveSize, deleteArchives };
}

export type NodeActivities = ReturnType<typeof createNodeActivities>;
