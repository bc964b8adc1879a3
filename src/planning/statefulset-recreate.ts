// A StatefulSet's pod moving within its namespace, decided from what planMigration read: whether the StatefulSet
// is settled enough to take the restored pod back. Pure: unit-tested without a cluster.
//
// Why (measured on the lab, issue 16): a StatefulSet's pod name is its identity, so the restored pod must have
// it, and the source must be gone first (DeleteThenCreate). The StatefulSet recreates a missing pod 10–37 ms
// after the old object is gone: podferry fences the name (POD_NAME_FENCE) so that create is refused, and the
// restored pod, which carries the migration id, passes. The StatefulSet adopts the restored pod if its
// `controller-revision-hash` is the StatefulSet's update revision; with RollingUpdate a pod of another revision
// it deletes (to update it), so a rollout in progress, or a pod left at an older revision, is refused.
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { StatefulSetRecreate } from '../api/migration-plan.js';
import { CONTROLLER_REVISION_HASH } from '../api/names.js';
import type { Refusal } from '../kubernetes/eligibility.js';
import { controllingOwner } from './replicaset-handover.js';

/** The pod's controlling StatefulSet, from its ownerReferences. */
export function controllingStatefulSet(pod: V1Pod): { name: string; uid: string } | undefined {
  return controllingOwner(pod, 'StatefulSet');
}

/**
 * Why the StatefulSet would not keep the restored pod now, each with what to do; empty: it would. `ref` names the
 * pod for the messages; statefulSet undefined: not found.
 */
export function statefulSetRefusals(pod: V1Pod, statefulSet: V1StatefulSet | undefined, ref: string): Refusal[] {
  const owner = controllingStatefulSet(pod)!;
  const ns = pod.metadata?.namespace;
  if (!statefulSet || statefulSet.metadata?.uid !== owner.uid) {
    return [{ type: 'OwnerNotFound', message: `${ref}: its StatefulSet ${owner.name} (uid ${owner.uid}) no longer exists; the pod is being orphaned or replaced: retry once it has settled` }];
  }
  if (statefulSet.metadata?.deletionTimestamp) {
    return [{ type: 'OwnerNotFound', message: `${ref}: its StatefulSet ${owner.name} is being deleted, and its pods with it: nothing to move` }];
  }
  const rollout = rolloutInProgress(statefulSet);
  if (rollout) {
    return [
      {
        type: 'RolloutInProgress',
        message: `${ref}: a rollout of StatefulSet ${owner.name} is in progress (${rollout}), so it replaces its pods: wait until it is complete (kubectl rollout status -n ${ns} statefulset/${owner.name}), then retry`,
      },
    ];
  }
  const revision = pod.metadata?.labels?.[CONTROLLER_REVISION_HASH];
  const current = statefulSet.status?.updateRevision;
  // OnDelete keeps pods of older revisions until someone deletes them; RollingUpdate replaces them.
  if (revision !== current && statefulSet.spec?.updateStrategy?.type !== 'OnDelete') {
    return [
      {
        type: 'PodNotOfCurrentRevision',
        message:
          `${ref} is of revision ${revision ?? '(none)'} of StatefulSet ${owner.name}, whose current revision is ${current ?? '(none)'}: the StatefulSet would delete the restored pod to update it; ` +
          `let the rollout update the pod first (kubectl rollout status -n ${ns} statefulset/${owner.name}), then retry`,
      },
    ];
  }
  return [];
}

/** Why the StatefulSet's rollout is not complete, or undefined when it is. */
export function rolloutInProgress(statefulSet: V1StatefulSet): string | undefined {
  const generation = statefulSet.metadata?.generation ?? 0;
  const observed = statefulSet.status?.observedGeneration ?? 0;
  if (observed < generation) return `its controller has observed generation ${observed} of ${generation}`;
  const { currentRevision, updateRevision } = statefulSet.status ?? {};
  // OnDelete never makes them equal by itself: only the pod's own revision matters then (checked above).
  if (statefulSet.spec?.updateStrategy?.type !== 'OnDelete' && currentRevision !== updateRevision) {
    return `revision ${currentRevision ?? '(none)'} is being replaced by ${updateRevision ?? '(none)'}`;
  }
  return undefined;
}

/** The plan's StatefulSet part for a pod whose preconditions hold. */
export function plannedStatefulSetRecreate(pod: V1Pod, statefulSet: V1StatefulSet): StatefulSetRecreate {
  return { statefulSet: controllingStatefulSet(pod)!, revision: pod.metadata?.labels?.[CONTROLLER_REVISION_HASH] ?? statefulSet.status?.updateRevision ?? '' };
}
