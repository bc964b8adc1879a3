// Checkpoints through the node's own runtime, run by the source node's worker, without the API server's node
// proxy and the kubelet hop, so the orchestrator needs neither `nodes/proxy` nor the API server's
// `nodes/checkpoint`: on containerd the CRI CheckpointContainer call the kubelet's checkpoint API ends in; on
// CRI-O runc's own checkpoint of the paused container, written as CRI-O's archive (CRI-O's CheckpointContainer
// cannot checkpoint a paused container and resumes it afterwards: src/node/crio-checkpoint.ts). The archive
// goes to podferry's own directory on the node (0700), readable by root only (0600), with a note of the
// migration that made it (the archive sweeper asks Temporal about it).
import { ApplicationFailure } from '@temporalio/common';
import type { CheckpointArchives } from '../node/checkpoint-archives.js';
import { checkpointCrioContainer, ContainerNotPaused } from '../node/crio-checkpoint.js';
import type { CrioAccess } from '../node/runc.js';
import type { CriRuntime } from '../node/cri-runtime.js';
import { runtimeOf } from '../node/runtime-id.js';
import type { CheckpointContainerResult } from './kubelet.js';
import { currentWorkflowId, whileHeartbeating } from './context.js';

export interface RuntimeCheckpointInput {
  podUid: string;
  namespace: string;
  pod: string;
  container: string;
  /** The container's runtime id as the kubelet reports it (containerd://…, cri-o://…). */
  containerId: string;
  timeoutSeconds: number;
}

export function createRuntimeCheckpointActivities(deps: { runtime?: CriRuntime; crio?: CrioAccess; archives: CheckpointArchives; nodeName: string }) {
  async function checkpointThroughRuntime(input: RuntimeCheckpointInput): Promise<CheckpointContainerResult> {
    const ref = `container ${input.container} of pod ${input.namespace}/${input.pod} on node ${deps.nodeName}`;
    const runtime = deps.runtime;
    if (!runtime) {
      throw ApplicationFailure.nonRetryable(
        `checkpointing ${ref}: this node worker has no CRI socket (node.cri.address); checkpoint through the kubelet instead (options.checkpointVia: kubelet)`,
        'CheckpointUnavailable',
      );
    }
    // The node's own answer, not the input's: the container must be this pod's, here.
    const [id] = await runtime.requirePodContainers(input.podUid, [input.containerId], `node ${deps.nodeName} (checkpointing ${ref})`);
    const crio = runtimeOf(input.containerId) === 'cri-o' ? await crioOrFail(ref) : undefined;
    const archivePath = await deps.archives.newArchive({ namespace: input.namespace, name: input.pod }, input.container);
    const started = Date.now();
    await whileHeartbeating(
      (signal) =>
        crio
          ? checkpointCrioContainer(crio.runc, {
              id: id!,
              archive: deps.archives.onHost(archivePath),
              handler: crio.settings.handler,
              onHost: (hostPath) => deps.archives.onHost(hostPath),
              signal,
              timeoutMs: input.timeoutSeconds * 1000,
            })
          : runtime.checkpoint(id!, archivePath, input.timeoutSeconds, { signal }),
      () => ({ waitingMs: Date.now() - started }),
    ).catch((err: unknown) => {
      // A container not paused is not a passing fault: the freeze did not hold, retrying cannot make it right.
      throw ApplicationFailure.create({ message: `checkpointing ${ref}: ${(err as Error).message}`, type: 'CheckpointFailed', nonRetryable: err instanceof ContainerNotPaused, cause: err as Error });
    });
    await deps.archives.restrict(archivePath);
    const migrationId = currentWorkflowId();
    if (migrationId) await deps.archives.recordMigration(archivePath, migrationId);
    return { container: input.container, archivePath, durationMs: Date.now() - started };
  }

  async function crioOrFail(ref: string) {
    if (!deps.crio) {
      throw ApplicationFailure.nonRetryable(`checkpointing ${ref}: the container runs on CRI-O, but this node worker has no CRI socket (node.cri.address)`, 'CheckpointUnavailable');
    }
    return deps.crio();
  }

  return { checkpointThroughRuntime };
}

export type RuntimeCheckpointActivities = ReturnType<typeof createRuntimeCheckpointActivities>;
