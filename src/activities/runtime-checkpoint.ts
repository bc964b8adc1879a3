// Checkpoints through the node's own runtime (CRI CheckpointContainer), run by the source node's worker: the
// same runtime code path the kubelet's checkpoint API ends in, without the API server's node proxy and the
// kubelet hop, so the orchestrator needs neither `nodes/proxy` nor the API server's `nodes/checkpoint`. The
// archive goes to podferry's own directory on the node (0700), readable by root only (0600), with a note of the
// migration that made it (the archive sweeper asks Temporal about it).
import { ApplicationFailure } from '@temporalio/common';
import type { CheckpointArchives } from '../node/checkpoint-archives.js';
import type { CriRuntime } from '../node/cri-runtime.js';
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

export function createRuntimeCheckpointActivities(deps: { runtime?: CriRuntime; archives: CheckpointArchives; nodeName: string }) {
  async function checkpointThroughRuntime(input: RuntimeCheckpointInput): Promise<CheckpointContainerResult> {
    const ref = `container ${input.container} of pod ${input.namespace}/${input.pod} on node ${deps.nodeName}`;
    const runtime = deps.runtime;
    if (!runtime) {
      throw ApplicationFailure.nonRetryable(
        `checkpointing ${ref}: this node worker has no CRI socket (node.containerd.address); checkpoint through the kubelet instead (options.checkpointVia: kubelet)`,
        'CheckpointUnavailable',
      );
    }
    // The node's own answer, not the input's: the container must be this pod's, here.
    const [id] = await runtime.requirePodContainers(input.podUid, [input.containerId], `node ${deps.nodeName} (checkpointing ${ref})`);
    const archivePath = await deps.archives.newArchive({ namespace: input.namespace, name: input.pod }, input.container);
    const started = Date.now();
    await whileHeartbeating(
      (signal) => runtime.checkpoint(id!, archivePath, input.timeoutSeconds, { signal }),
      () => ({ waitingMs: Date.now() - started }),
    ).catch((err: unknown) => {
      throw ApplicationFailure.create({ message: `checkpointing ${ref}: ${(err as Error).message}`, type: 'CheckpointFailed', cause: err as Error });
    });
    await deps.archives.restrict(archivePath);
    const migrationId = currentWorkflowId();
    if (migrationId) await deps.archives.recordMigration(archivePath, migrationId);
    return { container: input.container, archivePath, durationMs: Date.now() - started };
  }

  return { checkpointThroughRuntime };
}

export type RuntimeCheckpointActivities = ReturnType<typeof createRuntimeCheckpointActivities>;
