// The hand-over of a ReplicaSet's pod to its restored copy (strategy AdoptByReplicaSet), decided from what
// planMigration read: whether the ReplicaSet (and its Deployment) are settled enough for it, the copy's name,
// and whether another migration already works on the same ReplicaSet. Pure: unit-tested without a cluster. Its
// checks of the owners also serve a Deployment's pod leaving its cluster or namespace (deployment-move.ts).
//
// Why these preconditions (measured on the lab, issue 16): when the copy's labels go back, the ReplicaSet has
// one pod too many and deletes the first by its ranking: not Ready before Ready, then the lowest
// pod-deletion-cost. The frozen source has the lowest cost, so it goes, unless a sibling ranks lower (not
// Ready), or the controllers are changing the pods anyway (a rollout, a scale), or a second migration's
// source has the same lowest cost.
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { ReplicaSetHandOver } from '../api/migration-plan.js';
import { ANNOTATIONS, fnv1a32, POD_DELETION_COST } from '../api/names.js';
import type { Refusal } from '../kubernetes/eligibility.js';

/** What planMigration read about the pod's owners; undefined stands for "not found". */
export interface ReplicaSetOwners {
  replicaSet: V1ReplicaSet | undefined;
  /** Read only when the ReplicaSet is controlled by a Deployment. */
  deployment: V1Deployment | undefined;
}

/** The Deployment controller's revision annotation, on a Deployment and on each of its ReplicaSets. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** The characters Kubernetes draws generated name suffixes from (no vowels, no look-alikes). */
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The restored copy's name: like the ReplicaSet's own pods (`<replicaset>-<5 characters>`, the prefix cut to
 * 58 as for generateName), but derived from the migration id, so every retry names the same pod.
 */
export function replicaSetCopyName(replicaSet: string, migrationId: string): string {
  let hash = Number.parseInt(fnv1a32(`${replicaSet}/${migrationId}`), 16);
  let suffix = '';
  for (let i = 0; i < 5; i++) {
    suffix += NAME_SUFFIX_ALPHABET[hash % NAME_SUFFIX_ALPHABET.length];
    hash = Math.floor(hash / NAME_SUFFIX_ALPHABET.length);
  }
  return `${`${replicaSet}-`.slice(0, 58)}${suffix}`;
}

/** An object's controller (its ownerReference with controller: true) if it is of that kind. */
export function controllingOwner(object: V1Pod | V1ReplicaSet, kind: string): { name: string; uid: string } | undefined {
  const owner = object.metadata?.ownerReferences?.find((o) => o.controller && o.kind === kind);
  return owner ? { name: owner.name, uid: owner.uid } : undefined;
}

/** The pod's controlling ReplicaSet, from its ownerReferences. */
export function controllingReplicaSet(pod: V1Pod): { name: string; uid: string } | undefined {
  return controllingOwner(pod, 'ReplicaSet');
}

/** The ReplicaSet's controlling Deployment's name, if it has one. */
export function controllingDeployment(replicaSet: V1ReplicaSet): string | undefined {
  return controllingOwner(replicaSet, 'Deployment')?.name;
}

/**
 * Why the ReplicaSet cannot take the copy over now, each with what to do; empty: it can. `ref` names the pod
 * for the messages.
 */
export function handOverRefusals(pod: V1Pod, owners: ReplicaSetOwners, ref: string): Refusal[] {
  const gone = replicaSetGoneRefusal(pod, owners.replicaSet, ref);
  if (gone) return [gone];
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const notReady: Refusal[] = ready
    ? []
    : [
        {
          type: 'PodNotReady',
          message: `${ref} is not Ready: its ReplicaSet ${owners.replicaSet!.metadata?.name} would rank it below the restored copy whatever it is worth; wait until it is Ready (kubectl get pod -n ${pod.metadata?.namespace} ${pod.metadata?.name}), then retry`,
        },
      ];
  return [...notReady, ...unsettledRefusals(pod, owners, ref, 'at the hand-over')];
}

/** The pod's ReplicaSet is gone, replaced (another uid) or being deleted: nothing takes a pod over. */
export function replicaSetGoneRefusal(pod: V1Pod, replicaSet: V1ReplicaSet | undefined, ref: string): Refusal | undefined {
  const owner = controllingReplicaSet(pod)!;
  if (!replicaSet || replicaSet.metadata?.uid !== owner.uid) {
    return { type: 'OwnerNotFound', message: `${ref}: its ReplicaSet ${owner.name} (uid ${owner.uid}) no longer exists; the pod is being orphaned or replaced: retry once it has settled` };
  }
  if (replicaSet.metadata?.deletionTimestamp) {
    return { type: 'OwnerNotFound', message: `${ref}: its ReplicaSet ${owner.name} is being deleted, and its pods with it: nothing to move` };
  }
  return undefined;
}

/**
 * Why the pod's (existing) ReplicaSet and its Deployment would change their pods on their own: a rollout in
 * progress, a scale, a pod not Ready, which it would delete `when` (e.g. at the hand-over) instead of the frozen source.
 */
