// The plan of moving a StatefulSet's pod to another cluster or namespace (CreateThenDelete with a statefulSetMove):
// what the plan carries and warns about, every refusal with its message, and the target StatefulSet podferry makes.
import { describe, expect, test } from '@jest/globals';
import type { V1Pod, V1Service, V1StatefulSet, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import { ANNOTATIONS, LABELS } from '../../src/api/names.js';
import { buildTargetStatefulSet } from '../../src/kubernetes/target-owner.js';
import { sourceRefusals, targetPodName, type MigrationFacts } from '../../src/planning/migration.js';
import type { StatefulSetMoveFacts } from '../../src/planning/statefulset-move.js';
import { REVISION, STATEFULSET, statefulSet, statefulSetPod } from '../fixtures/statefulset.js';
import { ownedPodFacts, planOf, refusalsOf } from '../support/plan-decision.js';

/** StatefulSet web running ordinals [start, start + replicas). */
const ranged = (start: number, replicas: number, overrides: Parameters<typeof statefulSet>[0] = {}) =>
  statefulSet({ ...overrides, spec: { replicas, ...(start ? { ordinals: { start } } : {}), ...overrides.spec } });

const headless: V1Service = { metadata: { name: STATEFULSET }, spec: { clusterIP: 'None' } };

function hpa(name: string, kind: string): V2HorizontalPodAutoscaler {
  return { metadata: { name }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind, name: STATEFULSET }, maxReplicas: 5 } };
}

