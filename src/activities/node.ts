// Node-local activities, run by the node worker on the node that holds the pod: freezing and thawing the
// pod's cgroup, and the checkpoint archives the kubelet wrote to the node's disk.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { digestMemoPath } from '../node/archive-digest.js';
import type { ContainerdTasks } from '../node/containerd-tasks.js';
import type { CriImages } from '../node/cri-images.js';
import { childCgroups, findPodCgroup, freeze, freezerState, podPids, thaw, type PodCgroup } from '../node/pod-cgroup.js';

export interface NodeActivityDeps {
  /** Where cgroup filesystems are mounted (/sys/fs/cgroup). */
  cgroupFsRoot: string;
  /** Prefix for host paths reported by the kubelet ("/" for a host process, "/host" in a DaemonSet). */
  hostRoot: string;
  nodeName: string;
  /** The kubelet's checkpoint directory (host path), always scanned by deleteArchives. */
  checkpointDir?: string;
  /** The node's containerd (tasks are paused through it when their id says containerd://). */
  containerd?: ContainerdTasks;
  /** The node's CRI image service (to pre-pull base images on a target node). */
  criImages?: CriImages;
}

export interface PodContainers {
  podUid: string;
  /** Runtime container ids as the kubelet reports them (containerd://<id>, cri-o://<id>). */
  containerIds: string[];
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

  const parseId = (runtimeId: string) => {
    const match = /^([a-z0-9-]+):\/\/(.+)$/.exec(runtimeId);
    return match ? { runtime: match[1]!, id: match[2]! } : { runtime: '', id: runtimeId };
  };

  async function containerCgroup(pod: PodCgroup, id: string): Promise<PodCgroup> {
    const child = (await childCgroups(pod)).find((c) => path.basename(c.dir).includes(id));
    if (!child) throw ApplicationFailure.nonRetryable(`no cgroup for container ${id} under ${pod.dir}`, 'PodCgroupNotFound');
    return child;
  }

  /**
   * Stops every process of the pod at one instant, then hands the freeze over to the containers, so that
   * the runtime's checkpoint (CRIU) can work with them and leaves them frozen afterwards: freeze the pod
   * cgroup; pause every container (through containerd when it runs them, else by freezing the container's
   * cgroup); thaw the pod cgroup. (CRIU cannot seize tasks kept frozen by a parent cgroup, and containerd
   * resumes a task after its checkpoint unless containerd itself paused it.) The downtime clock starts at
   * the pod freeze.
   */
  async function freezePod(input: PodContainers): Promise<{ frozenAt: number; cgroup: string; version: string }> {
    if (!deps.containerd && input.containerIds.some((id) => parseId(id).runtime === 'containerd')) {
      // Freezing containerd's containers behind its back makes its checkpoint fail ("pause failed").
      throw ApplicationFailure.nonRetryable(
        `pod uid ${input.podUid} runs on containerd, but the node worker of ${deps.nodeName} has no containerd socket: ` +
          'set node.containerd.address (or PODFERRY_CONTAINERD_ADDRESS) in its configuration',
        'NodeWorkerMisconfigured',
      );
    }
    const cgroup = await podCgroupOrFail(input.podUid);
    await freeze(cgroup);
    const frozenAt = Date.now();
    try {
      for (const runtimeId of input.containerIds) {
        const { runtime, id } = parseId(runtimeId);
        if (runtime === 'containerd' && deps.containerd) await deps.containerd.pause(id);
        else await freeze(await containerCgroup(cgroup, id));
      }
      await thaw(cgroup);
      for (const runtimeId of input.containerIds) {
        const container = await containerCgroup(cgroup, parseId(runtimeId).id);
        if ((await freezerState(container)) !== 'FROZEN') throw new Error(`container cgroup ${container.dir} is not frozen after the hand-over`);
      }
    } catch (err) {
      await thawPod(input).catch(() => undefined); // never leave a half-frozen pod behind
      throw ApplicationFailure.create({
        message: `freezing pod uid ${input.podUid} on node ${deps.nodeName} failed (thawed it again): ${(err as Error).message}`,
        type: 'FreezeFailed',
      });
    }
    return { frozenAt, cgroup: cgroup.dir, version: cgroup.version };
  }

  /** Lets the pod continue exactly where it stopped. A pod that no longer exists needs no thawing. */
  async function thawPod(input: PodContainers): Promise<{ thawed: boolean }> {
    const cgroup = await findPodCgroup(deps.cgroupFsRoot, input.podUid);
    if (!cgroup) return { thawed: false };
    await resumeAll(cgroup, input.containerIds);
    return { thawed: true };
  }

  /** Resume through containerd (so it agrees the tasks run again), then thaw every cgroup of the pod. */
  async function resumeAll(cgroup: PodCgroup, containerIds: string[]): Promise<void> {
    await thaw(cgroup);
    for (const runtimeId of containerIds) {
      const { runtime, id } = parseId(runtimeId);
      if (runtime === 'containerd' && deps.containerd) await deps.containerd.resume(id);
    }
    for (const child of await childCgroups(cgroup)) await thaw(child);
  }

  /**
   * After the commit point: kill the frozen source's processes, then thaw, so they die without running
   * another instruction (a pending SIGKILL is acted on before returning to user space). A frozen task cannot
   * exit, so without this the kubelet would wait forever for the deleted source pod to stop.
   */
  async function killFrozenPod(input: PodContainers): Promise<{ killed: number }> {
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
    await resumeAll(cgroup, input.containerIds).catch(() => undefined);
    return { killed };
  }

  /**
   * On a target node: pulls the checkpointed containers' original images ahead of time, through the CRI
   * (the runtime's registry configuration applies). Saves the pull from the downtime, and containerd's
   * restore needs the base image present (it would otherwise pull it with a default HTTPS-only resolver).
   */
  async function pullImages(input: { images: string[] }): Promise<{ pulled: string[]; skipped?: string }> {
    if (!deps.criImages) return { pulled: [], skipped: `node worker of ${deps.nodeName} has no CRI socket configured (node.containerd.address)` };
    const pulled: string[] = [];
    for (const image of input.images.filter(Boolean)) {
      await deps.criImages.pull(image);
      pulled.push(image);
    }
    return { pulled };
  }

  async function archiveSize(input: { path: string }): Promise<number> {
    return (await stat(onHost(input.path))).size;
  }

  /** Deletes archives (checkpoints hold the memory of the workload: treat them as secrets). Idempotent. */
  async function deleteArchives(input: DeleteArchivesInput): Promise<{ deleted: string[] }> {
    const targets = new Set(input.paths);
    const dirs = new Set(input.paths.map((p) => path.dirname(p)));
    if (input.pod?.checkpointDir) dirs.add(input.pod.checkpointDir);
    if (deps.checkpointDir) dirs.add(deps.checkpointDir);
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
      await rm(digestMemoPath(onHost(target)), { force: true }); // the archive's digest memo
      deleted.push(target);
    }
    return { deleted };
  }

  return { freezePod, thawPod, killFrozenPod, pullImages, archiveSize, deleteArchives };
}

export type NodeActivities = ReturnType<typeof createNodeActivities>;
