// After the commit of a move to another cluster or namespace, the steps that hand the restored copy from the
// source's owner (Deployment, StatefulSet) to the target's. They run forward only, one after another: a step that
// fails leaves the source frozen, and the failure lists that step and every one after it as commands to run by hand.
// The steps both moves share are here: the copy's labels given back, and its adoption awaited.
import { proxyActivities } from '@temporalio/workflow';
import type { MigrationPlan } from '../api/migration-plan.js';
import type { PodIdentity } from '../api/migration.js';
import { ANNOTATIONS } from '../api/names.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';
import { persistent, podWait } from './timing.js';

const clusterPersistent = proxyActivities<OrchestratorActivities>(persistent());
/** How long the target's owner may take to adopt the copy once it has its labels (measured: 13-40 ms). */
const ADOPTION_SECONDS = 30;
const adoptionWait = proxyActivities<OrchestratorActivities>(podWait(ADOPTION_SECONDS));

/** One step after the commit: what it does (for the failure), the command that does it by hand, and the step. */
export interface HandOverStep {
  what: string;
  byHand: string;
  run: () => Promise<unknown>;
}

/** What a failed step after the commit becomes: committed, the source left frozen, byHand what is left to do. */
export type CommittedBut = (what: string, err: unknown, byHand: string[]) => Error;

export async function runHandOverSteps(steps: HandOverStep[], committedBut: CommittedBut): Promise<void> {
  for (const [i, step] of steps.entries()) {
    try {
      await step.run();
    } catch (err) {
      throw committedBut(step.what, err, steps.slice(i).map((s) => s.byHand));
    }
  }
}

/** kubectl in that cluster and namespace. */
export function kubectl(at: { cluster: string; namespace: string }): string {
  return `kubectl --context ${at.cluster} -n ${at.namespace}`;
}

/** The copy gets the source's labels back (and loses their stash), for the target's owner to adopt it; labelled() is called right after. */
export function labelsBackStep(plan: MigrationPlan, copy: PodIdentity, labelled: () => void): HandOverStep {
  const labels = plan.sourcePod.metadata.labels ?? {};
  return {
    what: `giving the restored pod ${copy.namespace}/${copy.name} in cluster ${copy.cluster} its labels back`,
    byHand:
      `${kubectl(copy)} label pod ${copy.name} ${Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(' ')} && ` +
      `${kubectl(copy)} annotate pod ${copy.name} ${ANNOTATIONS.stashedLabels}-`,
    run: async () => {
      await clusterPersistent.handOverToReplicaSet({
        cluster: copy.cluster,
        namespace: copy.namespace,
        copy: { name: copy.name, migrationId: plan.migrationId, sourceUid: plan.source.uid },
        labels,
      });
      labelled();
    },
  };
}

/** Waits until the target's owner (e.g. "ReplicaSet web-7d9f8c6b5", of that uid) owns the copy. */
export function adoptionStep(copy: PodIdentity, owner: { kind: string; name: string; uid: string }): HandOverStep {
  return {
    what: `waiting for ${owner.kind} ${owner.name} to adopt the restored pod ${copy.name} in cluster ${copy.cluster}`,
    byHand: `check that ${owner.kind} ${owner.name} owns the pod: ${kubectl(copy)} get pod ${copy.name} -o jsonpath='{.metadata.ownerReferences[*].name}'`,
    run: () => adoptionWait.awaitPodOwner({ ...copy, ownerUid: owner.uid, timeoutSeconds: ADOPTION_SECONDS }),
  };
}
