// The plan of moving a Deployment's pod to another cluster or namespace (CreateThenDelete with a deploymentMove):
// what the plan carries and warns about, every refusal with its message, and the target Deployment podferry makes.
import { describe, expect, test } from '@jest/globals';
import type { V1Deployment, V1Pod, V1ReplicaSet, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import { ANNOTATIONS, LABELS, POD_DELETION_COST } from '../../src/api/names.js';
import { buildTargetDeployment } from '../../src/kubernetes/target-owner.js';
import type { DeploymentMoveFacts } from '../../src/planning/deployment-move.js';
import { sourceRefusals, targetPodName, type MigrationFacts } from '../../src/planning/migration.js';
import { deployment, POD, REPLICASET, replicaSet, replicaSetPod, TEMPLATE_HASH } from '../fixtures/deployment.js';
import { planOf, refusalsOf } from '../support/plan-decision.js';

const ref = `pod default/${POD} in cluster lab-a`;

/** A Deployment at the target like the source's (1 replica), with its ReplicaSet of the same template. */
function targetOwners(options: { deployment?: Parameters<typeof deployment>[0]; replicaSet?: Parameters<typeof replicaSet>[0] } = {}) {
  const atTarget = deployment({ ...options.deployment, metadata: { uid: 'target-deployment-uid', ...options.deployment?.metadata } });
  atTarget.spec!.replicas = 1;
  atTarget.status = { ...atTarget.status, replicas: 1, updatedReplicas: 1, readyReplicas: 1 };
  const ownerRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'sample', uid: atTarget.metadata!.uid!, controller: true };
  const rs = replicaSet({ ...options.replicaSet, metadata: { uid: 'target-rs-uid', ownerReferences: [ownerRef], ...options.replicaSet?.metadata } });
  return { targetDeployment: atTarget, targetReplicaSets: [rs] };
}

function hpa(name: string, target: string): V2HorizontalPodAutoscaler {
  return { metadata: { name }, spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, maxReplicas: 5 } };
}

