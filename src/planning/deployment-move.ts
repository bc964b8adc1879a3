// A Deployment's pod moving to another cluster or namespace (strategy CreateThenDelete with a deploymentMove),
// decided from what planMigration read: whether both Deployments are settled enough for it, what the plan
// carries, and what the move changes in both clusters, told as warnings. Pure: unit-tested without a cluster.
//
// How (measured on the lab, issue 16): the Deployment controller gives a pod template the same pod-template-hash
// in every cluster, and a ReplicaSet adopts an orphan pod matching its selector (hash included) within 20-40 ms,
// creating no pod. So the restored copy, made without labels or owner, is handed to the Deployment of the same
// name in the target namespace (made with 0 replicas when missing): its ReplicaSet's pod creation fenced, the
// Deployment scaled up by one, the copy's labels given back. Then the source's Deployment is scaled down by one,
// and its ReplicaSet deletes its cheapest pod: the frozen source, which has the lowest pod-deletion-cost.
// Refused: a scale an autoscaler would undo, a target Deployment whose ReplicaSet would not adopt the copy, and
// a bare ReplicaSet's pod, which has no owner to carry over: podferry would have to make a ReplicaSet at the
// target that nothing manages (no rollouts, no template hash to prove what it adopts).
import type { V1Deployment, V1LabelSelector, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { DeploymentMove, PlanMigrationInput } from '../api/migration-plan.js';
import { POD_DELETION_COST, POD_TEMPLATE_HASH } from '../api/names.js';
import type { Refusal } from '../kubernetes/eligibility.js';
import { autoscalerRefusals, type Autoscalers } from './autoscalers.js';
import { controllingDeployment, controllingReplicaSet, currentReplicaSet, replicaSetGoneRefusal, REVISION_ANNOTATION, rolloutInProgress, unsettledRefusals, type ReplicaSetOwners } from './replicaset-handover.js';

/** What planMigration read for a Deployment's move, besides the source's owners. */
export interface DeploymentMoveFacts {
  /** The Deployment of the source Deployment's name in the target namespace (undefined: none there). */
  targetDeployment: V1Deployment | undefined;
  /** The ReplicaSets of the target namespace (those of the target Deployment among them). */
  targetReplicaSets: V1ReplicaSet[];
  autoscalers: Autoscalers;
}

/**
 * Why the pod cannot move to another cluster or namespace with its Deployment now, each with what to do; empty:
 * it can. facts: undefined when planMigration had no Deployment to read them for.
 */
export function deploymentMoveRefusals(pod: V1Pod, owners: ReplicaSetOwners, facts: DeploymentMoveFacts | undefined, request: PlanMigrationInput): Refusal[] {
  const { source, target } = request;
  const ref = `pod ${source.namespace}/${source.pod} in cluster ${source.cluster}`;
  const gone = replicaSetGoneRefusal(pod, owners.replicaSet, ref);
  if (gone) return [gone];
  const name = controllingDeployment(owners.replicaSet!);
  if (!name) {
    return [
      {
        type: 'ControllerOwnedPod',
        message:
          `${ref} is controlled by ReplicaSet ${owners.replicaSet!.metadata?.name}, which no Deployment owns: across clusters and namespaces podferry hands a pod ` +
          'to the Deployment of its name at the target, and a bare ReplicaSet has none (podferry would have to make a ReplicaSet there that nothing manages): ' +
          'move it to another node of its cluster (same namespace), or run it as a Deployment',
      },
    ];
  }
  const unsettled = unsettledRefusals(pod, owners, ref, `when Deployment ${name} is scaled down`);
  if (unsettled.length > 0) return unsettled;
  if (!facts) throw new Error(`Deployment ${name} owns the pod, but the target's Deployment and the autoscalers were not read`);
  const atTarget = targetDeploymentRefusal(facts, owners.deployment!, pod.metadata?.labels?.[POD_TEMPLATE_HASH] ?? '', ref, target);
  return [...autoscalerRefusals({ kind: 'Deployment', name }, facts.autoscalers, request, ref), ...(atTarget ? [atTarget] : [])];
}

/** The plan's part for a pod whose move with its Deployment was not refused. */
export function plannedDeploymentMove(pod: V1Pod, owners: ReplicaSetOwners, facts: DeploymentMoveFacts): DeploymentMove {
  const deployment = owners.deployment!;
  const atTarget = facts.targetDeployment;
  const previousDeletionCost = pod.metadata?.annotations?.[POD_DELETION_COST];
  return {
    deployment: deployment.metadata!.name!,
    source: { uid: deployment.metadata!.uid!, replicaSet: controllingReplicaSet(pod)!, replicas: deployment.spec?.replicas ?? 1 },
    target: { exists: atTarget !== undefined, replicas: atTarget ? (atTarget.spec?.replicas ?? 1) : 0 },
    templateHash: pod.metadata?.labels?.[POD_TEMPLATE_HASH] ?? '',
    ...(previousDeletionCost !== undefined ? { previousDeletionCost } : {}),
  };
}

/** What the move changes in both clusters, and who may undo it, as the plan's warnings. */
export function deploymentMoveWarnings(move: DeploymentMove, request: PlanMigrationInput): string[] {
  const { source, target } = request;
  const name = move.deployment;
  const there = `${target.cluster}/${target.namespace}`;
  const atTarget = move.target.exists
    ? `scales Deployment ${name} in ${there} from ${move.target.replicas} to ${move.target.replicas + 1}`
    : `creates Deployment ${name} in ${there} (a copy of the source's: 0, then 1 replica)`;
  return [
    `the pod belongs to Deployment ${name}: the move scales Deployment ${name} in ${source.cluster}/${source.namespace} from ${move.source.replicas} to ${move.source.replicas - 1} ` +
      `and ${atTarget}. The restored pod gets its labels once it is Ready and the target's ReplicaSet adopts it (creating no pod meanwhile); ` +
      `then the source's ReplicaSet deletes the frozen source, which has the lowest ${POD_DELETION_COST}`,
    `GitOps tools (Argo CD, Flux) that sync Deployment ${name} may revert these replica counts (a revert in ${there} deletes the moved pod) or prune a Deployment podferry made: ` +
      'change what they sync from, or have them ignore spec.replicas, before moving',
  ];
}

/**
 * A Deployment of the name already in the target namespace: its ReplicaSet must select the copy and have the
 * source pod's template hash, and its rollout be complete (else its ReplicaSets change their pods).
 */
function targetDeploymentRefusal(
  facts: DeploymentMoveFacts,
  source: V1Deployment,
  templateHash: string,
  ref: string,
  target: PlanMigrationInput['target'],
): Refusal | undefined {
  const existing = facts.targetDeployment;
  if (!existing) return undefined;
  const name = existing.metadata?.name;
  const at = `Deployment ${name} in ${target.cluster}/${target.namespace}`;
  const alike = 'make its selector and pod template the source\'s (or delete it: podferry then makes one), or move into another namespace';
  if (canonicalJson(existing.spec?.selector) !== canonicalJson(source.spec?.selector)) {
    return {
      type: 'TargetDeploymentDiffers',
      message: `${ref}: ${at} selects ${describeSelector(existing.spec?.selector)}, the source's selects ${describeSelector(source.spec?.selector)}, so its ReplicaSet would not adopt the moved pod: ${alike}`,
    };
  }
  const current = currentReplicaSet(existing, facts.targetReplicaSets);
  const rollout = current ? rolloutInProgress(existing, current) : `it has no ReplicaSet of its revision ${existing.metadata?.annotations?.[REVISION_ANNOTATION] ?? '(none)'} yet`;
  if (rollout) {
    return {
      type: 'RolloutInProgress',
      message:
        `${ref}: a rollout of ${at} is in progress (${rollout}), so its ReplicaSets are changing their pods: ` +
        `wait until it is complete (kubectl --context ${target.cluster} rollout status -n ${target.namespace} deployment/${name}), then retry`,
    };
  }
  const hash = current!.metadata?.labels?.[POD_TEMPLATE_HASH];
  if (hash !== templateHash) {
    return {
      type: 'TargetDeploymentDiffers',
      message:
        `${ref}: ${at} has pod template hash ${hash ?? '(none)'} (ReplicaSet ${current!.metadata?.name}), the pod's is ${templateHash || '(none)'}: ` +
        `the two Deployments' pod templates differ, so its ReplicaSet would not adopt the moved pod: ${alike}`,
    };
  }
  return undefined;
}

/** A selector as kubectl writes one: app=web,tier in (a,b). */
function describeSelector(selector: V1LabelSelector | undefined): string {
  const labels = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  const expressions = (selector?.matchExpressions ?? []).map((e) => `${e.key} ${e.operator.toLowerCase()}${e.values?.length ? ` (${e.values.join(',')})` : ''}`);
  return [...labels, ...expressions].join(',') || '(everything)';
}

/** JSON with object keys sorted, so that two equal values compare equal as text. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
