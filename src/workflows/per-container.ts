// One step for every container of the pod: all at once, or one after another (the sequential baseline).
import { isCancellation } from '@temporalio/workflow';

export interface PerContainer<T> {
  values: Record<string, T>;
  failures: Array<{ container: string; error: unknown }>;
}

/**
 * Runs the step for every container, all at once (allSettled: we learn which succeeded before undoing
 * anything) or one after another, stopping at the first failure.
 */
export async function forEachContainer<T>(containers: string[], parallel: boolean, step: (container: string) => Promise<T>): Promise<PerContainer<T>> {
  const out: PerContainer<T> = { values: {}, failures: [] };
  if (parallel) {
    const settled = await Promise.allSettled(containers.map(step));
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') out.values[containers[i]!] = s.value;
      else out.failures.push({ container: containers[i]!, error: s.reason });
    });
    return out;
  }
  for (const container of containers) {
    try {
      out.values[container] = await step(container);
    } catch (error) {
      out.failures.push({ container, error });
      break;
    }
  }
  return out;
}

/** Throws the first failure; a cancellation wins, so the workflow ends as cancelled, not as failed. */
export function throwFirst(failures: Array<{ container: string; error: unknown }>): void {
  if (failures.length === 0) return;
  const cancellation = failures.find((f) => isCancellation(f.error));
  throw (cancellation ?? failures[0]!).error;
}