export function unsettledRefusals(pod: V1Pod, owners: ReplicaSetOwners, ref: string, when: string): Refusal[] {
  const replicaSet = owners.replicaSet!;
  const name = replicaSet.metadata?.name;
  const ns = pod.metadata?.namespace;
  const deploymentName = controllingDeployment(replicaSet);
  if (deploymentName) {
    const rollout = owners.deployment ? rolloutInProgress(owners.deployment, replicaSet) : `Deployment ${deploymentName} was not found`;
    if (rollout) {
      return [
        {
          type: 'RolloutInProgress',
          message: `${ref}: a rollout of Deployment ${deploymentName} is in progress (${rollout}), so its ReplicaSets are changing their pods: wait until it is complete (kubectl rollout status -n ${ns} deployment/${deploymentName}), then retry`,
        },
      ];
    }
  }
  const unsettled = replicaSetUnsettled(replicaSet);
  if (!unsettled) return [];
  return [
    {
      type: 'ReplicaSetNotSettled',
      message:
        `${ref}: its ReplicaSet ${name} ${unsettled}; ${when} it would delete a pod that is not Ready instead of the frozen source: ` +
        `wait until all its pods are Ready (kubectl get replicaset -n ${ns} ${name}), then retry`,
    },
  ];
}

/** Why the Deployment's rollout is not complete for this ReplicaSet, or undefined when it is. */
export function rolloutInProgress(deployment: V1Deployment, replicaSet: V1ReplicaSet): string | undefined {
  const generation = deployment.metadata?.generation ?? 0;
  const observed = deployment.status?.observedGeneration ?? 0;
  if (observed < generation) return `its controller has observed generation ${observed} of ${generation}`;
  const current = deployment.metadata?.annotations?.[REVISION_ANNOTATION];
  const revision = replicaSet.metadata?.annotations?.[REVISION_ANNOTATION];
  if (current !== revision) return `the pod's ReplicaSet ${replicaSet.metadata?.name} is revision ${revision ?? '(none)'}, the current one is ${current ?? '(none)'}`;
  const wanted = deployment.spec?.replicas ?? 1;
  const updated = deployment.status?.updatedReplicas ?? 0;
  const total = deployment.status?.replicas ?? 0;
  if (updated !== wanted || total !== wanted) return `${updated} of ${wanted} replicas updated, ${total} in all`;
  return undefined;
}

/** The Deployment's ReplicaSet of its current revision among these (a namespace's), if it has one yet. */
export function currentReplicaSet(deployment: V1Deployment, replicaSets: V1ReplicaSet[]): V1ReplicaSet | undefined {
  return replicaSets.find(
    (rs) =>
      rs.metadata?.ownerReferences?.some((o) => o.controller && o.uid === deployment.metadata?.uid) &&
      rs.metadata?.annotations?.[REVISION_ANNOTATION] === deployment.metadata?.annotations?.[REVISION_ANNOTATION],
  );
}

/** Why the ReplicaSet would act on its own at the hand-over, or undefined when it is settled. */
function replicaSetUnsettled(replicaSet: V1ReplicaSet): string | undefined {
  const generation = replicaSet.metadata?.generation ?? 0;
  const observed = replicaSet.status?.observedGeneration ?? 0;
  if (observed < generation) return `has not observed its latest spec yet (generation ${observed} of ${generation})`;
  const wanted = replicaSet.spec?.replicas ?? 1;
  const { replicas, readyReplicas = 0 } = replicaSet.status ?? { replicas: 0 };
  if (replicas !== wanted) return `has ${replicas} pods for ${wanted} replicas (it is scaling)`;
  if (readyReplicas < wanted) return `has ${readyReplicas} of ${wanted} pods Ready`;
  return undefined;
}

/**
 * Another migration works on a pod of the same owner: a ReplicaSet's frozen sources would have the same lowest
 * deletion cost, so either hand-over could delete the other's source; a StatefulSet's would both change its range
 * from the one they planned from. Checked after this migration took its own lock, so of two that start at once each
 * sees the other's lock and both refuse (neither moves; safe).
 */
export function siblingMigrationRefusal(siblings: V1Pod[], pod: V1Pod, migrationId: string, ref: string): Refusal | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller)!;
  const busy = siblings.find(
    (s) =>
      s.metadata?.uid !== pod.metadata?.uid &&
      s.metadata?.ownerReferences?.some((o) => o.controller && o.uid === owner.uid) &&
      (s.metadata?.annotations?.[ANNOTATIONS.lock] ?? migrationId) !== migrationId,
  );
  if (!busy) return undefined;
  const holder = busy.metadata!.annotations![ANNOTATIONS.lock]!;
  return {
    type: 'OwnerBusy',
    message:
      `${ref}: pod ${busy.metadata?.name} of the same ${owner.kind} ${owner.name} is being migrated by ${holder}; one pod of a ${owner.kind} moves at a time: ` +
      `wait for it (podferry status ${holder}), then retry`,
  };
}

/** The plan's hand-over part for a pod whose preconditions hold. */
export function plannedHandOver(pod: V1Pod, owners: ReplicaSetOwners, migrationId: string): ReplicaSetHandOver {
  const owner = controllingReplicaSet(pod)!;
  const deployment = controllingDeployment(owners.replicaSet!);
  const previousCost = pod.metadata?.annotations?.[POD_DELETION_COST];
  return {
    replicaSet: owner,
    ...(deployment ? { deployment } : {}),
    copyName: replicaSetCopyName(owner.name, migrationId),
    ...(previousCost !== undefined ? { previousDeletionCost: previousCost } : {}),
  };
}
