// Checkpoints through the node's own runtime (CRI CheckpointContainer), run by the source node's worker: the
// same runtime code path the kubelet's checkpoint API ends in, without the API server's node proxy and the
// kubelet hop, so the orchestrator needs neither `nodes/proxy` nor the API server's `nodes/checkpoint`. The
// archive goes to podferry's own directory on the node (0700), readable by root only (0600).
import { ApplicationFailure } from '@temporalio/common';
import type { CheckpointArchives } from '../node/checkpoint-archives.js';
import type { CriRuntime } from '../node/cri-runtime.js';
import type { CheckpointContainerResult } from './kubelet.js';
import { whileHeartbeating } from './context.js';

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
    const id = input.containerId.replace(/^[a-z0-9-]+:\/\//, '');
    const known = await runtime.podContainers(input.podUid);
    const container = known.find((c) => c.id === id);
    if (!container) {
      throw ApplicationFailure.nonRetryable(
        `checkpointing ${ref}: the runtime of node ${deps.nodeName} has no container ${input.containerId} in pod uid ${input.podUid} ` +
          `(it has ${known.map((c) => c.id.slice(0, 12)).join(', ') || 'none'}): the call names a pod or container that is not on this node`,
        'ContainerNotOnThisNode',
      );
    }
    const archivePath = await deps.archives.newArchive({ namespace: input.namespace, name: input.pod }, input.container);
    const started = Date.now();
    await whileHeartbeating(
      (signal) => runtime.checkpoint(id, archivePath, input.timeoutSeconds, { signal }),
      () => ({ waitingMs: Date.now() - started }),
    ).catch((err: unknown) => {
      throw ApplicationFailure.create({ message: `checkpointing ${ref}: ${(err as Error).message}`, type: 'CheckpointFailed', cause: err as Error });
    });
    await deps.archives.restrict(archivePath);
    return { container: input.container, archivePath, durationMs: Date.now() - started };
  }

  return { checkpointThroughRuntime };
}

export type RuntimeCheckpointActivities = ReturnType<typeof createRuntimeCheckpointActivities>;
