// Node-local activities, run by the node worker on the node that holds the pod: freezing and thawing the
// pod's cgroup, and the checkpoint archives the kubelet wrote to the node's disk. Freeze, thaw and kill are
// fenced (src/node/frozen-pods.ts): each records its decision on the node's disk before acting, and a call
// older than a decision already recorded is refused, so a late or retried attempt never undoes a later one.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CheckpointArchives } from '../node/checkpoint-archives.js';
import { PausedOnlyInContainerd, type ContainerdTasks } from '../node/containerd-tasks.js';
import type { CriImages } from '../node/cri-images.js';
import type { CrioAccess } from '../node/runc.js';
import type { CriRuntime } from '../node/cri-runtime.js';
import { frozenBy, recordAfter, type FencedCall, type FencedCallName, type FrozenPodRecords } from '../node/frozen-pods.js';
import { childCgroups, containerCgroupNames, findPodCgroup, freeze, freezerState, podPids, thaw, type PodCgroup } from '../node/pod-cgroup.js';
import { parseRuntimeId as parseId } from '../node/runtime-id.js';

export interface NodeActivityDeps {
  /** Where cgroup filesystems are mounted (/sys/fs/cgroup). */
  cgroupFsRoot: string;
  nodeName: string;
  /** The checkpoint archives on this node: the only files deleteArchives touches. */
  archives: CheckpointArchives;
  /** The node's containerd (tasks are paused through it when their id says containerd://). */
  containerd?: ContainerdTasks;
  /**
   * The node's runc as CRI-O runs it: containers are paused and resumed with it when their id says cri-o://
   * (without it their own cgroups are frozen, which runc reports as paused too).
   */
  crio?: CrioAccess;
  /** The node's CRI runtime service (which containers of which pod run here). */
  runtime?: CriRuntime;
  /** The node's CRI image service (to pre-pull base images on a target node). */
  criImages?: CriImages;
  /** What this node decided about the pods it froze (the fences). */
  frozenPods: FrozenPodRecords;
  /**
   * Stops a migration's post-copy page servers on this node: CRIU holds the processes it serves pages of, so they
   * go before a thaw or a kill (src/activities/postcopy.ts).
   */
  stopLazyDumps?: (migrationId: string) => Promise<void>;
}

export interface PodContainers {
  podUid: string;
  /** Runtime container ids as the kubelet reports them (containerd://<id>, cri-o://<id>). */
  containerIds: string[];
}

/** A decision of a migration about its pod: the fence numbers the decisions (see src/node/frozen-pods.ts). */
export interface FencedPodInput extends PodContainers {
  /** The migration deciding (its workflow id). */
  migrationId: string;
  /** Positive integer the workflow increases with each decision about the pod: freeze 1, the thaw or kill after it 2, … */
  fence: number;
}

export interface FreezePodInput extends FencedPodInput {
  /** How long after the freeze this node's sweeper starts asking the workflow whether the pod should stay frozen. */
  sweepAfterMs: number;
}

export interface DeleteArchivesInput {
  /** Archive paths as the kubelet reported them. */
  paths: string[];
  /** Also delete any other archive of these containers (e.g. from a retried checkpoint whose answer was lost). */
  pod?: { namespace: string; name: string; containers: string[] };
}

/** The Temporal activity a call runs in; none when the sweeper or a test calls the functions directly. */
function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function fencedCall(call: FencedCallName, input: FencedPodInput): FencedCall {
  if (!Number.isSafeInteger(input.fence) || input.fence < 1 || !input.migrationId) {
    throw ApplicationFailure.nonRetryable(
      `${call} of pod uid ${input.podUid}: migration id ${JSON.stringify(input.migrationId)} with fence ${JSON.stringify(input.fence)}: ` +
        'give the migration id and a positive integer fence (freeze 1, the thaw or kill after it 2, …)',
      'InvalidInput',
    );
  }
  return { call, migrationId: input.migrationId, podUid: input.podUid, containerIds: input.containerIds, fence: input.fence };
}

