// Which pods of a node a drain moves, and which it leaves with the reason. Pure: unit-tested, and run by
// the drainNode workflow on the summaries an activity read.
import type { SkippedPod } from '../api/drain.js';
import { leavingOwnerRefusal } from '../kubernetes/eligibility.js';
import type { PodSummary } from './pod-summary.js';

/**
 * Skip types that do not keep a drain from being complete: these pods belong to the node (or are leaving
 * anyway), as `kubectl drain --ignore-daemonsets` treats them.
 */
export const NODE_BOUND_SKIPS = new Set(['DaemonSetPod', 'StaticPod', 'PodFinished', 'PodTerminating']);

export interface DrainSplit {
  migratable: PodSummary[];
  skipped: SkippedPod[];
}

/**
 * targetCluster: where the drain moves the pods (a StatefulSet's pods move only within their own cluster; a
 * ReplicaSet's leave it when a Deployment owns the ReplicaSet, which each migration's plan checks).
 */
export function splitNodePods(pods: PodSummary[], targetCluster: string): DrainSplit {
  const out: DrainSplit = { migratable: [], skipped: [] };
  const sorted = [...pods].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const pod of sorted) {
    const skip = skipReason(pod, targetCluster);
    if (skip) out.skipped.push({ namespace: pod.namespace, name: pod.name, ...skip });
    else out.migratable.push(pod);
  }
  return out;
}

/**
 * The drain's lanes take these batches: pods of one ReplicaSet move one after another (their frozen sources
 * would have the same lowest deletion cost, so one hand-over or scale-down could delete the other's source),
 * others alone.
 */
export function batchesByOwner(pods: PodSummary[]): PodSummary[][] {
  const batches: PodSummary[][] = [];
  const byReplicaSet = new Map<string, PodSummary[]>();
  for (const pod of pods) {
    const key = pod.controller?.kind === 'ReplicaSet' ? `${pod.namespace}/${pod.controller.name}` : undefined;
    const batch = key ? byReplicaSet.get(key) : undefined;
    if (batch) {
      batch.push(pod);
      continue;
    }
    batches.push([pod]);
    if (key) byReplicaSet.set(key, batches.at(-1)!);
  }
  return batches;
}

function skipReason(pod: PodSummary, targetCluster: string): { type: string; reason: string } | undefined {
  const ref = `pod ${pod.namespace}/${pod.name}`;
  if (pod.mirror) {
    return { type: 'StaticPod', reason: `${ref} is the mirror of a static pod: the node's kubelet runs it from a manifest file, it stays with the node` };
  }
  if (pod.controller?.kind === 'DaemonSet') {
    return { type: 'DaemonSetPod', reason: `${ref} belongs to DaemonSet ${pod.controller.name}, which runs one pod per node: it stays with the node` };
  }
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') {
    return { type: 'PodFinished', reason: `${ref} has finished (${pod.phase}): nothing runs that could move` };
  }
  if (pod.refusals.length > 0) {
    return { type: pod.refusals[0]!.type, reason: pod.refusals.map((r) => r.message).join('; ') };
  }
  const leavingOwner = leavingOwnerRefusal(ref, pod.controller, targetCluster !== pod.cluster);
  return leavingOwner && { type: leavingOwner.type, reason: leavingOwner.message };
}

/** A drain is complete when no pod that had to leave the node is still there. */
export function isComplete(skipped: SkippedPod[], failed: unknown[]): boolean {
  return failed.length === 0 && skipped.every((s) => NODE_BOUND_SKIPS.has(s.type));
}
