// How a migration fails, for people and for scripts (`podferry migrate --json` prints `type`): the failure
// types the workflows end with, and the one walker of error chains (workflow → activity → its error) that
// every caller uses. Pure: safe inside the workflow sandbox.
import { ApplicationFailure } from '@temporalio/common';

/** The workflow's own outcome when it does not succeed. */
export const OUTCOME_FAILURES = {
  /** Rolled back: the workload runs at the source again (thawed, or restored from its checkpoint). */
  rolledBack: 'MigrationRolledBack',
  /**
   * Not rolled back all the way: the failure names what is left and where the workload is (the source kept
   * frozen because the target could not be proven stopped, or its checkpoint images kept).
   */
  failed: 'MigrationFailed',
  /** Committed (the target runs the workload), but the frozen source could not be removed: it is named. */
  sourceNotRemoved: 'SourceNotRemoved',
  /** The source stayed frozen for options.maxFrozenSeconds before the commit: rolled back. */
  frozenTooLong: 'FrozenTooLong',
  /** The request itself is malformed (which field, which value): nothing was done. */
  invalidInput: 'InvalidInput',
} as const;

/** Why a pod cannot be migrated (refused while planning, before anything is done). */
export const REFUSALS = [
  'PodNotFound',
  'PodNotRunning',
  'PodTerminating',
  'PodNotScheduled',
  'PodLocked',
  'ContainerNotRunning',
  'HostNamespaceNotSupported',
  'VolumeCannotMove',
  'ControllerOwnedPod',
  /** A ReplicaSet's pod (AdoptByReplicaSet): what its hand-over to the restored copy needs. */
  'PodNotReady',
  'RolloutInProgress',
  'ReplicaSetNotSettled',
  'OwnerNotFound',
  'OwnerBusy',
  /** A Deployment's pod to another cluster or namespace: an autoscaler would undo the scaling; the target's Deployment would not adopt it. */
  'HpaManagesReplicas',
  'TargetDeploymentDiffers',
  'StaticPod',
  'SidecarNotSupported',
  'AlreadyOnTargetNode',
  'TargetNamespaceMissing',
  'TargetPodExists',
  'UnknownTargetNode',
  'UnknownCluster',
  'ProtectedNamespace',
  'SecretsToOtherNamespace',
  'TargetNodeUnschedulable',
] as const;

export type OutcomeFailureType = (typeof OUTCOME_FAILURES)[keyof typeof OUTCOME_FAILURES];
export type RefusalType = (typeof REFUSALS)[number];

/** The errors of a chain, outermost first (a workflow failure, the activity failure, the activity's error). */
export function errorChain(err: unknown): Error[] {
  const chain: Error[] = [];
  for (let current = err; current instanceof Error && !chain.includes(current); current = (current as { cause?: unknown }).cause) {
    chain.push(current);
  }
  return chain;
}

/** The SDK's wrapper messages, which say only where a failure happened. */
const WRAPPER = /^(Activity task (failed|timed out)|Child Workflow execution failed)$/;

/** The most useful message of an error: the first in its chain that is not an SDK wrapper. */
export function errorMessage(err: unknown): string {
  const useful = errorChain(err).find((e) => e.message && !WRAPPER.test(e.message));
  return useful?.message ?? (err instanceof Error ? err.message : String(err));
}

/** The first ApplicationFailure of a chain: its type (e.g. MigrationRolledBack, PodLocked) and message. */
export function failureOf(err: unknown): { type?: string; reason: string } {
  const failure = errorChain(err).find((e): e is ApplicationFailure => e instanceof ApplicationFailure);
  if (failure) return { ...(failure.type ? { type: failure.type } : {}), reason: failure.message };
  return { reason: errorMessage(err) };
}