/** web-2 of web (ordinals 0–2) in lab-a/default, moving to lab-b/default (no StatefulSet there, its headless Service there) by default. */
function facts(options: { pod?: V1Pod; source?: V1StatefulSet; target?: Partial<PlanMigrationInput['target']>; atTarget?: Partial<StatefulSetMoveFacts> } = {}): MigrationFacts {
  const source = options.source ?? ranged(0, 3);
  const pod = options.pod ?? statefulSetPod({ name: `${STATEFULSET}-2`, owner: source });
  return ownedPodFacts(pod, { cluster: 'lab-b', node: 'lab-b-node', ...options.target }, {
    targetNode: { metadata: { name: 'lab-b-node' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    statefulSet: source,
    statefulSetMoveFacts: { targetStatefulSet: undefined, targetService: headless, autoscalers: { source: [], target: [] }, ...options.atTarget },
  });
}

const ref = `pod default/${STATEFULSET}-2 in cluster lab-a`;

describe("a StatefulSet's pod to another cluster or namespace", () => {
  test('is not refused before the target is read (sourceRefusals): its StatefulSet is checked once the target is read', () => {
    const f = facts();
    expect(sourceRefusals(f.request, f.sourcePod)).toEqual([]);
    expect(sourceRefusals({ ...f.request, target: { cluster: 'lab-a', namespace: 'moved' } }, f.sourcePod)).toEqual([]);
  });

  test('the highest ordinal to another cluster without the StatefulSet: CreateThenDelete under its own name, no fence; the plan makes it there at that ordinal', () => {
    const plan = planOf(facts());
    expect(plan.strategy).toBe('CreateThenDelete');
    expect(targetPodName(plan)).toBe(`${STATEFULSET}-2`);
    expect(plan.statefulSet).toBeUndefined();
    expect(plan.statefulSetMove).toEqual({
      statefulSet: { name: STATEFULSET, uid: statefulSet().metadata!.uid },
      revision: REVISION,
      ordinal: 2,
      source: { before: { start: 0, replicas: 3 }, after: { start: 0, replicas: 2 } },
      target: { exists: false, before: { start: 2, replicas: 0 }, after: { start: 2, replicas: 1 } },
    });
    // After the pod's own (its liveness probe, its emptyDir).
    expect(plan.warnings.slice(-2)).toEqual([
      `the pod is ordinal 2 of StatefulSet ${STATEFULSET}, which moves: StatefulSet ${STATEFULSET} in lab-a/default: ordinals 0–2 → ordinals 0–1; ` +
        `in lab-b/default: created with ordinal 2 (0, then 1 replica). The restored pod holds the name ${STATEFULSET}-2 without labels until it is Ready; ` +
        "then the target's StatefulSet takes ordinal 2 into its range and adopts the pod once its labels are back, and the source's gives the ordinal up " +
        '(it does not recreate the frozen source, which podferry deletes)',
      `GitOps tools (Argo CD, Flux) that sync StatefulSet ${STATEFULSET} may revert these ranges (a revert in lab-b/default deletes the moved pod, one in lab-a/default ` +
        `starts a fresh, empty ${STATEFULSET}-2) or prune a StatefulSet podferry made: change what they sync from, or have them ignore spec.replicas and spec.ordinals, before moving`,
    ]);
  });

  test('the lowest ordinal to another namespace whose StatefulSet runs the ordinals below: both ranges move by one', () => {
    const f = facts({ pod: statefulSetPod({ name: `${STATEFULSET}-1`, owner: ranged(1, 2) }), source: ranged(1, 2), target: { cluster: 'lab-a', namespace: 'moved', node: 'lab-a-node2' }, atTarget: { targetStatefulSet: ranged(0, 1) } });
    const plan = planOf({ ...f, request: { ...f.request, allowSecretsToOtherNamespace: true } });
    expect(plan.statefulSetMove).toMatchObject({ ordinal: 1, source: { after: { start: 2, replicas: 1 } }, target: { exists: true, before: { start: 0, replicas: 1 }, after: { start: 0, replicas: 2 } } });
    expect(plan.warnings).toContainEqual(expect.stringContaining(`StatefulSet ${STATEFULSET} in lab-a/default: ordinals 1–2 → ordinal 2; in lab-a/moved: ordinal 0 → ordinals 0–1.`));
  });

  test('the target namespace lacks the headless Service, or has it not headless: a warning, the move goes on', () => {
    const missing = planOf(facts({ atTarget: { targetService: undefined } })).warnings;
    expect(missing).toContain(
      `StatefulSet ${STATEFULSET}'s headless Service ${STATEFULSET} does not exist in lab-b/default, so the pod's DNS name ${STATEFULSET}-2.${STATEFULSET}.default.svc does not resolve there; ` +
        'podferry does not make it: create it there (like the source\'s) if clients use that name',
    );
    const notHeadless = planOf(facts({ atTarget: { targetService: { metadata: { name: STATEFULSET }, spec: { clusterIP: '10.0.0.7' } } } })).warnings;
    expect(notHeadless).toContainEqual(expect.stringContaining(`headless Service ${STATEFULSET} is not headless in lab-b/default`));
  });

  test('OrdinalUnknown: a pod whose name is no ordinal of its StatefulSet', () => {
    expect(refusalsOf(facts({ pod: statefulSetPod({ name: `${STATEFULSET}-x`, owner: ranged(0, 3) }) }))).toEqual([
      {
        type: 'OrdinalUnknown',
        message:
          `pod default/${STATEFULSET}-x in cluster lab-a is controlled by StatefulSet ${STATEFULSET}, but its name is not ${STATEFULSET}-<ordinal>, so podferry cannot tell which ordinal moves: ` +
          'move it to another node of its cluster (same namespace)',
      },
    ]);
  });

  test('MiddleOrdinal, TargetOrdinalsNotAdjacent, TargetStatefulSetDiffers (statefulset-split)', () => {
    const middle = facts({ pod: statefulSetPod({ name: `${STATEFULSET}-1`, owner: ranged(0, 3) }) });
    expect(refusalsOf(middle).map((r) => r.type)).toEqual(['MiddleOrdinal']);
    expect(refusalsOf(facts({ atTarget: { targetStatefulSet: ranged(5, 2) } })).map((r) => r.type)).toEqual(['TargetOrdinalsNotAdjacent']);
    const other = ranged(3, 1, { status: { updateRevision: `${STATEFULSET}-85d4f9b7c`, currentRevision: `${STATEFULSET}-85d4f9b7c` } });
    expect(refusalsOf(facts({ atTarget: { targetStatefulSet: other } })).map((r) => r.type)).toEqual(['TargetStatefulSetDiffers']);
  });

  test('the source StatefulSet mid-rollout, or the pod of an older revision: refused as within the cluster', () => {
    expect(refusalsOf(facts({ pod: statefulSetPod({ name: `${STATEFULSET}-2`, revision: `${STATEFULSET}-old` }) })).map((r) => r.type)).toEqual(['PodNotOfCurrentRevision']);
  });

  test('RolloutInProgress at the target', () => {
    const rolling = ranged(3, 1, { status: { currentRevision: `${STATEFULSET}-old` } });
    expect(refusalsOf(facts({ atTarget: { targetStatefulSet: rolling } }))).toEqual([
      {
        type: 'RolloutInProgress',
        message:
          `${ref}: a rollout of StatefulSet ${STATEFULSET} in lab-b/default is in progress (revision ${STATEFULSET}-old is being replaced by ${REVISION}), so it replaces its pods: ` +
          `wait until it is complete (kubectl --context lab-b rollout status -n default statefulset/${STATEFULSET}), then retry`,
      },
    ]);
  });

  test('HpaManagesReplicas: an autoscaler of the StatefulSet at the source or at the target, each named; one of a Deployment of the name is no matter', () => {
    const refused = refusalsOf(facts({ atTarget: { autoscalers: { source: [hpa('web', 'StatefulSet'), hpa('web-d', 'Deployment')], target: [hpa('web-b', 'StatefulSet')] } } }));
    expect(refused).toEqual([
      {
        type: 'HpaManagesReplicas',
        message:
          `${ref}: HorizontalPodAutoscaler default/web in cluster lab-a manages the replicas of StatefulSet ${STATEFULSET}, so it would undo the move's scaling by one: ` +
          'move the pod to another node of its cluster, or take the StatefulSet out of its hands for the move (kubectl --context lab-a -n default delete hpa web; create it again after)',
      },
      expect.objectContaining({ type: 'HpaManagesReplicas', message: expect.stringContaining('HorizontalPodAutoscaler default/web-b in cluster lab-b manages the replicas of StatefulSet web, so it would undo the move\'s scaling by one (and with it delete the moved pod)') }),
    ]);
  });
});

describe('the StatefulSet podferry makes at the target', () => {
  test("the source's spec and labels with an empty range starting at the ordinal; no status, no kubectl record; marked with the migration", () => {
    const source = ranged(0, 3, {
      metadata: { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', team: 'edge' }, resourceVersion: '42', creationTimestamp: new Date() },
    });
    expect(buildTargetStatefulSet({ source, sourceCluster: 'lab-a', targetNamespace: 'moved', migrationId: 'mig-1', ordinal: 2 })).toEqual({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {
        name: STATEFULSET,
        namespace: 'moved',
        labels: { app: 'web', [LABELS.migrationKey]: 'mig-1' },
        annotations: { team: 'edge', [ANNOTATIONS.migrationId]: 'mig-1', [ANNOTATIONS.source]: `lab-a/default/${STATEFULSET}` },
      },
      spec: { ...source.spec, replicas: 0, ordinals: { start: 2 } },
    });
  });
});
