// A StatefulSet's pod moving to another cluster or namespace (strategy CreateThenDelete with a statefulSetMove),
// decided from what planMigration read: which ordinal moves and how both StatefulSets' ranges change
// (statefulset-split.ts), what refuses it, and what the move changes in both clusters, told as warnings. Its
// StatefulSet's own preconditions (owner, rollout, revision) are statefulset-recreate.ts's. Pure: unit-tested
// without a cluster.
//
// How (measured on the lab, issue 16): the restored pod, created under the ordinal's name without labels or owner,
// holds the name; once the target's StatefulSet of the same name (made with no replicas when missing) has the
// ordinal in its range, its own create of the name fails, and the pod's labels given back make it adopt the pod.
// Then the source's StatefulSet gives the ordinal up and does not recreate the frozen source podferry deletes.
// Refused besides: an autoscaler that would undo the replica counts, a pod whose name is no ordinal of its
// StatefulSet, a target StatefulSet mid-rollout.
import type { V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import type { PlanMigrationInput, StatefulSetMove } from '../api/migration-plan.js';
import type { Refusal } from '../kubernetes/eligibility.js';
import { autoscalerRefusals, type Autoscalers } from './autoscalers.js';
import { controllingStatefulSet, rolloutInProgress } from './statefulset-recreate.js';
import { describeRange, podOrdinal, splitOrdinals } from './statefulset-split.js';

/** What planMigration read for a StatefulSet's move, besides the source's StatefulSet. */
export interface StatefulSetMoveFacts {
  /** The StatefulSet of the source's name in the target namespace (undefined: none there). */
  targetStatefulSet: V1StatefulSet | undefined;
  /** The Service the source's spec.serviceName names, in the target namespace (undefined: none there, or no serviceName). */
  targetService: V1Service | undefined;
  autoscalers: Autoscalers;
}

/**
 * The plan's part for the pod of a StatefulSet (whose own preconditions hold) leaving its cluster or namespace, or
 * why it cannot, each with what to do. facts: undefined when planMigration did not read them.
 */
export function plannedStatefulSetMove(
  pod: V1Pod,
  statefulSet: V1StatefulSet,
  facts: StatefulSetMoveFacts | undefined,
  request: PlanMigrationInput,
): { move: StatefulSetMove } | { refused: Refusal[] } {
  const { source, target } = request;
  const ref = `pod ${source.namespace}/${source.pod} in cluster ${source.cluster}`;
  const owner = controllingStatefulSet(pod)!;
  if (!facts) throw new Error(`StatefulSet ${owner.name} owns the pod, but the target's StatefulSet and the autoscalers were not read`);
  const ordinal = podOrdinal(source.pod, owner.name);
  if (ordinal === undefined) {
    return {
      refused: [
        {
          type: 'OrdinalUnknown',
          message:
            `${ref} is controlled by StatefulSet ${owner.name}, but its name is not ${owner.name}-<ordinal>, so podferry cannot tell which ordinal moves: ` +
            'move it to another node of its cluster (same namespace)',
        },
      ],
    };
  }
  const at = `${target.cluster}/${target.namespace}`;
  const autoscaled = autoscalerRefusals({ kind: 'StatefulSet', name: owner.name }, facts.autoscalers, request, ref);
  const rollout = facts.targetStatefulSet && rolloutInProgress(facts.targetStatefulSet);
  const targetRollingOut: Refusal[] = rollout
    ? [
        {
          type: 'RolloutInProgress',
          message:
            `${ref}: a rollout of StatefulSet ${owner.name} in ${at} is in progress (${rollout}), so it replaces its pods: ` +
            `wait until it is complete (kubectl --context ${target.cluster} rollout status -n ${target.namespace} statefulset/${owner.name}), then retry`,
        },
      ]
    : [];
  const split = splitOrdinals(statefulSet, facts.targetStatefulSet, ordinal, ref, at);
  const refused = [...autoscaled, ...targetRollingOut, ...('refused' in split ? [split.refused] : [])];
  if (refused.length > 0 || 'refused' in split) return { refused };
  return { move: { ...split, statefulSet: owner, revision: statefulSet.status?.updateRevision ?? '' } };
}

/** What the move changes in both clusters, who may undo it, and a headless Service the target lacks, as the plan's warnings. */
export function statefulSetMoveWarnings(move: StatefulSetMove, statefulSet: V1StatefulSet, facts: StatefulSetMoveFacts, request: PlanMigrationInput): string[] {
  const { source, target } = request;
  const name = move.statefulSet.name;
  const [here, there] = [`${source.cluster}/${source.namespace}`, `${target.cluster}/${target.namespace}`];
  const change = (side: StatefulSetMove['source']) => `${describeRange(side.before)} → ${describeRange(side.after)}`;
  const atTarget = move.target.exists ? change(move.target) : `created with ordinal ${move.ordinal} (0, then 1 replica)`;
  const warnings = [
    `the pod is ordinal ${move.ordinal} of StatefulSet ${name}, which moves: StatefulSet ${name} in ${here}: ${change(move.source)}; in ${there}: ${atTarget}. ` +
      `The restored pod holds the name ${source.pod} without labels until it is Ready; then the target's StatefulSet takes ordinal ${move.ordinal} into its range and adopts the pod ` +
      "once its labels are back, and the source's gives the ordinal up (it does not recreate the frozen source, which podferry deletes)",
    `GitOps tools (Argo CD, Flux) that sync StatefulSet ${name} may revert these ranges (a revert in ${there} deletes the moved pod, one in ${here} starts a fresh, empty ${source.pod}) ` +
      'or prune a StatefulSet podferry made: change what they sync from, or have them ignore spec.replicas and spec.ordinals, before moving',
  ];
  const serviceName = statefulSet.spec?.serviceName;
  const headless = facts.targetService?.spec?.clusterIP === 'None';
  if (serviceName && !headless) {
    warnings.push(
      `StatefulSet ${name}'s headless Service ${serviceName} ${facts.targetService ? 'is not headless' : 'does not exist'} in ${there}, so the pod's DNS name ` +
        `${source.pod}.${serviceName}.${target.namespace}.svc does not resolve there; podferry does not make it: create it there (like the source's) if clients use that name`,
    );
  }
  return warnings;
}
