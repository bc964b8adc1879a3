// The rebalancing plan: for each candidate pod, where it should be under the placement policy, and whether
// it moves in this run (the guards: eligibility, cool-down, per-cluster limit). Pure and deterministic
// (`now` is passed in): unit-tested, and run inside the rebalance workflow.
import { LAST_MIGRATED_AT_ANNOTATION } from '../api/drain.js';
import type { PlacementPolicy, PlannedMove, SkippedCandidate } from '../api/placement-policy.js';
import type { PodSummary } from './pod-summary.js';

/** Free resources per Ready, schedulable node, per cluster (read by the clusterCapacity activity). */
export type ClusterCapacity = Record<string, Array<{ node: string; freeCpuMilli: number; freeMemoryBytes: number }>>;

export interface RebalancePlan {
  moves: PlannedMove[];
  skipped: SkippedCandidate[];
}

/** The annotation keys the plan reads: ask the candidate listing for exactly these. */
export function annotationKeys(policy: PlacementPolicy): string[] {
  return [policy.placement.preferredClusterAnnotation, policy.placement.userRegionAnnotation, LAST_MIGRATED_AT_ANNOTATION];
}

/** Where a pod should be, and why; or why it has no place in this policy. */
export function desiredCluster(pod: PodSummary, policy: PlacementPolicy): { cluster: string; why: string } | { skip: string; reason: string } {
  const { preferredClusterAnnotation, userRegionAnnotation, latencyMs } = policy.placement;
  const preferred = pod.annotations[preferredClusterAnnotation];
  if (preferred) {
    if (!policy.clusters.includes(preferred)) {
      return {
        skip: 'UnknownPreferredCluster',
        reason: `annotation ${preferredClusterAnnotation}=${preferred} names a cluster outside this policy (${policy.clusters.join(', ')})`,
      };
    }
    return { cluster: preferred, why: `${preferredClusterAnnotation}=${preferred}` };
  }
  const region = pod.annotations[userRegionAnnotation];
  if (region) {
    const latencies = Object.entries(latencyMs[region] ?? {}).filter(([cluster]) => policy.clusters.includes(cluster));
    if (latencies.length === 0) {
      return { skip: 'UnknownRegion', reason: `annotation ${userRegionAnnotation}=${region}: placement.latencyMs has no cluster for this region` };
    }
    // Lowest latency; ties go to the cluster the pod is in (no move for nothing), then by name.
    latencies.sort((a, b) => a[1] - b[1] || Number(b[0] === pod.cluster) - Number(a[0] === pod.cluster) || a[0].localeCompare(b[0]));
    const [cluster, ms] = latencies[0]!;
    return { cluster, why: `${userRegionAnnotation}=${region}: ${cluster} is closest (${ms} ms)` };
  }
  return { skip: 'NoPreference', reason: `neither ${preferredClusterAnnotation} nor ${userRegionAnnotation} is set: no preferred place` };
}

/**
 * capacity: free resources of the clusters' nodes (guards.respectCapacity); a planned move takes its
 * requests from the first node of the target that fits them (the target node when the policy names one).
 */
