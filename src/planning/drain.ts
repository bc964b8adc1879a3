// Which pods of a node a drain moves, and which it leaves with the reason. Pure: unit-tested, and run by
// the drainNode workflow on the summaries an activity read.
import type { SkippedPod } from '../api/drain.js';
import type { PodSummary } from './pod-summary.js';
import { podOrdinal } from './statefulset-split.js';

/**
 * Skip types that do not keep a drain from being complete: these pods belong to the node (or are leaving
 * anyway), as `kubectl drain --ignore-daemonsets` treats them.
 */
export const NODE_BOUND_SKIPS = new Set(['DaemonSetPod', 'StaticPod', 'PodFinished', 'PodTerminating']);

export interface DrainSplit {
  migratable: PodSummary[];
  skipped: SkippedPod[];
}

/** Splits a node's pods into those a drain moves and those it skips (with the reason). Where they may go, each migration's plan checks. */
export function splitNodePods(pods: PodSummary[]): DrainSplit {
  const out: DrainSplit = { migratable: [], skipped: [] };
  const sorted = [...pods].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const pod of sorted) {
    const skip = skipReason(pod);
    if (skip) out.skipped.push({ namespace: pod.namespace, name: pod.name, ...skip });
    else out.migratable.push(pod);
  }
  return out;
}

/**
 * The drain's lanes take these batches, moving each batch's pods one after another: a ReplicaSet's pods (their
 * frozen sources would have the same lowest deletion cost, so one hand-over or scale-down could delete the other's
 * source), and a StatefulSet's pods leaving their cluster, highest ordinal first (only an end of its range can
 * leave, and each move plans from both StatefulSets' ranges as the one before left them). Others go alone.
 */
export function batchesByOwner(pods: PodSummary[], targetCluster: string): PodSummary[][] {
  const batches: PodSummary[][] = [];
  const byOwner = new Map<string, PodSummary[]>();
  for (const pod of pods) {
    const { controller } = pod;
    const shared = controller?.kind === 'ReplicaSet' || (controller?.kind === 'StatefulSet' && pod.cluster !== targetCluster);
    const key = shared ? `${controller.kind} ${pod.namespace}/${controller.name}` : undefined;
    const batch = key ? byOwner.get(key) : undefined;
    if (batch) {
      batch.push(pod);
      continue;
    }
    batches.push([pod]);
    if (key) byOwner.set(key, batches.at(-1)!);
  }
  const ordinal = (pod: PodSummary) => (pod.controller?.kind === 'StatefulSet' ? (podOrdinal(pod.name, pod.controller.name) ?? -1) : -1);
  return batches.map((batch) => (batch[0]?.controller?.kind === 'StatefulSet' ? [...batch].sort((a, b) => ordinal(b) - ordinal(a)) : batch));
}

function skipReason(pod: PodSummary): { type: string; reason: string } | undefined {
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
  return undefined;
}

/** A drain is complete when no pod that had to leave the node is still there. */
export function isComplete(skipped: SkippedPod[], failed: unknown[]): boolean {
  return failed.length === 0 && skipped.every((s) => NODE_BOUND_SKIPS.has(s.type));
}
