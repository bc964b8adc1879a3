// The steps a StatefulSet's pod adds to its move to another cluster or namespace (CreateThenDelete with
// plan.statefulSetMove, planning/statefulset-move.ts).
//
// Before the freeze: the target namespace's StatefulSet of the name is made ready (created from the source's with an
// empty range starting at the ordinal when missing) and must reach the source's revision, else the move stops while
// nothing is frozen. Undone on rollback: deleted if this migration made it and it still has no replicas.
// Unlike a Deployment's move no fence is needed: until the commit the target's range excludes the ordinal, so its
// StatefulSet creates no pod of that name; once the range includes it, the restored copy holds the name, so its own
// create fails until the copy's labels are back and it adopts the copy.
//
// After the commit (the copy, without labels or owner, Ready), forward only: the target's range takes the ordinal in,
// the copy gets its labels back and is adopted, and the source's range gives the ordinal up, so that its StatefulSet
// does not recreate the frozen source, which migratePod then deletes. A step that fails leaves the source frozen, and
// the failure lists what is left to do by hand.
import { proxyActivities } from '@temporalio/workflow';
import type { PreparedStatefulSet } from '../activities/statefulsets.js';
import type { MigrationPlan, OrdinalRange } from '../api/migration-plan.js';
import type { PodIdentity } from '../api/migration.js';
import { describeRange } from '../planning/statefulset-split.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';
import { adoptionStep, kubectl, labelsBackStep, runHandOverSteps, type CommittedBut, type HandOverStep } from './hand-over-steps.js';
import type { Saga } from './saga.js';
import { persistent, podWait } from './timing.js';

const clusterPersistent = proxyActivities<OrchestratorActivities>(persistent());
/** How long the target's StatefulSet controller may take to observe the StatefulSet and show its update revision. */
const TARGET_STATEFULSET_SECONDS = 60;
const targetStatefulSetWait = proxyActivities<OrchestratorActivities>(podWait(TARGET_STATEFULSET_SECONDS));

/**
 * Before the freeze: the target's StatefulSet, of the source's revision, its range as planned (the ordinal not in it).
 * Undone (cleanup): deleted if this migration created it and it still has no replicas.
 */
export async function prepareTargetStatefulSet(plan: MigrationPlan, saga: Saga): Promise<PreparedStatefulSet> {
  const move = plan.statefulSetMove!;
  const target = { cluster: plan.target.cluster, namespace: plan.target.namespace };
  saga.onFailureCleanUp('delete the target StatefulSet this migration created', () =>
    clusterPersistent.deleteCreatedStatefulSet({ migrationId: plan.migrationId, ...target, name: move.statefulSet.name }),
  );
  return targetStatefulSetWait.prepareTargetStatefulSet({
    migrationId: plan.migrationId,
    source: { cluster: plan.source.cluster, namespace: plan.source.namespace, ...move.statefulSet },
    target,
    ordinal: move.ordinal,
    range: move.target.before,
    revision: move.revision,
    timeoutSeconds: TARGET_STATEFULSET_SECONDS,
  });
}

/**
 * After the commit: the ordinal handed from the source's StatefulSet to the target's, which adopts the copy. Returns
 * when the copy got its labels back (it serves through the StatefulSet's Services from then on). A step that fails
 * throws what committedBut makes of it, with the steps left to do by hand.
 */
export async function handOverToTargetStatefulSet(plan: MigrationPlan, copy: PodIdentity, prepared: PreparedStatefulSet, committedBut: CommittedBut): Promise<{ labelledAt: number }> {
  const move = plan.statefulSetMove!;
  const name = move.statefulSet.name;
  const source = { cluster: plan.source.cluster, namespace: plan.source.namespace, name, uid: move.statefulSet.uid };
  const target = { cluster: plan.target.cluster, namespace: plan.target.namespace, name, uid: prepared.uid };
  let labelledAt = 0;
  await runHandOverSteps(
    [
      rangeStep(target, move.target, `ordinal ${move.ordinal} joins its range; its own create of ${copy.name} fails on the restored pod, which holds the name`),
      labelsBackStep(plan, copy, () => (labelledAt = Date.now())),
      adoptionStep(copy, { kind: 'StatefulSet', ...target }),
      rangeStep(source, move.source, `ordinal ${move.ordinal} leaves its range; it does not recreate the frozen source`),
    ],
    committedBut,
  );
  return { labelledAt };
}

/** One StatefulSet's range changed as planned (only from `before`), and why that matters, for the failure. */
function rangeStep(at: { cluster: string; namespace: string; name: string; uid: string }, change: { before: OrdinalRange; after: OrdinalRange }, why: string): HandOverStep {
  const { before, after } = change;
  const patch = JSON.stringify({ spec: { ordinals: { start: after.start }, replicas: after.replicas } });
  return {
    what: `setting the range of StatefulSet ${at.namespace}/${at.name} in cluster ${at.cluster} from ${describeRange(before)} to ${describeRange(after)} (${why})`,
    byHand: `${kubectl(at)} patch statefulset ${at.name} --type=merge -p '${patch}' (if it still runs ${describeRange(before)})`,
    run: () => clusterPersistent.setStatefulSetOrdinals({ ...at, from: before, to: after }),
  };
}
