// Activity helpers that also work outside a Temporal activity (tests, tools call the same functions).
import { Context } from '@temporalio/activity';

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

/** Details of the last heartbeat of a previous attempt of this activity (for resuming), if any. */
export function previousHeartbeat<T>(): T | undefined {
  return currentContext()?.info.heartbeatDetails as T | undefined;
}

export function activityCancellationSignal(): AbortSignal | undefined {
  return currentContext()?.cancellationSignal;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
