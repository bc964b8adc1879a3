// Pause and resume of containerd tasks over containerd's gRPC socket (Tasks service). Used instead of
// writing the freezer directly when the node runs containerd: containerd's checkpoint pauses a running task
// itself and *resumes it afterwards*, but leaves a task it finds paused as it is. Pausing through containerd
// keeps its own view of the task consistent, so the container stays frozen after its checkpoint.
// The two requests carry a single string field, so they are encoded by hand (no generated code).
import grpc from '@grpc/grpc-js';
import { encodeField1 } from './protobuf-field.js';

const SERVICE = '/containerd.services.tasks.v1.Tasks';

/** protobuf: field 1 (container_id), wire type 2 (length-delimited). */
export function encodeContainerIdRequest(containerId: string): Buffer {
  return encodeField1(containerId);
}

export class ContainerdTasks {
  private readonly client: grpc.Client;
  private readonly namespace: string;

  constructor(options: { address: string; namespace?: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
    this.namespace = options.namespace ?? 'k8s.io';
  }

  /** Pauses (freezes) the task. Already paused counts as done. */
  pause(containerId: string): Promise<void> {
    return this.call('Pause', containerId);
  }

  /** Resumes the task. Not paused, or gone, counts as done. */
  resume(containerId: string): Promise<void> {
    return this.call('Resume', containerId);
  }

  close(): void {
    this.client.close();
  }

  private call(method: 'Pause' | 'Resume', containerId: string): Promise<void> {
    const metadata = new grpc.Metadata();
    metadata.set('containerd-namespace', this.namespace);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `${SERVICE}/${method}`,
        (id: string) => encodeContainerIdRequest(id),
        () => ({}),
        containerId,
        metadata,
        { deadline: Date.now() + 15_000 },
        (err) => {
          if (!err) return resolve();
          // Already in the wanted state (the shim answers with a plain error text), or, for resume, gone.
          const text = `${err.details ?? ''} ${err.message}`;
          if (err.code === grpc.status.FAILED_PRECONDITION || /cannot pause a paused|not paused|cannot resume a (running|not paused)/i.test(text)) return resolve();
          if (method === 'Resume' && err.code === grpc.status.NOT_FOUND) return resolve();
          reject(new Error(`containerd ${method.toLowerCase()} of task ${containerId} failed: ${err.details || err.message}`));
        },
      );
    });
  }
}
