// The plan of moving a StatefulSet's pod within its cluster: DeleteThenCreate with its name fenced, and the
// preconditions refused with their reasons (out of the namespace: statefulset-move.test.ts).
import { describe, expect, test } from '@jest/globals';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import { targetPodName, type MigrationFacts } from '../../src/planning/migration.js';
import { POD, REVISION, STATEFULSET, statefulSet, statefulSetPod } from '../fixtures/statefulset.js';
import { ownedPodFacts, planOf, refusalsOf } from '../support/plan-decision.js';

/** web-0 of StatefulSet web on lab-a-node, moving to lab-a-node2 of lab-a by default. */
function facts(options: { pod?: V1Pod; statefulSet?: V1StatefulSet | undefined; target?: Partial<PlanMigrationInput['target']> } = {}): MigrationFacts {
  const owner = 'statefulSet' in options ? options.statefulSet : statefulSet();
  return ownedPodFacts(options.pod ?? statefulSetPod(), options.target, owner ? { statefulSet: owner } : {});
}

const ref = `pod default/${POD} in cluster lab-a`;

describe("a StatefulSet's pod to another node of its cluster", () => {
  test('moves by DeleteThenCreate under its own name, which is fenced; the plan names the StatefulSet and the revision and says what happens', () => {
    const plan = planOf(facts());
    expect(plan.strategy).toBe('DeleteThenCreate');
    expect(targetPodName(plan)).toBe(POD);
    expect(plan.statefulSet).toEqual({ statefulSet: { name: STATEFULSET, uid: statefulSet().metadata!.uid }, revision: REVISION });
    expect(plan.replicaSetHandOver).toBeUndefined();
    expect(plan.warnings).toContainEqual(expect.stringContaining(`the pod belongs to StatefulSet ${STATEFULSET}: its name is fenced until the move ends`));
  });

  test('OwnerNotFound: the StatefulSet is gone, replaced (another uid) or being deleted', () => {
    expect(refusalsOf(facts({ statefulSet: undefined }))[0]).toMatchObject({ type: 'OwnerNotFound', message: expect.stringContaining(`its StatefulSet ${STATEFULSET} (uid`) });
    expect(refusalsOf(facts({ statefulSet: statefulSet({ metadata: { uid: 'other' } }) }))[0]?.type).toBe('OwnerNotFound');
    const deleting = statefulSet({ metadata: { deletionTimestamp: new Date() } });
    expect(refusalsOf(facts({ statefulSet: deleting }))[0]).toMatchObject({ type: 'OwnerNotFound', message: expect.stringContaining('is being deleted') });
  });

  test.each([
    ['its controller has not observed the latest spec', { metadata: { generation: 3 } }, 'its controller has observed generation 2 of 3'],
    ['a new revision replaces the current one', { status: { updateRevision: `${STATEFULSET}-85d4f9b7c` } }, `revision ${REVISION} is being replaced by ${STATEFULSET}-85d4f9b7c`],
  ])('RolloutInProgress: %s', (_, overrides, why) => {
    const [refusal] = refusalsOf(facts({ statefulSet: statefulSet(overrides) }));
    expect(refusal).toEqual({
      type: 'RolloutInProgress',
      message: `${ref}: a rollout of StatefulSet ${STATEFULSET} is in progress (${why}), so it replaces its pods: wait until it is complete (kubectl rollout status -n default statefulset/${STATEFULSET}), then retry`,
    });
  });

  test('PodNotOfCurrentRevision: with RollingUpdate the StatefulSet would delete a restored pod of an older revision', () => {
    const [refusal] = refusalsOf(facts({ pod: statefulSetPod({ revision: `${STATEFULSET}-old` }) }));
    expect(refusal?.type).toBe('PodNotOfCurrentRevision');
    expect(refusal?.message).toContain(`is of revision ${STATEFULSET}-old of StatefulSet ${STATEFULSET}, whose current revision is ${REVISION}`);
  });

  test('with OnDelete a pod of an older revision moves, keeping its revision (the StatefulSet keeps such pods)', () => {
    const onDelete = statefulSet({ spec: { updateStrategy: { type: 'OnDelete' } }, status: { currentRevision: `${STATEFULSET}-old` } });
    const plan = planOf(facts({ statefulSet: onDelete, pod: statefulSetPod({ revision: `${STATEFULSET}-old`, owner: onDelete }) }));
    expect(plan.statefulSet?.revision).toBe(`${STATEFULSET}-old`);
  });
});
