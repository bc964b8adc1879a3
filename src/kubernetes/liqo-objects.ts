// Reads what planning needs from Liqo's objects when a pod moves onto or off a virtual node: in the consumer
// cluster the namespace's NamespaceOffloading, the provider's NamespaceMap and the VirtualNode's
// offloadingPatch; in the provider its nodes and the pod of the name in the mapped namespace. Only the fields
// used are parsed (zod, loose: Liqo's objects carry more).
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import type { Refusal } from './eligibility.js';
import { apiStatus, type Clusters } from './clusters.js';
import {
  LIQO_OFFLOADING_API,
  LIQO_REMOTE_CLUSTER_ID_LABEL,
  NAMESPACE_OFFLOADING_NAME,
  providerCluster,
  remoteNamespace,
  virtualNodeClusterId,
  type NamespaceOffloadingFacts,
  type NotReflected,
} from './liqo.js';
import type { OffloadedSourceFacts, OffloadedTargetFacts } from '../planning/migration.js';

const NamespaceOffloading = z.looseObject({ spec: z.looseObject({ podOffloadingStrategy: z.string() }) });
const NamespaceMap = z.looseObject({
  status: z
    .looseObject({ currentMapping: z.record(z.string(), z.looseObject({ remoteNamespace: z.string().default(''), phase: z.string().default('') })).optional() })
    .optional(),
});
const VirtualNode = z.looseObject({
  metadata: z.looseObject({ name: z.string() }),
  spec: z
    .looseObject({
      offloadingPatch: z
        .looseObject({ annotationsNotReflected: z.array(z.string()).optional(), labelsNotReflected: z.array(z.string()).optional() })
        .optional(),
    })
    .optional(),
});
const List = <T extends z.ZodType>(item: T) => z.looseObject({ items: z.array(item) });

/** A virtual node's provider, the Liqo ids of both sides, and the offloading of `namespace` to it. */
async function readOffloading(clusters: Clusters, consumer: string, node: V1Node, namespace: string) {
  const nodeName = node.metadata?.name ?? '';
  const providerId = virtualNodeClusterId(node) ?? '';
  const liqoIds = clusters.liqoClusterIds();
  const provider = providerCluster(providerId, liqoIds, nodeName);
  if ('refused' in provider) return provider;
  const custom = clusters.customObjects(consumer);
  const [offloading, maps] = await Promise.all([
    custom
      .getNamespacedCustomObject({ ...LIQO_OFFLOADING_API, namespace, plural: 'namespaceoffloadings', name: NAMESPACE_OFFLOADING_NAME })
      .then((o: unknown) => NamespaceOffloading.parse(o), ignoreNotFound),
    // The provider's NamespaceMap is the consumer's own (a replicated one from the other direction is labelled liqo.io/replicated).
    custom
      .listClusterCustomObject({ ...LIQO_OFFLOADING_API, plural: 'namespacemaps', labelSelector: `${LIQO_REMOTE_CLUSTER_ID_LABEL}=${providerId},!liqo.io/replicated` })
      .then((l: unknown) => List(NamespaceMap).parse(l).items),
  ]);
  const mapping = maps.map((m) => m.status?.currentMapping?.[namespace]).find((m) => m !== undefined);
  const namespaceFacts: NamespaceOffloadingFacts = { podOffloadingStrategy: offloading?.spec.podOffloadingStrategy, mapping };
  const mapped = remoteNamespace(namespace, consumer, provider.cluster, namespaceFacts);
  return { provider: provider.cluster, providerId, consumerId: liqoIds[consumer] ?? consumer, namespace: namespaceFacts, remoteNamespace: 'refused' in mapped ? undefined : mapped.namespace };
}

/** The target node is a virtual node: what planning needs of its provider, or the refusal when none is configured. */
export async function readOffloadedTarget(clusters: Clusters, consumer: string, node: V1Node, namespace: string, pod: string): Promise<OffloadedTargetFacts | { refused: Refusal }> {
  const offloading = await readOffloading(clusters, consumer, node, namespace);
  if ('refused' in offloading) return offloading;
  const { remoteNamespace: mapped, ...facts } = offloading;
  const providerCore = clusters.core(facts.provider);
  const [notReflected, providerNodes, podAtProvider] = await Promise.all([
    readNotReflected(clusters, consumer, node.metadata?.name ?? ''),
    providerCore.listNode().then((list) => list.items),
    mapped ? readPod(clusters, facts.provider, mapped, pod) : undefined,
  ]);
  return { ...facts, notReflected, providerNodes, podAtProvider };
}

/** The source is on a virtual node: its provider and the pod Liqo made of it there. */
export async function readOffloadedSource(clusters: Clusters, consumer: string, node: V1Node, namespace: string, pod: string): Promise<OffloadedSourceFacts | { refused: Refusal }> {
  const offloading = await readOffloading(clusters, consumer, node, namespace);
  if ('refused' in offloading) return offloading;
  const { remoteNamespace: mapped, ...facts } = offloading;
  return { ...facts, remotePod: mapped ? await readPod(clusters, facts.provider, mapped, pod) : undefined };
}

/** The VirtualNode's offloadingPatch (the object of the node's name, in its tenant namespace); nothing when it has none. */
async function readNotReflected(clusters: Clusters, consumer: string, nodeName: string): Promise<NotReflected> {
  const list = await clusters.customObjects(consumer).listClusterCustomObject({ ...LIQO_OFFLOADING_API, plural: 'virtualnodes' });
  const patch = List(VirtualNode).parse(list).items.find((vn) => vn.metadata.name === nodeName)?.spec?.offloadingPatch;
  return { annotations: patch?.annotationsNotReflected ?? [], labels: patch?.labelsNotReflected ?? [] };
}

async function readPod(clusters: Clusters, cluster: string, namespace: string, name: string): Promise<V1Pod | undefined> {
  return clusters.core(cluster).readNamespacedPod({ name, namespace }).catch(ignoreNotFound);
}

function ignoreNotFound(err: unknown): undefined {
  if (apiStatus(err) === 404) return undefined;
  throw err;
}
