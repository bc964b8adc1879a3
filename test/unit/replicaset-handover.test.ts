// The plan of moving a ReplicaSet's pod within its cluster (AdoptByReplicaSet): the preconditions refused with
// their reasons, the copy built unselectable, the copy's name, one migration per ReplicaSet.
import { describe, expect, test } from '@jest/globals';
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import { ANNOTATIONS, POD_DELETION_COST } from '../../src/api/names.js';
import { buildTargetPod } from '../../src/kubernetes/target-pod.js';
import { targetPodName, type MigrationFacts } from '../../src/planning/migration.js';
import { replicaSetCopyName, siblingMigrationRefusal } from '../../src/planning/replicaset-handover.js';
import { deployment, POD, REPLICASET, replicaSet, replicaSetPod, TEMPLATE_HASH } from '../fixtures/deployment.js';
import { ownedPodFacts, planOf, refusalsOf } from '../support/plan-decision.js';

/** A pod of Deployment sample (ReplicaSet sample-7d9f8c6b5) on lab-a-node, moving to lab-a-node2 of lab-a by default. */
function facts(
  options: { pod?: V1Pod; replicaSet?: V1ReplicaSet | undefined; deployment?: V1Deployment | undefined; target?: Partial<PlanMigrationInput['target']> } = {},
  overrides: Partial<MigrationFacts> = {},
): MigrationFacts {
  const owners = { replicaSet: 'replicaSet' in options ? options.replicaSet : replicaSet(), deployment: 'deployment' in options ? options.deployment : deployment() };
  return ownedPodFacts(options.pod ?? replicaSetPod(), options.target, { owners, ...overrides });
}

describe("a Deployment's pod to another node of its cluster", () => {
  test('moves by AdoptByReplicaSet: the plan names the ReplicaSet, the Deployment, the copy and says what happens', () => {
    const plan = planOf(facts());
    expect(plan.strategy).toBe('AdoptByReplicaSet');
    expect(plan.replicaSetHandOver).toEqual({
      replicaSet: { name: REPLICASET, uid: replicaSet().metadata!.uid },
      deployment: 'sample',
      copyName: replicaSetCopyName(REPLICASET, 'mig-1'),
    });
    expect(targetPodName(plan)).toBe(replicaSetCopyName(REPLICASET, 'mig-1'));
    expect(plan.warnings).toContainEqual(expect.stringContaining(`it moves as a copy named ${replicaSetCopyName(REPLICASET, 'mig-1')}, which the ReplicaSet adopts once it is Ready`));
  });

  test("the source's own deletion cost is kept for the undo", () => {
    const plan = planOf(facts({ pod: replicaSetPod({ annotations: { [POD_DELETION_COST]: '100' } }) }));
    expect(plan.replicaSetHandOver?.previousDeletionCost).toBe('100');
  });

  test('a bare ReplicaSet (no Deployment) moves too', () => {
    const bare = replicaSet({ metadata: { ownerReferences: undefined } });
    const plan = planOf(facts({ replicaSet: bare, deployment: undefined }));
    expect(plan.replicaSetHandOver).toEqual({ replicaSet: { name: REPLICASET, uid: bare.metadata!.uid }, copyName: replicaSetCopyName(REPLICASET, 'mig-1') });
  });

  test('PodNotReady: the ReplicaSet would rank it below the copy whatever it is worth', () => {
    const [refusal] = refusalsOf(facts({ pod: replicaSetPod({ ready: false }) }));
    expect(refusal?.type).toBe('PodNotReady');
    expect(refusal?.message).toMatch(new RegExp(`^pod default/${POD} in cluster lab-a is not Ready: .*wait until it is Ready \\(kubectl get pod -n default ${POD}\\), then retry$`));
  });

  describe('RolloutInProgress: the controllers are changing the pods', () => {
    test.each([
      ['its controller has not observed the latest spec', { deployment: deployment({ status: { observedGeneration: 3 } }) }, 'its controller has observed generation 3 of 4'],
      ["the pod's ReplicaSet is not the current one", { replicaSet: replicaSet({ metadata: { annotations: { 'deployment.kubernetes.io/revision': '2' } } }) }, `the pod's ReplicaSet ${REPLICASET} is revision 2, the current one is 3`],
      ['not all replicas are updated', { deployment: deployment({ status: { updatedReplicas: 1 } }) }, '1 of 2 replicas updated, 2 in all'],
      ['old pods are still there', { deployment: deployment({ status: { replicas: 3 } }) }, '2 of 2 replicas updated, 3 in all'],
      ['the Deployment is gone', { deployment: undefined }, 'Deployment sample was not found'],
    ])('%s', (_, owners, why) => {
      const refused = refusalsOf(facts(owners));
      expect(refused.map((r) => r.type)).toEqual(['RolloutInProgress']);
      expect(refused[0]!.message).toBe(
        `pod default/${POD} in cluster lab-a: a rollout of Deployment sample is in progress (${why}), so its ReplicaSets are changing their pods: ` +
          'wait until it is complete (kubectl rollout status -n default deployment/sample), then retry',
      );
    });
  });

  test.each([
    ['a sibling is not Ready', { readyReplicas: 1 }, {}, 'has 1 of 2 pods Ready'],
    ['it is scaling', { replicas: 3 }, {}, 'has 3 pods for 2 replicas (it is scaling)'],
    ['it has not observed its spec', { observedGeneration: 1 }, {}, 'has not observed its latest spec yet (generation 1 of 2)'],
  ])('ReplicaSetNotSettled: %s', (_, status, spec, why) => {
    const bare = replicaSet({ metadata: { ownerReferences: undefined }, status, spec });
    const refused = refusalsOf(facts({ replicaSet: bare, deployment: undefined }));
    expect(refused.map((r) => r.type)).toEqual(['ReplicaSetNotSettled']);
    expect(refused[0]!.message).toContain(`its ReplicaSet ${REPLICASET} ${why}; at the hand-over it would delete a pod that is not Ready instead of the frozen source`);
  });

  test('OwnerNotFound: the ReplicaSet is gone, replaced (another uid) or being deleted', () => {
    expect(refusalsOf(facts({ replicaSet: undefined })).map((r) => r.type)).toEqual(['OwnerNotFound']);
    expect(refusalsOf(facts({ replicaSet: replicaSet({ metadata: { uid: 'another' } }) }))[0]!.message).toContain(`its ReplicaSet ${REPLICASET} (uid ${replicaSet().metadata!.uid}) no longer exists`);
    expect(refusalsOf(facts({ replicaSet: replicaSet({ metadata: { deletionTimestamp: new Date() } }) }))[0]!.message).toContain('is being deleted');
  });

  test('TargetPodExists: a pod of the copy\'s name that this migration did not make', () => {
    const other = replicaSetPod({ name: replicaSetCopyName(REPLICASET, 'mig-1'), uid: 'other-uid' });
    const [refusal] = refusalsOf(facts({}, { podAtTarget: other }));
    expect(refusal?.type).toBe('TargetPodExists');
    expect(refusal?.message).toContain(`a pod named ${replicaSetCopyName(REPLICASET, 'mig-1')} already exists in lab-a/default`);
  });

  test('AlreadyOnTargetNode: to the node it runs on', () => {
    expect(refusalsOf(facts({ target: { node: 'lab-a-node' } })).map((r) => r.type)).toEqual(['AlreadyOnTargetNode']);
  });
});

