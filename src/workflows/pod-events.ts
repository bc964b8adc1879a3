// Kubernetes Events on the source and target pods for a migration's milestones, so the move leaves a trace
// where operators look (`kubectl describe pod`). Best effort and not waited for on the way: an event that
// cannot be written must not slow the migration down, least of all inside the downtime. The workflow awaits
// the returned promise (which never rejects) only before it ends, or a pending event would be dropped.
import { CancellationScope, proxyActivities } from '@temporalio/workflow';
import type { PodEventInput } from '../activities/kubernetes.js';
import type { OrchestratorActivities } from '../worker/orchestrator.js';

const events = proxyActivities<OrchestratorActivities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 2 } });

export function announce(event: PodEventInput): Promise<void> {
  return CancellationScope.nonCancellable(() => events.recordPodEvent(event)).catch(() => undefined);
}
