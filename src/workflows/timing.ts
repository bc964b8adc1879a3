// The timing contract of every workflow: how long each kind of activity may take, how often it is retried,
// and what a cancellation does to it. Long activities heartbeat and honour cancellation (the workers flush
// heartbeats at least every second), so a cancelled step ends within seconds; steps wait for that
// (WAIT_CANCELLATION_COMPLETED), so an undo never races the step it undoes.
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';

/**
 * How soon a long activity whose worker vanished is given up (and retried elsewhere): it heartbeats every
 * second, so a few missed beats mean the worker is gone. This bounds what a crashed worker adds to a freeze.
 */
const VANISHED_WORKER = '6s';

/** Short calls to an API server or the registry inside a migration. */
export const API_CALL: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** Short calls to an API server from the drain and the rebalancer: retried for up to 2 minutes (an API server restarting fails nothing). */
export const OPERATIONS_API_CALL: ActivityOptions = {
  startToCloseTimeout: '60s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
};

/** One kubelet checkpoint: bounded by the checkpoint timeout passed to the kubelet; heartbeats while it waits. */
export const checkpointCall = (timeoutSeconds: number): ActivityOptions => ({
  startToCloseTimeout: `${timeoutSeconds + 60}s`,
  heartbeatTimeout: VANISHED_WORKER,
  retry: { initialInterval: '2s', maximumAttempts: 2 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** The same checkpoint, asked of the source node's own runtime by its worker. */
export const nodeCheckpointCall = (taskQueue: string, timeoutSeconds: number): ActivityOptions => ({ ...checkpointCall(timeoutSeconds), taskQueue });

/** Deleting the frozen source before the commit point: the deletion may wait for the pod object to go. */
export const SOURCE_DELETION: ActivityOptions = {
  startToCloseTimeout: '90s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** Waiting for a pod to become Ready: long, heartbeating (a vanished worker is noticed within 10 s), read-only. */
export const podWait = (timeoutSeconds: number): ActivityOptions => ({
  startToCloseTimeout: `${timeoutSeconds + 30}s`,
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

/**
 * Short work on the source node's own worker. scheduleToClose bounds the wait in the queue too, so a
 * missing node worker fails the step within a minute instead of hanging.
 */
export const nodeLocal = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToCloseTimeout: '60s',
  startToCloseTimeout: '20s',
  heartbeatTimeout: VANISHED_WORKER,
  retry: { initialInterval: '1s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** Moving an archive or an image (push, pull, import): long, heartbeating, resumable. */
export const nodeTransfer = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToCloseTimeout: '30m',
  startToCloseTimeout: '20m',
  heartbeatTimeout: VANISHED_WORKER,
  retry: { initialInterval: '2s', maximumAttempts: 3 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Optional preparation on the target node's worker (pre-pulling base images). A target node without a
 * worker must not delay the migration: give up after 10 s in the queue.
 */
export const targetNodePrep = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToStartTimeout: '10s',
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

/**
 * Asking a node's worker what its runtime can restore while planning: a node without a worker (or one that
 * does not answer) must not hold the plan up: given up after 10 s in the queue, the plan's own checks stand.
 */
export const nodeDescription = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  scheduleToStartTimeout: '10s',
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

/**
 * Proving the target pod stopped before the source resumes: the deletion goes through the target kubelet
 * (a grace period), so the object is gone only once its containers are. An API server that restarts within
 * a few minutes is waited for; past that the source stays frozen (it cannot be proven safe to resume).
 */
export const TARGET_STOP: ActivityOptions = {
  startToCloseTimeout: '90s',
  scheduleToCloseTimeout: '4m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '20s' },
};

/**
 * Resuming the source, cleanups, and everything after the commit: retried for a long time, because giving up means
 * the workload stays frozen (a node worker that comes back within 15 minutes still thaws it; after that the
 * node's own safety net does).
 */
export const persistent = (taskQueue?: string): ActivityOptions => ({
  ...(taskQueue ? { taskQueue } : {}),
  startToCloseTimeout: '60s',
  scheduleToCloseTimeout: '15m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
});

/** Giving a drained node back (the undo of the cordon). */
export const UNCORDON: ActivityOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};
