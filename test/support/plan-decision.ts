// The plan's decision, unwrapped for tests: the plan when one is expected, the refusals when they are.
import type { V1Pod } from '@kubernetes/client-node';
import type { MigrationPlan, PlanMigrationInput } from '../../src/api/migration-plan.js';
import { decideMigration, type MigrationFacts } from '../../src/planning/migration.js';

export function planOf(f: MigrationFacts): MigrationPlan {
  const decision = decideMigration(f);
  if ('refused' in decision) throw new Error(`expected a plan, got ${JSON.stringify(decision.refused)}`);
  return decision.plan;
}

export function refusalsOf(f: MigrationFacts) {
  const decision = decideMigration(f);
  if ('plan' in decision) throw new Error('expected a refusal, got a plan');
  return decision.refused;
}

/** The facts of moving `pod` from lab-a-node to lab-a-node2 of lab-a (the target changed by `target`), with `owned`'s facts about its owners. */
export function ownedPodFacts(pod: V1Pod, target: Partial<PlanMigrationInput['target']> | undefined, owned: Partial<MigrationFacts>): MigrationFacts {
  return {
    request: { migrationId: 'mig-1', source: { cluster: 'lab-a', namespace: 'default', pod: pod.metadata!.name! }, target: { cluster: 'lab-a', namespace: 'default', node: 'lab-a-node2', ...target } },
    sourcePod: pod,
    sourceNodeUnschedulable: false,
    targetNamespaceExists: true,
    targetNode: { metadata: { name: 'lab-a-node2' }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    podAtTarget: undefined,
    targetClusterNodes: [],
    protectedNamespaces: ['kube-system'],
    registryPullIdentity: false,
    ...owned,
  };
}