export function planRebalance(pods: PodSummary[], policy: PlacementPolicy, now: number, capacity?: ClusterCapacity): RebalancePlan {
  const plan: RebalancePlan = { moves: [], skipped: [] };
  const free = capacity ? (JSON.parse(JSON.stringify(capacity)) as ClusterCapacity) : undefined;
  const perCluster = new Map<string, number>();
  const coolDownMs = policy.guards.coolDownMinutes * 60_000;
  const sorted = [...pods].sort((a, b) => `${a.cluster}/${a.namespace}/${a.name}`.localeCompare(`${b.cluster}/${b.namespace}/${b.name}`));
  // A pod name may exist in several clusters (e.g. half-way through a migration): never plan it twice.
  const seen = new Set<string>();
  for (const pod of sorted) {
    const skip = (type: string, reason: string) => plan.skipped.push({ cluster: pod.cluster, namespace: pod.namespace, name: pod.name, type, reason });
    const desired = desiredCluster(pod, policy);
    if ('skip' in desired) {
      skip(desired.skip, desired.reason);
      continue;
    }
    if (desired.cluster === pod.cluster) {
      skip('AlreadyPlaced', `already in its preferred cluster ${pod.cluster} (${desired.why})`);
      continue;
    }
    const key = `${pod.namespace}/${pod.name}`;
    if (seen.has(key)) {
      skip('DuplicateName', `a pod ${key} exists in more than one cluster: left alone until only one remains`);
      continue;
    }
    if (pods.some((other) => other.cluster === desired.cluster && other.namespace === pod.namespace && other.name === pod.name)) {
      skip('DuplicateName', `a pod ${key} already exists in ${desired.cluster}: left alone until only one remains`);
      continue;
    }
    seen.add(key);
    // Rebalancing moves standalone pods only: a controller's pods share their template's preferred cluster, so
    // every replica would leave, one move at a time.
    const owned = pod.controller && {
      type: 'ControllerOwnedPod',
      message:
        `pod ${key} in cluster ${pod.cluster} is controlled by ${pod.controller.kind} ${pod.controller.name}: rebalancing moves standalone pods only; ` +
        "move a Deployment's pod to another cluster with podferry migrate (or podferry drain its node)",
    };
    const refusals = pod.refusals.length > 0 || !owned ? pod.refusals : [owned];
    if (refusals.length > 0) {
      skip(refusals[0]!.type, refusals.map((r) => r.message).join('; '));
      continue;
    }
    const lastMoved = pod.annotations[LAST_MIGRATED_AT_ANNOTATION];
    const lastMovedAt = lastMoved ? Date.parse(lastMoved) : NaN;
    if (!Number.isNaN(lastMovedAt) && now - lastMovedAt < coolDownMs) {
      const until = new Date(lastMovedAt + coolDownMs).toISOString();
      skip('CoolingDown', `moved at ${lastMoved}; cool-down of ${policy.guards.coolDownMinutes} min until ${until}`);
      continue;
    }
    const limit = policy.guards.maxConcurrentPerCluster;
    const busy = [pod.cluster, desired.cluster].find((cluster) => (perCluster.get(cluster) ?? 0) >= limit);
    if (busy) {
      skip('ClusterLimitReached', `cluster ${busy} already takes part in ${limit} migration(s) this run (guards.maxConcurrentPerCluster): next run`);
      continue;
    }
    const toNode = policy.placement.targetNodes[desired.cluster];
    if (free && policy.guards.respectCapacity) {
      const nodes = (free[desired.cluster] ?? []).filter((n) => !toNode || n.node === toNode);
      const fit = nodes.find((n) => n.freeCpuMilli >= pod.requests.cpuMilli && n.freeMemoryBytes >= pod.requests.memoryBytes);
      if (!fit) {
        const most = nodes.length ? `most free: ${Math.max(...nodes.map((n) => n.freeCpuMilli))}m CPU, ${mib(Math.max(...nodes.map((n) => n.freeMemoryBytes)))} memory` : 'no Ready, schedulable node';
        skip('NoCapacity', `no node of ${desired.cluster}${toNode ? ` (${toNode})` : ''} has its requests free (${pod.requests.cpuMilli}m CPU, ${mib(pod.requests.memoryBytes)} memory; ${most})`);
        continue;
      }
      fit.freeCpuMilli -= pod.requests.cpuMilli;
      fit.freeMemoryBytes -= pod.requests.memoryBytes;
    }
    for (const cluster of [pod.cluster, desired.cluster]) perCluster.set(cluster, (perCluster.get(cluster) ?? 0) + 1);
    plan.moves.push({ namespace: pod.namespace, name: pod.name, from: pod.cluster, to: desired.cluster, ...(toNode ? { toNode } : {}), why: desired.why });
  }
  return plan;
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(0)}Mi`;
}