/** A pod of Deployment sample (2 replicas) in lab-a/default, moving to lab-b/default (no Deployment there) by default. */
function facts(
  options: {
    pod?: V1Pod;
    replicaSet?: V1ReplicaSet | undefined;
    deployment?: V1Deployment | undefined;
    target?: Partial<PlanMigrationInput['target']>;
    atTarget?: Partial<DeploymentMoveFacts>;
  } = {},
): MigrationFacts {
  return {
    request: { migrationId: 'mig-1', source: { cluster: 'lab-a', namespace: 'default', pod: POD }, target: { cluster: 'lab-b', namespace: 'default', node: 'lab-b-node', ...options.target } },
    sourcePod: options.pod ?? replicaSetPod(),
    sourceNodeUnschedulable: false,
    targetNamespaceExists: true,
    targetNode: { metadata: { name: 'lab-b-node' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    podAtTarget: undefined,
    targetClusterNodes: [],
    protectedNamespaces: ['kube-system'],
    registryPullIdentity: false,
    owners: { replicaSet: 'replicaSet' in options ? options.replicaSet : replicaSet(), deployment: 'deployment' in options ? options.deployment : deployment() },
    deploymentMoveFacts: { targetDeployment: undefined, targetReplicaSets: [], autoscalers: { source: [], target: [] }, ...options.atTarget },
  };
}

describe("a Deployment's pod to another cluster or namespace", () => {
  test('is not refused before the target is read (sourceRefusals): its Deployment is checked once the owners are read', () => {
    const f = facts();
    expect(sourceRefusals(f.request, f.sourcePod)).toEqual([]);
    expect(sourceRefusals({ ...f.request, target: { cluster: 'lab-a', namespace: 'moved' } }, f.sourcePod)).toEqual([]);
  });

  test('to another cluster without the Deployment: CreateThenDelete under its own name; the plan creates it there (0, then 1) and scales the source from 2 to 1', () => {
    const plan = planOf(facts());
    expect(plan.strategy).toBe('CreateThenDelete');
    expect(plan.replicaSetHandOver).toBeUndefined();
    expect(targetPodName(plan)).toBe(POD);
    expect(plan.deploymentMove).toEqual({
      deployment: 'sample',
      source: { uid: deployment().metadata!.uid, replicaSet: { name: REPLICASET, uid: replicaSet().metadata!.uid }, replicas: 2 },
      target: { exists: false, replicas: 0 },
      templateHash: TEMPLATE_HASH,
    });
    expect(plan.warnings).toContain(
      'the pod belongs to Deployment sample: the move scales Deployment sample in lab-a/default from 2 to 1 and creates Deployment sample in lab-b/default ' +
        "(a copy of the source's: 0, then 1 replica). The restored pod gets its labels once it is Ready and the target's ReplicaSet adopts it (creating no pod meanwhile); " +
        `then the source's ReplicaSet deletes the frozen source, which has the lowest ${POD_DELETION_COST}`,
    );
    expect(plan.warnings).toContain(
      'GitOps tools (Argo CD, Flux) that sync Deployment sample may revert these replica counts (a revert in lab-b/default deletes the moved pod) or prune a Deployment podferry made: ' +
        'change what they sync from, or have them ignore spec.replicas, before moving',
    );
  });

  test('to another namespace with a like Deployment (same selector and template hash): it is scaled from 1 to 2', () => {
    const f = facts({ target: { cluster: 'lab-a', namespace: 'moved', node: 'lab-a-node2' }, atTarget: targetOwners() });
    const plan = planOf({ ...f, request: { ...f.request, allowSecretsToOtherNamespace: true } });
    expect(plan.deploymentMove?.target).toEqual({ exists: true, replicas: 1 });
    expect(plan.warnings).toContainEqual(expect.stringContaining('from 2 to 1 and scales Deployment sample in lab-a/moved from 1 to 2. '));
  });

  test("the source's own deletion cost is kept for the undo", () => {
    const plan = planOf(facts({ pod: replicaSetPod({ annotations: { [POD_DELETION_COST]: '100' } }) }));
    expect(plan.deploymentMove?.previousDeletionCost).toBe('100');
  });

  test('a bare ReplicaSet (no Deployment): refused, it has no owner to carry over', () => {
    const bare = replicaSet({ metadata: { ownerReferences: undefined } });
    expect(refusalsOf(facts({ replicaSet: bare, deployment: undefined }))).toEqual([
      {
        type: 'ControllerOwnedPod',
        message:
          `${ref} is controlled by ReplicaSet ${REPLICASET}, which no Deployment owns: across clusters and namespaces podferry hands a pod to the Deployment of its name at the target, ` +
          'and a bare ReplicaSet has none (podferry would have to make a ReplicaSet there that nothing manages): move it to another node of its cluster (same namespace), or run it as a Deployment',
      },
    ]);
  });

  test('OwnerNotFound: the ReplicaSet is gone', () => {
    expect(refusalsOf(facts({ replicaSet: undefined }))[0]).toMatchObject({ type: 'OwnerNotFound', message: expect.stringContaining(`its ReplicaSet ${REPLICASET} (uid`) });
  });

  test('RolloutInProgress at the source, and ReplicaSetNotSettled: the scale-down would delete a pod that is not Ready', () => {
    expect(refusalsOf(facts({ deployment: deployment({ status: { updatedReplicas: 1 } }) }))).toEqual([
      {
        type: 'RolloutInProgress',
        message:
          `${ref}: a rollout of Deployment sample is in progress (1 of 2 replicas updated, 2 in all), so its ReplicaSets are changing their pods: ` +
          'wait until it is complete (kubectl rollout status -n default deployment/sample), then retry',
      },
    ]);
    expect(refusalsOf(facts({ replicaSet: replicaSet({ status: { readyReplicas: 1 } }) }))).toEqual([
      {
        type: 'ReplicaSetNotSettled',
        message:
          `${ref}: its ReplicaSet ${REPLICASET} has 1 of 2 pods Ready; when Deployment sample is scaled down it would delete a pod that is not Ready instead of the frozen source: ` +
          `wait until all its pods are Ready (kubectl get replicaset -n default ${REPLICASET}), then retry`,
      },
    ]);
  });

  test('HpaManagesReplicas: an autoscaler of the Deployment at the source or at the target, each named; one of another Deployment is no matter', () => {
    const refused = refusalsOf(facts({ atTarget: { autoscalers: { source: [hpa('sample', 'sample'), hpa('api', 'api')], target: [hpa('sample-b', 'sample')] } } }));
    expect(refused).toEqual([
      {
        type: 'HpaManagesReplicas',
        message:
          `${ref}: HorizontalPodAutoscaler default/sample in cluster lab-a manages the replicas of Deployment sample, so it would undo the move's scaling by one: ` +
          'move the pod to another node of its cluster, or take the Deployment out of its hands for the move (kubectl --context lab-a -n default delete hpa sample; create it again after)',
      },
      {
        type: 'HpaManagesReplicas',
        message:
          `${ref}: HorizontalPodAutoscaler default/sample-b in cluster lab-b manages the replicas of Deployment sample, so it would undo the move's scaling by one (and with it delete the moved pod): ` +
          'move the pod to another node of its cluster, or take the Deployment out of its hands for the move (kubectl --context lab-b -n default delete hpa sample-b; create it again after)',
      },
    ]);
    expect(planOf(facts({ atTarget: { autoscalers: { source: [hpa('api', 'api')], target: [] } } })).deploymentMove).toBeDefined();
  });

  describe('the Deployment of the name at the target', () => {
    const alike = "make its selector and pod template the source's (or delete it: podferry then makes one), or move into another namespace";

    test('TargetDeploymentDiffers: another selector', () => {
      const other = targetOwners();
      other.targetDeployment.spec!.selector = { matchLabels: { app: 'other' } };
      expect(refusalsOf(facts({ atTarget: other }))).toEqual([
        {
          type: 'TargetDeploymentDiffers',
          message:
            `${ref}: Deployment sample in lab-b/default selects app=other, the source's selects app.kubernetes.io/name=podferry-sample,tier=demo, ` +
            `so its ReplicaSet would not adopt the moved pod: ${alike}`,
        },
      ]);
    });

    test('the same selector with its keys in another order is alike', () => {
      const reordered = targetOwners();
      reordered.targetDeployment.spec!.selector = { matchLabels: { tier: 'demo', 'app.kubernetes.io/name': 'podferry-sample' } };
      expect(planOf(facts({ atTarget: reordered })).deploymentMove?.target.exists).toBe(true);
    });

    test('TargetDeploymentDiffers: another pod template hash', () => {
      const other = targetOwners({ replicaSet: { metadata: { name: 'sample-5f6d7c8b9', labels: { 'pod-template-hash': '5f6d7c8b9' } } } });
      expect(refusalsOf(facts({ atTarget: other }))).toEqual([
        {
          type: 'TargetDeploymentDiffers',
          message:
            `${ref}: Deployment sample in lab-b/default has pod template hash 5f6d7c8b9 (ReplicaSet sample-5f6d7c8b9), the pod's is ${TEMPLATE_HASH}: ` +
            `the two Deployments' pod templates differ, so its ReplicaSet would not adopt the moved pod: ${alike}`,
        },
      ]);
    });

    test.each([
      ['its controller has not observed the latest spec', { deployment: { status: { observedGeneration: 3 } } }, 'its controller has observed generation 3 of 4'],
      ['it has no ReplicaSet of its revision', { replicaSet: { metadata: { annotations: { 'deployment.kubernetes.io/revision': '2' } } } }, 'it has no ReplicaSet of its revision 3 yet'],
    ])('RolloutInProgress at the target: %s', (_, options, why) => {
      expect(refusalsOf(facts({ atTarget: targetOwners(options) }))).toEqual([
        {
          type: 'RolloutInProgress',
          message:
            `${ref}: a rollout of Deployment sample in lab-b/default is in progress (${why}), so its ReplicaSets are changing their pods: ` +
            'wait until it is complete (kubectl --context lab-b rollout status -n default deployment/sample), then retry',
        },
      ]);
    });
  });
});

describe('the Deployment podferry makes at the target', () => {
  test("the source's spec and labels with 0 replicas; no status, no revision, no kubectl record; marked with the migration", () => {
    const source = deployment({
      metadata: {
        labels: { app: 'sample' },
        annotations: {
          'deployment.kubernetes.io/revision': '3',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          [ANNOTATIONS.scaledBy]: '["mig-0"]',
          team: 'edge',
        },
        resourceVersion: '42',
        creationTimestamp: new Date(),
      },
    });
    const made = buildTargetDeployment({ source, sourceCluster: 'lab-a', targetNamespace: 'moved', migrationId: 'mig-1' });
    expect(made).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'sample',
        namespace: 'moved',
        labels: { app: 'sample', [LABELS.migrationKey]: 'mig-1' },
        annotations: { team: 'edge', [ANNOTATIONS.migrationId]: 'mig-1', [ANNOTATIONS.source]: 'lab-a/default/sample' },
      },
      spec: { ...source.spec, replicas: 0 },
    });
  });
});
