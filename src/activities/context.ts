// Activity helpers that also work outside a Temporal activity (tests, tools call the same functions).
import { setTimeout as delay } from 'node:timers/promises';
import { Context } from '@temporalio/activity';

/**
 * How often a long activity heartbeats while it waits on I/O. Cheap: the SDK throttles what reaches the
 * server. A cancellation reaches the activity only in the server's answer to a heartbeat, so this beat must
 * never be what delays it.
 */
export const HEARTBEAT_INTERVAL_MS = 1_000;

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function heartbeatIfActive(details?: unknown): void {
  currentContext()?.heartbeat(details);
}

/** The id of the workflow that scheduled this activity (a migration's is its migration id), if any. */
export function currentWorkflowId(): string | undefined {
  return currentContext()?.info.workflowExecution?.workflowId;
}

/** Details of the last heartbeat of a previous attempt of this activity (for resuming), if any. */
export function previousHeartbeat<T>(): T | undefined {
  return currentContext()?.info.heartbeatDetails as T | undefined;
}

/**
 * Runs the I/O of a long activity. Meanwhile it heartbeats every HEARTBEAT_INTERVAL_MS with `details()` (what a
 * retry reads back to resume), and `io` gets the activity's cancellation signal, to pass to every request,
 * stream and wait. Once the activity is cancelled it ends at once with the SDK's CancelledFailure: whatever
 * `io` throws then (an AbortError, or a failure wrapping one) becomes the cancellation, and a call that takes
 * no signal is no longer waited for (its late outcome is dropped).
 * Outside an activity, `io` runs with a signal that never aborts.
 */
export async function whileHeartbeating<T>(io: (signal: AbortSignal) => Promise<T>, details?: () => unknown): Promise<T> {
  const context = currentContext();
  if (!context) return io(new AbortController().signal);
  const beat = setInterval(() => context.heartbeat(details?.()), HEARTBEAT_INTERVAL_MS);
  try {
    const working = io(context.cancellationSignal);
    working.catch(() => undefined); // after a cancellation its failure has nobody to tell
    return await Promise.race([working, context.cancelled]);
  } catch (err) {
    if (context.cancellationSignal.aborted) await context.cancelled; // rejects with the SDK's CancelledFailure
    throw err;
  } finally {
    clearInterval(beat);
  }
}

/** Waits `ms`; an aborted `signal` ends the wait with an AbortError. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : undefined);
}
