// Pause and resume of containerd tasks over containerd's gRPC socket (Tasks service). Used instead of
// writing the freezer directly when the node runs containerd: containerd's checkpoint pauses a running task
// itself and *resumes it afterwards*, but leaves a task it finds paused as it is. Pausing through containerd
// keeps its own view of the task consistent, so the container stays frozen after its checkpoint.
import grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { TASKS, type ContainerIdRequest, type TaskStatus } from './proto/services.js';
import { describeServiceError, isServiceError, unaryCall } from './proto/unary-call.js';

const TIMEOUT_MS = 15_000;

/**
 * containerd's shim holds the task paused while runc finds its cgroup running: the cgroup was thawed behind
 * containerd's back (a pause that containerd carried out after its caller had given up and thawed the cgroup
 * itself, e.g. while containerd was stalled). The shim refuses every resume from then on ("container not
 * paused"); freezing the container's cgroup again lets the next resume go through and set the shim right.
 */
export class PausedOnlyInContainerd extends Error {}

/** States in which a resume has nothing left to do. */
const NOT_PAUSED: ReadonlySet<TaskStatus> = new Set(['CREATED', 'RUNNING', 'STOPPED']);

export class ContainerdTasks {
  private readonly client: grpc.Client;
  private readonly namespace: string;

  constructor(options: { address: string; namespace?: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
    this.namespace = options.namespace ?? 'k8s.io';
  }

  /** Pauses (freezes) the task. Already paused counts as done. */
  async pause(containerId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.call(TASKS.pause, containerId, options.signal);
    } catch (err) {
      if (!isServiceError(err)) throw err;
      // The shim reports a task already paused with a plain error (UNKNOWN, text only): ask for its state.
      if (err.code !== grpc.status.NOT_FOUND && (await this.statusOf(containerId, options.signal)) === 'PAUSED') return;
      throw this.failure('pause', containerId, err);
    }
  }

  /** Resumes the task. Not paused, or gone, counts as done. */
  async resume(containerId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.call(TASKS.resume, containerId, options.signal);
    } catch (err) {
      if (!isServiceError(err)) throw err;
      if (err.code === grpc.status.NOT_FOUND) return;
      // As for pause: a running or stopped task makes the shim answer UNKNOWN with a text.
      const status = await this.statusOf(containerId, options.signal);
      if (status && NOT_PAUSED.has(status)) return;
      if (status === 'PAUSED' && /container not paused/.test(err.details)) {
        throw new PausedOnlyInContainerd(`containerd holds task ${containerId} (namespace ${this.namespace}) paused, but its cgroup runs: ${describeServiceError(err)}`, { cause: err });
      }
      throw this.failure('resume', containerId, err);
    }
  }

  close(): void {
    this.client.close();
  }

  /** The task's state, or undefined when containerd cannot tell (the error of the call that failed says more). */
  private async statusOf(containerId: string, signal: AbortSignal | undefined): Promise<TaskStatus | undefined> {
    try {
      return (await this.call(TASKS.get, containerId, signal)).process?.status;
    } catch (err) {
      if (isServiceError(err)) return undefined;
      throw err;
    }
  }

  private call<Response>(method: MethodDefinition<ContainerIdRequest, Response>, containerId: string, signal: AbortSignal | undefined): Promise<Response> {
    const metadata = new grpc.Metadata();
    metadata.set('containerd-namespace', this.namespace);
    return unaryCall(this.client, method, { containerId }, { metadata, timeoutMs: TIMEOUT_MS, signal });
  }

  private failure(action: 'pause' | 'resume', containerId: string, err: grpc.ServiceError): Error {
    return new Error(`containerd ${action} of task ${containerId} (namespace ${this.namespace}) failed: ${describeServiceError(err)}`, { cause: err });
  }
}
