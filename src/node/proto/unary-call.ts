// One unary gRPC call as a promise, with a deadline and an optional AbortSignal that cancels it on the wire.
import grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';

export interface UnaryCallOptions {
  timeoutMs: number;
  metadata?: grpc.Metadata;
  /** Aborting cancels the call (the runtime sees CANCELLED) and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Resolves with the decoded response; rejects with the grpc.ServiceError, or with the abort reason. */
export function unaryCall<Request, Response>(
  client: grpc.Client,
  method: MethodDefinition<Request, Response>,
  request: Request,
  options: UnaryCallOptions,
): Promise<Response> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const call = client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + options.timeoutMs },
      (err, response) => {
        signal?.removeEventListener('abort', cancel);
        if (signal?.aborted) reject(signal.reason);
        else if (err) reject(err);
        else resolve(response as Response);
      },
    );
    function cancel(): void {
      call.cancel();
    }
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in err;
}

/** "NOT_FOUND: task abc not found": the status name, then what the server said. */
export function describeServiceError(err: grpc.ServiceError): string {
  return `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
}

/** Rethrows an error of the runtime as one that says what failed; anything else (an abort reason) as it is. */
export function failed(what: string): (err: unknown) => never {
  return (err) => {
    throw isServiceError(err) ? new Error(`${what} through CRI failed: ${describeServiceError(err)}`, { cause: err }) : err;
  };
}
