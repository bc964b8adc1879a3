// What the planning of drains and rebalances needs to know about a pod, read from the API server by an
// activity and small enough to travel through workflow history (the full pod spec does not). Pure.
import type { V1Pod } from '@kubernetes/client-node';
import { refusalsFor, type Refusal } from '../kubernetes/eligibility.js';

export interface PodSummary {
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  node?: string;
  phase: string;
  /** Kind and name of the controlling owner (DaemonSet, ReplicaSet, ...), if any. */
  controller?: { kind: string; name: string };
  /** The mirror of a static pod (the kubelet runs it from a manifest file on the node). */
  mirror: boolean;
  /** Why migratePod would refuse this pod (src/kubernetes/eligibility.ts); empty: it can migrate. */
  refusals: Refusal[];
  /** Only the annotations the caller asked for. */
  annotations: Record<string, string>;
  /** What the scheduler reserves for it: the sum of its containers' requests. */
  requests: Resources;
}

export interface Resources {
  cpuMilli: number;
  memoryBytes: number;
}

export function summarizePod(cluster: string, pod: V1Pod, annotationKeys: readonly string[] = []): PodSummary {
  const controller = pod.metadata?.ownerReferences?.find((owner) => owner.controller);
  const all = pod.metadata?.annotations ?? {};
  const annotations: Record<string, string> = {};
  for (const key of annotationKeys) if (all[key] !== undefined) annotations[key] = all[key];
  return {
    cluster,
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    phase: pod.status?.phase ?? 'Unknown',
    ...(controller ? { controller: { kind: controller.kind, name: controller.name } } : {}),
    mirror: Boolean(all['kubernetes.io/config.mirror']),
    refusals: refusalsFor(pod),
    annotations,
    requests: podRequests(pod),
  };
}

export function podRequests(pod: V1Pod): Resources {
  const out: Resources = { cpuMilli: 0, memoryBytes: 0 };
  for (const container of pod.spec?.containers ?? []) {
    const requests = container.resources?.requests ?? {};
    out.cpuMilli += cpuMilli(requests.cpu);
    out.memoryBytes += bytes(requests.memory);
  }
  return out;
}

/** A Kubernetes CPU quantity (`250m`, `1`, `0.5`) in millicores; absent or unreadable: 0. */
export function cpuMilli(quantity: string | undefined): number {
  if (!quantity) return 0;
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity.trim());
  if (!match) return 0;
  return Math.ceil(match[2] ? Number(match[1]) : Number(match[1]) * 1000);
}

const MEMORY_SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes memory quantity (`16Mi`, `1G`, `1e9`, `1048576`) in bytes; absent or unreadable: 0. */
export function bytes(quantity: string | undefined): number {
  if (!quantity) return 0;
  const match = /^(\d+(?:\.\d+)?(?:[eE]\d+)?)([A-Za-z]*)$/.exec(quantity.trim());
  const factor = match ? MEMORY_SUFFIX[match[2]!] : undefined;
  if (!match || factor === undefined) return 0;
  return Math.ceil(Number(match[1]) * factor);
}
