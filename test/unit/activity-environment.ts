// Runs a function as a Temporal activity without a server: with the worker's own Activity class (what
// @temporalio/testing's MockActivityEnvironment wraps; that package is not a dependency), so heartbeats and
// cancellation behave as in a worker: cancel() aborts the context's signal and rejects `cancelled` with a
// CancelledFailure. Used by the unit and registry tests of cancellation.
import type { Info } from '@temporalio/activity';
import { ActivityCancellationDetails, noopMetricMeter } from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { DefaultLogger } from '@temporalio/worker';
import { Activity } from '@temporalio/worker/lib/activity.js';

export interface RecordedHeartbeat {
  /** Milliseconds since the environment was made. */
  atMs: number;
  details: unknown;
}

const INFO: Info = {
  taskToken: new Uint8Array(),
  base64TaskToken: '',
  activityId: 'test',
  activityType: 'test',
  activityNamespace: 'default',
  attempt: 1,
  isLocal: false,
  scheduledTimestampMs: 0,
  scheduleToCloseTimeoutMs: 0,
  startToCloseTimeoutMs: 0,
  currentAttemptScheduledTimestampMs: 0,
  heartbeatDetails: undefined,
  taskQueue: 'test',
  namespace: 'default',
  inWorkflow: false,
};

export class TestActivityEnvironment {
  readonly heartbeats: RecordedHeartbeat[] = [];
  private readonly activity: Activity;

  constructor(info: Partial<Info> = {}) {
    const made = Date.now();
    this.activity = new Activity(
      { ...INFO, ...info },
      undefined,
      loadDataConverter(),
      { type: 'activity', namespace: 'default', activityId: 'test', isLocal: false },
      undefined,
      (details?: unknown) => this.heartbeats.push({ atMs: Date.now() - made, details }),
      undefined,
      new DefaultLogger('ERROR'), // an activity failing is what some tests expect: no warnings for it
      noopMetricMeter,
      [],
    );
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.activity.runNoEncoding(fn, { args: [], headers: {} }) as Promise<T>;
  }

  /** What the worker does when the server answers a heartbeat with "cancel requested". */
  cancel(): void {
    this.activity.cancel('CANCELLED', new ActivityCancellationDetails({ cancelRequested: true }));
  }
}
