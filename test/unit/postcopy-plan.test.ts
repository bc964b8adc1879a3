// The plan's refusals of a post-copy move (src/planning/postcopy.ts): each says what to change, and every one
// offers stop-and-copy instead; a stop-and-copy request is never refused here. Then the same judgement as
// decideMigration makes it from what planMigration read.
import { describe, expect, test } from '@jest/globals';
import type { V1Node, V1NodeSystemInfo } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import type { MigrationFacts } from '../../src/planning/migration.js';
import { postCopyRefusal, type PostCopyPlanFacts } from '../../src/planning/postcopy.js';
import { sourcePod } from '../fixtures/source-pod.js';
import { planOf, refusalsOf } from '../support/plan-decision.js';

/** A post-copy request for default/sample of lab-a to lab-b-node of lab-b, which nothing refuses. */
function request(over: Partial<PlanMigrationInput> = {}): PlanMigrationInput {
  return {
    migrationId: 'mig-pc',
    source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
    target: { cluster: 'lab-b', namespace: 'default', node: 'lab-b-node' },
    mode: 'postcopy',
    ...over,
  };
}

/** What the plan knows of a standalone pod on a real containerd node moving to another cluster. */
function movable(over: Partial<PostCopyPlanFacts> = {}): PostCopyPlanFacts {
  return { strategy: 'CreateThenDelete', runtime: 'containerd', owned: false, offloaded: false, ...over };
}

const STOP_AND_COPY = 'or move it stop-and-copy (options.mode: stop-and-copy, the default)';

describe('postCopyRefusal', () => {
  test.each<[string, PlanMigrationInput, PostCopyPlanFacts, RegExp]>([
    ['checkpointVia kubelet', request({ checkpointVia: 'kubelet' }), movable(), /cannot be lazy: use options\.checkpointVia: runtime \(the default\)/],
    ['a CRI-O source', request(), movable({ runtime: 'cri-o' }), /containerd nodes only; the pod runs on cri-o /],
    ['a source whose runtime is unknown', request(), movable({ runtime: '' }), /the pod runs on an unknown runtime /],
    ['no target node', request({ target: { cluster: 'lab-b', namespace: 'default' } }), movable(), /name the target node \(target\.node\)/],
    ['the source deleted first (DeleteThenCreate)', request(), movable({ strategy: 'DeleteThenCreate' }), /move it to another namespace or cluster/],
    ['a ReplicaSet copy adopted in place (AdoptByReplicaSet)', request(), movable({ strategy: 'AdoptByReplicaSet' }), /move it to another namespace or cluster/],
    ['a pod a ReplicaSet or StatefulSet owns', request(), movable({ owned: true }), /standalone pods only for now/],
    ['a Liqo virtual node on either side', request(), movable({ offloaded: true }), /not built for Liqo virtual nodes yet: name a real node of the target cluster/],
  ])('%s: PostCopyUnsupported, saying what to do', (_, req, facts, instruction) => {
    const refusal = postCopyRefusal(req, facts);
    expect(refusal?.type).toBe('PostCopyUnsupported');
    expect(refusal?.message).toMatch(/^post-copy: /);
    expect(refusal?.message).toMatch(instruction);
    expect(refusal?.message).toContain(STOP_AND_COPY);
  });

  test('a stop-and-copy request, explicit or by default, is none of its business', () => {
    const unfit = movable({ runtime: 'cri-o', strategy: 'DeleteThenCreate', owned: true, offloaded: true });
    expect(postCopyRefusal(request({ mode: 'stop-and-copy', checkpointVia: 'kubelet' }), unfit)).toBeUndefined();
    expect(postCopyRefusal(request({ mode: undefined }), unfit)).toBeUndefined();
  });

  test('a standalone containerd pod to a named node of another cluster or namespace: no refusal', () => {
    expect(postCopyRefusal(request(), movable())).toBeUndefined();
    expect(postCopyRefusal(request({ checkpointVia: 'runtime' }), movable())).toBeUndefined();
  });
});

describe('decideMigration of a post-copy request', () => {
  const containerdNode = (name: string): V1Node => ({
    metadata: { name },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { containerRuntimeVersion: 'containerd://2.2.0' } as V1NodeSystemInfo },
  });

  /** The fixture pod, its containers on containerd, post-copy to `target` (a named containerd node). */
  function facts(target: PlanMigrationInput['target']): MigrationFacts {
    const pod = sourcePod();
    pod.status!.containerStatuses = pod.status!.containerStatuses!.map((s) => ({ ...s, containerID: `containerd://${s.name}-id` }));
    return {
      request: request({ target }),
      sourcePod: pod,
      sourceNodeUnschedulable: false,
      targetNamespaceExists: true,
      targetNode: target.node ? containerdNode(target.node) : undefined,
      // Within its own namespace the target pod's name is the source's own.
      podAtTarget: target.cluster === 'lab-a' && target.namespace === 'default' ? pod : undefined,
      targetClusterNodes: [],
      protectedNamespaces: ['kube-system'],
      registryPullIdentity: false,
    };
  }

  test('within its own cluster and namespace (the source would go first): refused', () => {
    expect(refusalsOf(facts({ cluster: 'lab-a', namespace: 'default', node: 'lab-a-node2' }))).toEqual([
      { type: 'PostCopyUnsupported', message: expect.stringMatching(/^post-copy: the target is in the source's own cluster and namespace/) },
    ]);
  });

  test('to a named node of another cluster: planned, CreateThenDelete', () => {
    const plan = planOf(facts({ cluster: 'lab-b', namespace: 'default', node: 'lab-b-node' }));
    expect(plan.strategy).toBe('CreateThenDelete');
    expect(plan.target).toEqual({ cluster: 'lab-b', namespace: 'default', node: 'lab-b-node' });
  });
});
