// Whether a HorizontalPodAutoscaler manages the replicas of the owner whose pod moves to another cluster or
// namespace, on either side: the move changes both owners' replicas by one, which an autoscaler would undo (at the
// target, deleting the moved pod with it). Pure: unit-tested without a cluster.
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../api/migration-plan.js';
import type { Refusal } from '../kubernetes/eligibility.js';

/** The HorizontalPodAutoscalers of the source namespace (source cluster) and of the target namespace (target cluster). */
export interface Autoscalers {
  source: V2HorizontalPodAutoscaler[];
  target: V2HorizontalPodAutoscaler[];
}

/** One refusal (HpaManagesReplicas) per autoscaler of the owner of that kind and name, source side first. */
export function autoscalerRefusals(owner: { kind: 'Deployment' | 'StatefulSet'; name: string }, autoscalers: Autoscalers, request: PlanMigrationInput, ref: string): Refusal[] {
  const { kind, name } = owner;
  const on = (side: 'source' | 'target') =>
    autoscalers[side]
      .filter((hpa) => hpa.spec?.scaleTargetRef.kind === kind && hpa.spec.scaleTargetRef.name === name)
      .map((hpa) => ({
        type: 'HpaManagesReplicas',
        message:
          `${ref}: HorizontalPodAutoscaler ${request[side].namespace}/${hpa.metadata?.name} in cluster ${request[side].cluster} manages the replicas of ${kind} ${name}, ` +
          `so it would undo the move's scaling by one${side === 'target' ? ' (and with it delete the moved pod)' : ''}: move the pod to another node of its cluster, ` +
          `or take the ${kind} out of its hands for the move (kubectl --context ${request[side].cluster} -n ${request[side].namespace} delete hpa ${hpa.metadata?.name}; create it again after)`,
      }));
  return [...on('source'), ...on('target')];
}
