// The node's CRI runtime service (runtime.v1.RuntimeService), asked directly by the node worker:
// - Version, to know which runtime the node runs (containerd, cri-o) and which release;
// - Status (verbose), for the runtime's own details: containerd puts its CRI configuration there;
// - ListContainers, to know which containers of a pod this node's runtime runs (a node call naming a pod that
//   is not here, or containers of another pod, is refused);
// - CheckpointContainer, the call the kubelet's checkpoint API ends in: checkpointing through it needs neither
//   the API server's node proxy (`nodes/proxy`, exec-like on every kubelet) nor the kubelet hop.
import grpc from '@grpc/grpc-js';
import { ApplicationFailure } from '@temporalio/common';
import { RUNTIME_SERVICE, type CriContainer, type RuntimeVersion } from './proto/services.js';
import { failed, unaryCall } from './proto/unary-call.js';
import { parseRuntimeId } from './runtime-id.js';

/** The label the kubelet puts on every container with its pod's uid. */
const POD_UID_LABEL = 'io.kubernetes.pod.uid';

export class CriRuntime {
  private readonly client: grpc.Client;

  constructor(options: { address: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
  }

  /** The runtime's name and release (its own answer). */
  async version(options: { signal?: AbortSignal } = {}): Promise<RuntimeVersion> {
    const response = await unaryCall(this.client, RUNTIME_SERVICE.version, { version: '' }, { timeoutMs: 10_000, signal: options.signal }).catch(
      failed('asking the runtime its version'),
    );
    return { runtimeName: response.runtimeName, runtimeVersion: response.runtimeVersion };
  }

  /** The runtime's verbose status details (containerd: `config`, its CRI configuration as JSON). */
  async statusInfo(options: { signal?: AbortSignal } = {}): Promise<Record<string, string>> {
    const response = await unaryCall(this.client, RUNTIME_SERVICE.status, { verbose: true }, { timeoutMs: 10_000, signal: options.signal }).catch(
      failed('asking the runtime its status'),
    );
    return response.info;
  }

  /** The containers of a pod (by uid) that this runtime has, in any state. */
  async podContainers(podUid: string, options: { signal?: AbortSignal } = {}): Promise<CriContainer[]> {
    const response = await unaryCall(this.client, RUNTIME_SERVICE.listContainers, { filter: { labelSelector: { [POD_UID_LABEL]: podUid } } }, {
      timeoutMs: 10_000,
      signal: options.signal,
    }).catch(failed(`listing the containers of pod uid ${podUid}`));
    return response.containers;
  }

  /**
   * The runtime's own answer, not the caller's: every container named (runtime ids as the kubelet reports
   * them, containerd://…, cri-o://…) must be this pod's, on this node. Returns the bare ids; throws
   * ContainerNotOnThisNode otherwise.
   */
  async requirePodContainers(podUid: string, runtimeIds: string[], where: string): Promise<string[]> {
    const known = new Set((await this.podContainers(podUid)).map((c) => c.id));
    const ids = runtimeIds.map((runtimeId) => parseRuntimeId(runtimeId).id);
    const strangers = ids.filter((id) => !known.has(id));
    if (known.size === 0 || strangers.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `pod uid ${podUid} on ${where}: ${known.size === 0 ? 'the runtime runs no such pod here' : `containers ${strangers.join(', ')} are not this pod's`}; refused`,
        'ContainerNotOnThisNode',
      );
    }
    return ids;
  }

  /** Checkpoints one container into an archive at `location` (a path on the node); resolves when it is written. */
  async checkpoint(containerId: string, location: string, timeoutSeconds: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    await unaryCall(this.client, RUNTIME_SERVICE.checkpointContainer, { containerId, location, timeout: String(timeoutSeconds) }, {
      timeoutMs: (timeoutSeconds + 30) * 1000,
      signal: options.signal,
    }).catch(failed(`checkpointing container ${containerId}`));
  }

  close(): void {
    this.client.close();
  }
}