export function createNodeActivities(deps: NodeActivityDeps) {
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

  async function containerCgroup(pod: PodCgroup, id: string): Promise<PodCgroup> {
    const child = (await childCgroups(pod)).find((c) => containerCgroupNames(id).includes(path.basename(c.dir)));
    if (!child) throw ApplicationFailure.nonRetryable(`no cgroup for container ${id} under ${pod.dir}`, 'PodCgroupNotFound');
    return child;
  }

  /**
   * Stops every process of the pod at one instant, then hands the freeze over to the containers, so that
   * the runtime's checkpoint (CRIU) can work with them and leaves them frozen afterwards: freeze the pod
   * cgroup; pause every container (through containerd when it runs them, with CRI-O's runc when CRI-O does,
   * else by freezing the container's cgroup); thaw the pod cgroup. (CRIU cannot seize tasks kept frozen by a
   * parent cgroup; containerd resumes a task after its checkpoint unless containerd itself paused it; runc
   * checkpoints a container it paused and leaves it paused.) The downtime clock starts at the pod freeze.
   * The freeze is recorded (with this attempt's number) before it starts. Between its steps it stops when
   * cancelled, or when the record says someone else decided meanwhile; on a failure or a cancellation it
   * thaws the pod again only while the record still says this attempt froze it: a late attempt must not
   * thaw what a retry froze.
   */
  async function freezePod(input: FreezePodInput): Promise<{ frozenAt: number; cgroup: string; version: string }> {
    const call = fencedCall('freezePod', input);
    if (!Number.isFinite(input.sweepAfterMs) || input.sweepAfterMs < 0) {
      throw ApplicationFailure.nonRetryable(
        `freezePod of pod uid ${input.podUid}: sweepAfterMs ${JSON.stringify(input.sweepAfterMs)} is not a duration: give milliseconds (>= 0)`,
        'InvalidInput',
      );
    }
    // The runtime's own answer (when this worker has a CRI socket): the containers are this pod's, here.
    await deps.runtime?.requirePodContainers(input.podUid, input.containerIds, `node ${deps.nodeName}`);
    if (!deps.containerd && input.containerIds.some((id) => parseId(id).runtime === 'containerd')) {
      // Freezing containerd's containers behind its back makes its checkpoint fail ("pause failed").
      throw ApplicationFailure.nonRetryable(
        `pod uid ${input.podUid} runs on containerd, but the node worker of ${deps.nodeName} has no containerd socket: ` +
          'set node.containerd.address (or PODFERRY_CONTAINERD_ADDRESS) in its configuration',
        'NodeWorkerMisconfigured',
      );
    }
    const crio = deps.crio && input.containerIds.some((id) => parseId(id).runtime === 'cri-o') ? await deps.crio() : undefined;
    const activity = currentActivity();
    const attempt = activity?.info.attempt ?? 1;
    const cancellation = activity?.cancellationSignal;
    const cgroup = await podCgroupOrFail(input.podUid);
    if (cancellation?.aborted) throw cancellation.reason;
    await deps.frozenPods.update(input.podUid, (current) => recordAfter(current, call, Date.now(), { attempt, sweepAfterMs: input.sweepAfterMs }));

    let takenOver = false;
    const betweenSteps = async () => {
      activity?.heartbeat(); // how a cancellation reaches the activity
      if (cancellation?.aborted) throw cancellation.reason;
      const record = await deps.frozenPods.read(input.podUid);
      if (frozenBy(record, call, attempt)) return;
      takenOver = true;
      // A later thaw or kill of this migration acted already; a step of ours may have landed after it: redo it.
      const laterDecision = record && record.migrationId === call.migrationId && record.fence > call.fence && record.state !== 'frozen';
      if (laterDecision) await resumeAll(cgroup, record.containerIds);
      throw ApplicationFailure.nonRetryable(
        `freezePod of pod uid ${input.podUid} for migration ${call.migrationId} (fence ${call.fence}, attempt ${attempt}) stopped: ` +
          (record
            ? `meanwhile the pod was ${record.state} by migration ${record.migrationId} at fence ${record.fence}` +
              (record.freezeAttempt !== undefined ? ` (freeze attempt ${record.freezeAttempt})` : '')
            : 'its record vanished') +
          '; that later decision stands',
        'Fenced',
      );
    };

    let frozenAt = 0;
    try {
      await freeze(cgroup);
      frozenAt = Date.now();
      await betweenSteps();
      for (const runtimeId of input.containerIds) {
        const { runtime, id } = parseId(runtimeId);
        if (runtime === 'containerd' && deps.containerd) await deps.containerd.pause(id);
        else if (runtime === 'cri-o' && crio) await crio.runc.pause(id);
        else await freeze(await containerCgroup(cgroup, id));
        await betweenSteps();
      }
      await thaw(cgroup);
      await betweenSteps();
      for (const runtimeId of input.containerIds) {
        const container = await containerCgroup(cgroup, parseId(runtimeId).id);
        if ((await freezerState(container)) !== 'FROZEN') throw new Error(`container cgroup ${container.dir} is not frozen after the hand-over`);
      }
      await betweenSteps();
    } catch (err) {
      if (takenOver) throw err;
      // Never leave a half-frozen pod behind, unless it is no longer this attempt's to thaw.
      const thawed = await thawIfFrozenBy(call, attempt, cgroup).catch(() => false);
      if (cancellation?.aborted) throw cancellation.reason;
      throw ApplicationFailure.create({
        message:
          `freezing pod uid ${input.podUid} on node ${deps.nodeName} failed ` +
          `(${thawed ? 'thawed it again' : 'not thawed: another attempt or decision holds it now'}): ${(err as Error).message}`,
        type: 'FreezeFailed',
      });
    }
    return { frozenAt, cgroup: cgroup.dir, version: cgroup.version };
  }

  /** freezePod's own way back: thaw (same fence) only if the record still says this attempt froze the pod. */
  async function thawIfFrozenBy(call: FencedCall, attempt: number, cgroup: PodCgroup): Promise<boolean> {
    const written = await deps.frozenPods.update(call.podUid, (current) =>
      frozenBy(current, call, attempt) ? recordAfter(current, { ...call, call: 'thawPod' }, Date.now()) : undefined,
    );
    if (written) await resumeAll(cgroup, call.containerIds);
    return written !== undefined;
  }

  /**
   * Lets the pod continue exactly where it stopped. Records the decision first, so a late freeze with an
   * older fence is refused. A pod that no longer exists needs no thawing.
   */
  async function thawPod(input: FencedPodInput): Promise<{ thawed: boolean }> {
    const call = fencedCall('thawPod', input);
    await deps.frozenPods.update(input.podUid, (current) => recordAfter(current, call, Date.now()));
    await deps.stopLazyDumps?.(input.migrationId);
    const cgroup = await findPodCgroup(deps.cgroupFsRoot, input.podUid);
    if (!cgroup) return { thawed: false };
    await resumeAll(cgroup, input.containerIds);
    return { thawed: true };
  }

  /**
   * Resume through the runtime that paused (containerd, so it agrees the tasks run again; CRI-O's runc), then
   * thaw every cgroup of the pod, whatever the runtime answered.
   */
  async function resumeAll(cgroup: PodCgroup, containerIds: string[]): Promise<void> {
    await thaw(cgroup);
    try {
      const crio = deps.crio && containerIds.some((id) => parseId(id).runtime === 'cri-o') ? await deps.crio() : undefined;
      for (const runtimeId of containerIds) {
        const { runtime, id } = parseId(runtimeId);
        if (runtime === 'containerd' && deps.containerd) await resumeContainerdTask(deps.containerd, cgroup, id);
        if (runtime === 'cri-o' && crio) await crio.runc.resume(id);
      }
    } finally {
      for (const child of await childCgroups(cgroup)) await thaw(child);
    }
  }

  /** Resumes through containerd; a task containerd holds paused with a running cgroup is frozen again first (see PausedOnlyInContainerd). */
  async function resumeContainerdTask(containerd: ContainerdTasks, pod: PodCgroup, id: string): Promise<void> {
    try {
      await containerd.resume(id);
    } catch (err) {
      if (!(err instanceof PausedOnlyInContainerd)) throw err;
      await freeze(await containerCgroup(pod, id));
      await containerd.resume(id);
    }
  }

  /**
   * After the commit point: kill the frozen source's processes, then thaw, so they die without running
   * another instruction (a pending SIGKILL is acted on before returning to user space). A frozen task cannot
   * exit, so without this the kubelet would wait forever for the deleted source pod to stop. Recorded first,
   * like thawPod.
   */
  async function killFrozenPod(input: FencedPodInput): Promise<{ killed: number }> {
    const call = fencedCall('killFrozenPod', input);
    await deps.frozenPods.update(input.podUid, (current) => {
      // Only a pod this node froze for this migration: a kill call cannot end any other pod of the node.
      if (!current || (current.migrationId !== call.migrationId && current.earlierFences?.[call.migrationId] === undefined)) {
        throw ApplicationFailure.nonRetryable(
          `killFrozenPod of pod uid ${input.podUid} for migration ${call.migrationId} refused: node ${deps.nodeName} never froze that pod for that migration`,
          'NotFrozenByThisMigration',
        );
      }
      return recordAfter(current, call, Date.now());
    });
    await deps.stopLazyDumps?.(input.migrationId);
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
    if (!deps.criImages) return { pulled: [], skipped: `node worker of ${deps.nodeName} has no CRI socket configured (node.cri.address)` };
    const pulled: string[] = [];
    for (const image of input.images.filter(Boolean)) {
      await deps.criImages.pull(image);
      pulled.push(image);
    }
    return { pulled };
  }


  /**
   * Deletes archives (checkpoints hold the memory of the workload: treat them as secrets). Idempotent. Only
   * checkpoint archives in this node's archive directories: any other path is refused, not deleted.
   */
  async function deleteArchives(input: DeleteArchivesInput): Promise<{ deleted: string[] }> {
    const archives = deps.archives;
    const targets = new Set(input.paths);
    if (input.pod) {
      // Kubelet naming: checkpoint-<pod>_<namespace>-<container>-<timestamp>.tar
      const prefixes = input.pod.containers.map((c) => `checkpoint-${input.pod!.name}_${input.pod!.namespace}-${c}-`);
      for (const dir of archives.directories) {
        for (const entry of await readdir(archives.onHost(dir)).catch(() => [] as string[])) {
          if (CheckpointArchives.isArchiveName(entry) && prefixes.some((prefix) => entry.startsWith(prefix))) targets.add(path.posix.join(dir, entry));
        }
      }
    }
    const deleted: string[] = [];
    for (const target of targets) {
      const file = await archives.resolve(target, 'deleting checkpoint archives').catch((err: unknown) => {
        if (err instanceof ApplicationFailure && err.type === 'ArchiveNotFound') return undefined; // deleted already
        throw err;
      });
      if (!file) continue;
      await archives.remove(file);
      deleted.push(target);
    }
    return { deleted };
  }

  return { freezePod, thawPod, killFrozenPod, pullImages, deleteArchives };
}

export type NodeActivities = ReturnType<typeof createNodeActivities>;
