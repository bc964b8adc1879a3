// The plan's decision, unwrapped for tests: the plan when one is expected, the refusals when they are.
import type { MigrationPlan } from '../../src/api/migration-plan.js';
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
