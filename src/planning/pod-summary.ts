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
  };
}
