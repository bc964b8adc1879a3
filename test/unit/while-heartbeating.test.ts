// whileHeartbeating: the one way a long activity heartbeats while it waits on I/O and turns a cancellation
// into the abort of that I/O and the activity's CancelledFailure.
import { describe, expect, test } from '@jest/globals';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { HEARTBEAT_INTERVAL_MS, sleep, whileHeartbeating } from '../../src/activities/context.js';
import { TestActivityEnvironment } from './activity-environment.js';

/** Runs `io` in an activity, cancels it after 100 ms, and returns how the activity ended and how long that took. */
async function cancelDuring(io: (signal: AbortSignal) => Promise<unknown>) {
  const env = new TestActivityEnvironment();
  const running = env.run(() => whileHeartbeating(io));
  await sleep(100);
  const cancelled = Date.now();
  env.cancel();
  const error = await running.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, latencyMs: Date.now() - cancelled, heartbeats: env.heartbeats };
}

describe('whileHeartbeating', () => {
  test('outside an activity it runs the I/O with a signal that never aborts', async () => {
    let given: AbortSignal | undefined;
    const value = await whileHeartbeating(async (signal) => {
      given = signal;
      return 42;
    });
    expect(value).toBe(42);
    expect(given?.aborted).toBe(false);
  });

  test('heartbeats on an interval with the latest details while the I/O waits, and not after it', async () => {
    const env = new TestActivityEnvironment();
    let progress = 0;
    const value = await env.run(() =>
      whileHeartbeating(
        async (signal) => {
          for (; progress < 10; progress += 1) await sleep((HEARTBEAT_INTERVAL_MS * 2.5) / 10, signal);
          return 'done';
        },
        () => ({ progress }),
      ),
    );
    expect(value).toBe('done');
    const progresses = env.heartbeats.map((h) => (h.details as { progress: number }).progress);
    expect(progresses.length).toBeGreaterThanOrEqual(2);
    expect(progresses[0]).toBeGreaterThan(0);
    expect(progresses).toEqual([...new Set(progresses)].sort((a, b) => a - b)); // each beat says where the I/O is now
    const beats = env.heartbeats.length;
    await sleep(HEARTBEAT_INTERVAL_MS * 1.5);
    expect(env.heartbeats.length).toBe(beats);
  });

  test('a cancellation aborts the I/O, and its AbortError becomes the SDK\'s CancelledFailure', async () => {
    let aborted = false;
    const { error, latencyMs, heartbeats } = await cancelDuring(async (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      await sleep(60_000, signal);
    });
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(aborted).toBe(true);
    expect(latencyMs).toBeLessThan(1000);
    expect(heartbeats).toEqual([]); // cancelled before the first beat
  });

  test('a failure the I/O makes of the abort (e.g. wrapped by the activity) still ends as the cancellation', async () => {
    const { error } = await cancelDuring(async (signal) => {
      try {
        await sleep(60_000, signal);
      } catch (err) {
        throw ApplicationFailure.create({ message: `upload failed: ${(err as Error).message}`, type: 'RegistryUnavailable' });
      }
    });
    expect(error).toBeInstanceOf(CancelledFailure);
  });

  test('a call that takes no signal is no longer waited for once the activity is cancelled', async () => {
    const ignoresSignal = new Promise<void>(() => undefined); // e.g. a runtime call that cannot be aborted
    const { error, latencyMs } = await cancelDuring(() => ignoresSignal);
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(latencyMs).toBeLessThan(1000);
  });

  test('without a cancellation, the I/O\'s own failure is the activity\'s', async () => {
    const env = new TestActivityEnvironment();
    const failure = ApplicationFailure.nonRetryable('registry refused the push', 'RegistryError');
    await expect(env.run(() => whileHeartbeating(async () => Promise.reject(failure)))).rejects.toBe(failure);
  });
});