describe("the copy's name", () => {
  test("like the ReplicaSet's own pods, the same for every retry of a migration, another for another migration", () => {
    const name = replicaSetCopyName(REPLICASET, 'mig-1');
    expect(name).toMatch(new RegExp(`^${REPLICASET}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    expect(replicaSetCopyName(REPLICASET, 'mig-1')).toBe(name);
    expect(replicaSetCopyName(REPLICASET, 'mig-2')).not.toBe(name);
  });

  test('a long ReplicaSet name is cut as generateName cuts it: at most 63 characters in all', () => {
    expect(replicaSetCopyName('a'.repeat(70), 'mig-1')).toHaveLength(63);
  });
});

describe('the restored copy as created', () => {
  test('no labels (stashed in an annotation), no ownerReference, its own name; the deletion cost the source had', () => {
    const plan = planOf(facts({ pod: replicaSetPod({ annotations: { [POD_DELETION_COST]: '100' } }) }));
    const copy = buildTargetPod({
      source: plan.sourcePod,
      sourceCluster: 'lab-a',
      targetNamespace: 'default',
      targetNode: 'lab-a-node2',
      images: { counter: 'r@sha256:1', kv: 'r@sha256:2', ballast: 'r@sha256:3' },
      migrationId: 'mig-1',
      name: targetPodName(plan),
      stashLabels: true,
    });
    expect(copy.metadata?.name).toBe(replicaSetCopyName(REPLICASET, 'mig-1'));
    expect(copy.metadata?.labels).toBeUndefined();
    expect(copy.metadata?.ownerReferences).toBeUndefined();
    expect(JSON.parse(copy.metadata!.annotations![ANNOTATIONS.stashedLabels]!)).toEqual({ 'app.kubernetes.io/name': 'podferry-sample', tier: 'demo', 'pod-template-hash': TEMPLATE_HASH });
    expect(copy.metadata?.annotations?.[POD_DELETION_COST]).toBe('100');
    expect(copy.metadata?.annotations?.[ANNOTATIONS.migrationId]).toBe('mig-1');
  });
});

describe('one migration per ReplicaSet at a time', () => {
  const source = replicaSetPod();
  const sibling = (annotations: Record<string, string>, owner = replicaSet()) => replicaSetPod({ name: `${REPLICASET}-b7n2m`, uid: 'sibling-uid', annotations, owner });

  test('OwnerBusy: a sibling is locked by another migration', () => {
    const refusal = siblingMigrationRefusal([source, sibling({ [ANNOTATIONS.lock]: 'mig-2' })], source, 'mig-1', `pod default/${POD}`);
    expect(refusal).toEqual({
      type: 'OwnerBusy',
      message: `pod default/${POD}: pod ${REPLICASET}-b7n2m of the same ReplicaSet ${REPLICASET} is being migrated by mig-2; one pod of a ReplicaSet moves at a time: wait for it (podferry status mig-2), then retry`,
    });
  });

  test('no refusal: siblings unlocked, the source locked by this migration, a locked pod of another ReplicaSet', () => {
    const locked = { ...source, metadata: { ...source.metadata, annotations: { [ANNOTATIONS.lock]: 'mig-1' } } };
    const otherSet = replicaSet({ metadata: { name: 'api-5c4b', uid: 'api-uid' } });
    expect(siblingMigrationRefusal([locked, sibling({}), sibling({ [ANNOTATIONS.lock]: 'mig-3' }, otherSet)], locked, 'mig-1', 'pod')).toBeUndefined();
  });
});
