// Activities of the operations on top of migratePod (drain, rebalance) that talk to the API servers:
// cordon/uncordon a node, list the pods of a node or of a policy, read a policy ConfigMap, mark a moved pod.
// Each is idempotent (cordoning a cordoned node, marking a marked pod: same result).
import { ApplicationFailure } from '@temporalio/common';
import { parse } from 'yaml';
import { LAST_MIGRATED_AT_ANNOTATION } from '../api/drain.js';
import { apiMessage, apiStatus, type Clusters } from '../kubernetes/clusters.js';
import { bytes, cpuMilli, podRequests, summarizePod, type PodSummary } from '../planning/pod-summary.js';
import type { ClusterCapacity } from '../planning/rebalance.js';

export interface OperationsActivityDeps {
  clusters: Clusters;
}

export interface NodeRef {
  cluster: string;
  node: string;
}

/**
 * Runs one call against a cluster's API server; a connection failure ("fetch failed") becomes an error
 * naming the cluster and the cause, so a failed drain or run says which API server was unreachable.
 */
async function onCluster<T>(cluster: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApplicationFailure || apiStatus(err) !== undefined) throw err;
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`cluster ${cluster}: cannot reach its API server (${cause ?? (err as Error).message})`);
  }
}

export function createOperationsActivities(deps: OperationsActivityDeps) {
  const { clusters } = deps;

  async function readNode(input: NodeRef) {
    try {
      return await clusters.core(input.cluster).readNode({ name: input.node });
    } catch (err) {
      if (apiStatus(err) === 404) {
        const names = await clusters
          .core(input.cluster)
          .listNode()
          .then((list) => list.items.map((n) => n.metadata?.name).join(', '))
          .catch(() => '?');
        throw ApplicationFailure.nonRetryable(`node ${input.node} does not exist in cluster ${input.cluster} (its nodes: ${names})`, 'UnknownNode');
      }
      throw err;
    }
  }

  async function setUnschedulable(input: NodeRef, unschedulable: boolean): Promise<{ wasUnschedulable: boolean }> {
    const node = await readNode(input);
    const wasUnschedulable = node.spec?.unschedulable === true;
    if (wasUnschedulable !== unschedulable) {
      await clusters.core(input.cluster).patchNode({ name: input.node, body: [{ op: 'add', path: '/spec/unschedulable', value: unschedulable }] });
    }
    return { wasUnschedulable };
  }

  /** Marks the node unschedulable (kubectl cordon); an unknown node fails as UnknownNode, changing nothing. */
  async function cordonNode(input: NodeRef): Promise<{ wasUnschedulable: boolean }> {
    return onCluster(input.cluster, () => setUnschedulable(input, true));
  }

  /** Makes the node schedulable again (kubectl uncordon). */
  async function uncordonNode(input: NodeRef): Promise<{ wasUnschedulable: boolean }> {
    return onCluster(input.cluster, () => setUnschedulable(input, false));
  }

  /** Every pod bound to the node, summarized for planning (eligibility included). */
  async function listNodePods(input: NodeRef & { labelSelector?: string }): Promise<PodSummary[]> {
    await onCluster(input.cluster, () => readNode(input));
    try {
      const list = await clusters.core(input.cluster).listPodForAllNamespaces({
        fieldSelector: `spec.nodeName=${input.node}`,
        ...(input.labelSelector ? { labelSelector: input.labelSelector } : {}),
      });
      return list.items.map((pod) => summarizePod(input.cluster, pod));
    } catch (err) {
      if (apiStatus(err) === 400) throw ApplicationFailure.nonRetryable(`pod selector "${input.labelSelector}": ${apiMessage(err)}`, 'InvalidInput');
      throw err;
    }
  }

  /** The pods of the given clusters that match a label selector, with the annotations planning reads. */
  async function listCandidatePods(input: {
    clusters: string[];
    labelSelector: string;
    namespaces?: string[];
    annotationKeys: string[];
  }): Promise<PodSummary[]> {
    const out: PodSummary[] = [];
    for (const cluster of input.clusters) {
      const core = clusters.core(cluster);
      const lists = await onCluster(cluster, async () =>
        input.namespaces?.length
          ? Promise.all(input.namespaces.map((namespace) => core.listNamespacedPod({ namespace, labelSelector: input.labelSelector })))
          : [await core.listPodForAllNamespaces({ labelSelector: input.labelSelector })],
      );
      for (const list of lists) out.push(...list.items.map((pod) => summarizePod(cluster, pod, input.annotationKeys)));
    }
    return out;
  }

  /**
   * Free CPU and memory per Ready, schedulable node of each cluster: allocatable minus the requests of the
   * pods that hold a place on it (what the scheduler counts).
   */
  async function clusterCapacity(input: { clusters: string[] }): Promise<ClusterCapacity> {
    const out: ClusterCapacity = {};
    for (const cluster of input.clusters) {
      const core = clusters.core(cluster);
      const [nodes, pods] = await onCluster(cluster, () =>
        Promise.all([core.listNode(), core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' })]),
      );
      out[cluster] = nodes.items
        .filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((n) => {
          const name = n.metadata!.name!;
          const used = pods.items.filter((p) => p.spec?.nodeName === name).map(podRequests);
          return {
            node: name,
            freeCpuMilli: cpuMilli(n.status?.allocatable?.cpu) - used.reduce((sum, r) => sum + r.cpuMilli, 0),
            freeMemoryBytes: bytes(n.status?.allocatable?.memory) - used.reduce((sum, r) => sum + r.memoryBytes, 0),
          };
        });
    }
    return out;
  }

  /**
   * Reads a placement policy document (YAML or JSON) from a ConfigMap key. Returns it unvalidated: the
   * workflow validates it, so the error names the field in the policy.
   */
  async function readPolicyConfigMap(input: { cluster: string; namespace: string; name: string; key: string }): Promise<unknown> {
    const ref = `ConfigMap ${input.namespace}/${input.name} in cluster ${input.cluster}`;
    let data: Record<string, string> | undefined;
    try {
      data = (await clusters.core(input.cluster).readNamespacedConfigMap({ namespace: input.namespace, name: input.name })).data;
    } catch (err) {
      if (apiStatus(err) === 404) throw ApplicationFailure.nonRetryable(`${ref} does not exist`, 'InvalidPolicy');
      throw err;
    }
    const text = data?.[input.key];
    if (text === undefined) {
      throw ApplicationFailure.nonRetryable(`${ref} has no key ${input.key} (keys: ${Object.keys(data ?? {}).join(', ') || 'none'})`, 'InvalidPolicy');
    }
    try {
      return parse(text) as unknown;
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`${ref} key ${input.key} is not YAML/JSON: ${(err as Error).message}`, 'InvalidPolicy');
    }
  }

  /** Writes podferry.io/last-migrated-at on a pod podferry moved (the cool-down clock). A missing pod is left alone. */
  async function markMigrated(input: { cluster: string; namespace: string; name: string; at: string }): Promise<{ marked: boolean }> {
    const core = clusters.core(input.cluster);
    let annotations: Record<string, string> | undefined;
    try {
      annotations = (await core.readNamespacedPod({ namespace: input.namespace, name: input.name })).metadata?.annotations;
    } catch (err) {
      if (apiStatus(err) === 404) return { marked: false };
      throw err;
    }
    const body = annotations
      ? [{ op: 'add', path: `/metadata/annotations/${LAST_MIGRATED_AT_ANNOTATION.replace('/', '~1')}`, value: input.at }]
      : [{ op: 'add', path: '/metadata/annotations', value: { [LAST_MIGRATED_AT_ANNOTATION]: input.at } }];
    try {
      await core.patchNamespacedPod({ namespace: input.namespace, name: input.name, body });
    } catch (err) {
      if (apiStatus(err) === 404) return { marked: false };
      throw new Error(`annotating pod ${input.namespace}/${input.name} in ${input.cluster}: ${apiMessage(err)}`);
    }
    return { marked: true };
  }

  return { cordonNode, uncordonNode, listNodePods, listCandidatePods, clusterCapacity, readPolicyConfigMap, markMigrated };
}

export type OperationsActivities = ReturnType<typeof createOperationsActivities>;
