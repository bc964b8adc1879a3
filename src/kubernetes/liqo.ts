// What podferry knows of Liqo (v1.1.0, names checked in its sources: pkg/consts, pkg/virtualKubelet/forge,
// apis/offloading/v1beta1): how a virtual node and the pod Liqo reflects into the provider cluster are
// recognised, which podferry cluster provides a virtual node, and what of a pod Liqo would not reflect
// faithfully enough for a restore. Pure: unit-tested without a cluster.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Refusal } from './eligibility.js';

/** Liqo's API group of NamespaceOffloading, NamespaceMap and VirtualNode. */
export const LIQO_OFFLOADING_API = { group: 'offloading.liqo.io', version: 'v1beta1' } as const;

/** consts.TypeLabel / consts.TypeNode: on every virtual node. */
const NODE_TYPE_LABEL = 'liqo.io/type';
const VIRTUAL_NODE_TYPE = 'virtual-node';
/** consts.RemoteClusterID: on the virtual node (the provider's cluster id) and on the NamespaceMap of that provider. */
export const LIQO_REMOTE_CLUSTER_ID_LABEL = 'liqo.io/remote-cluster-id';
/** consts.VirtualNodeTolerationKey: the taint a virtual node carries so that only offloaded pods land on it. */
export const LIQO_VIRTUAL_NODE_TAINT = 'virtual-node.liqo.io/not-allowed';
/** forge.LiqoOriginClusterIDKey / LiqoDestinationClusterIDKey: on the ShadowPod and the pod made from it in the provider. */
const ORIGIN_CLUSTER_LABEL = 'offloading.liqo.io/origin';
const DESTINATION_CLUSTER_LABEL = 'offloading.liqo.io/destination';
/**
 * Labels Liqo puts on a pod it offloads (consts.LocalPodLabelKey, RemoteUnavailableKey): they belong to that
 * placement (Liqo's controllers select offloaded pods by them) and Liqo sets them again on a pod it offloads.
 */
export const LIQO_OFFLOADED_POD_LABELS = ['liqo.io/shadowPod', 'liqo.io/remote-unavailable'];
/** consts.DefaultNamespaceOffloadingName: the one NamespaceOffloading of an offloaded namespace. */
export const NAMESPACE_OFFLOADING_NAME = 'offloading';

/** The provider's cluster id when the node is a Liqo virtual node; undefined for a real node. */
export function virtualNodeClusterId(node: V1Node | undefined): string | undefined {
  const labels = node?.metadata?.labels ?? {};
  return labels[NODE_TYPE_LABEL] === VIRTUAL_NODE_TYPE ? (labels[LIQO_REMOTE_CLUSTER_ID_LABEL] ?? '') : undefined;
}

/**
 * The podferry cluster whose Liqo cluster id is `clusterId` (liqoClusterIds: podferry cluster name → its Liqo
 * cluster id, by default the name itself), or the refusal naming what to configure.
 */
export function providerCluster(clusterId: string, liqoClusterIds: Record<string, string>, nodeName: string): { cluster: string } | { refused: Refusal } {
  const matching = Object.entries(liqoClusterIds).filter(([, id]) => id === clusterId).map(([name]) => name);
  if (matching.length === 1) return { cluster: matching[0]! };
  const known = Object.entries(liqoClusterIds).map(([name, id]) => `${name} (${id})`).join(', ') || 'none';
  const message =
    clusterId === ''
      ? `node ${nodeName} is a Liqo virtual node without the label ${LIQO_REMOTE_CLUSTER_ID_LABEL}: podferry cannot tell which cluster runs its pods`
      : matching.length === 0
        ? `node ${nodeName} is a Liqo virtual node of the cluster with Liqo cluster id "${clusterId}", which no configured cluster is (clusters and their Liqo ids: ${known}): ` +
          `add that cluster under \`clusters:\`, named ${clusterId} or with \`liqo: { clusterId: ${clusterId} }\``
        : `node ${nodeName} is a Liqo virtual node of Liqo cluster id "${clusterId}", which several configured clusters claim (${matching.join(', ')}): fix their \`liqo.clusterId\``;
  return { refused: { type: 'LiqoProviderUnknown', message } };
}

/** What Liqo's objects in the consumer cluster say about one namespace's offloading to one provider. */
export interface NamespaceOffloadingFacts {
  /** The namespace's NamespaceOffloading `offloading` (spec.podOffloadingStrategy), if it has one. */
  podOffloadingStrategy: string | undefined;
  /**
   * The provider's NamespaceMap entry for the namespace (status.currentMapping[namespace]): the namespace the
   * namespace's pods land in there, and whether Liqo made it (phase Accepted).
   */
  mapping: { remoteNamespace: string; phase: string } | undefined;
}

/** The namespace a pod of `namespace` lands in at the provider, or why pods of it are not offloaded there. */
export function remoteNamespace(
  namespace: string,
  consumer: string,
  provider: string,
  facts: NamespaceOffloadingFacts,
): { namespace: string } | { refused: Refusal } {
  if (facts.podOffloadingStrategy === undefined) {
    return refusal(
      'NamespaceNotOffloaded',
      `namespace ${namespace} of cluster ${consumer} is not offloaded with Liqo (it has no NamespaceOffloading): offload it there first ` +
        `(liqoctl offload namespace ${namespace} --namespace-mapping-strategy EnforceSameName --pod-offloading-strategy LocalAndRemote)`,
    );
  }
  if (facts.podOffloadingStrategy === 'Local') {
    return refusal(
      'NamespaceNotOffloaded',
      `namespace ${namespace} of cluster ${consumer} keeps its pods local (NamespaceOffloading podOffloadingStrategy Local): set it to LocalAndRemote or Remote`,
    );
  }
  if (!facts.mapping) {
    return refusal(
      'NamespaceNotOffloaded',
      `namespace ${namespace} of cluster ${consumer} is not offloaded to cluster ${provider} (its NamespaceMap has no entry for it): check the NamespaceOffloading's clusterSelector`,
    );
  }
  if (facts.mapping.phase !== 'Accepted') {
    return refusal(
      'NamespaceNotOffloaded',
      `namespace ${namespace} of cluster ${consumer} maps to ${facts.mapping.remoteNamespace} in cluster ${provider}, which is ${facts.mapping.phase || 'not created yet'} ` +
        '(Liqo has not made it): if a namespace of that name exists there that Liqo did not create, offload under another name ' +
        `(--namespace-mapping-strategy DefaultName); else wait until \`kubectl get namespaceoffloading -n ${namespace}\` shows Ready, then retry`,
    );
  }
  return { namespace: facts.mapping.remoteNamespace };
}

/** True when `pod` is a pod Liqo made in a provider from a pod of a consumer (it carries the consumer's annotations, podferry's lock too). */
export function isLiqoReflection(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[ORIGIN_CLUSTER_LABEL] !== undefined;
}

/** True when `pod` is the pod Liqo made in the provider from a pod of the consumer (ShadowPod reflection). */
export function isReflectionOf(pod: V1Pod, consumerId: string, providerId: string): boolean {
  const labels = pod.metadata?.labels ?? {};
  return labels[ORIGIN_CLUSTER_LABEL] === consumerId && labels[DESTINATION_CLUSTER_LABEL] === providerId;
}

/** What of the virtual node's offloadingPatch (VirtualNode spec) decides what Liqo leaves out of the remote pod. */
export interface NotReflected {
  annotations: string[];
  labels: string[];
}

/**
 * What Liqo's reflection (forge.RemotePodSpec, RemoteShadowPod) changes in a pod in a way that would break
 * its restore, or that the pod or podferry relies on. hostNetwork/hostPID/hostIPC (forced off there) are
 * refused for every pod already (refusalsFor).
 * - hostUsers: false is not copied: the remote pod would run in the node's user namespace, with other uids
 *   than the checkpointed processes had.
 * - setHostnameAsFQDN: the hostname names the namespace, which differs in the provider.
 * - annotations and labels listed as not reflected: the remote pod lacks them; refused when the pod reads
 *   them through the downward API, or when they are podferry's own (its undo finds the remote pod by them).
 */
export function reflectionRefusals(pod: V1Pod, notReflected: NotReflected, remoteNs: string, podferryAnnotations: string[]): Refusal[] {
  const ref = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const spec = pod.spec;
  const refusals: Refusal[] = [];
  if (spec?.hostUsers === false) {
    refusals.push({
      type: 'NotReflectedByLiqo',
      message: `${ref} runs in its own user namespace (hostUsers: false), which Liqo does not copy to the provider's pod: its restored processes would get other uids; migrate it to a real node`,
    });
  }
  if (spec?.setHostnameAsFQDN && remoteNs !== pod.metadata?.namespace) {
    refusals.push({
      type: 'NotReflectedByLiqo',
      message: `${ref} sets its hostname to its FQDN, which names its namespace; at the provider it runs in namespace ${remoteNs}: offload the namespace under its own name (EnforceSameName)`,
    });
  }
  const read = downwardApiFields(pod);
  const lost = (kind: 'annotations' | 'labels') => {
    const present = Object.keys(pod.metadata?.[kind] ?? {});
    return present.filter((key) => notReflected[kind].includes(key) && (read.has(`metadata.${kind}`) || read.has(`metadata.${kind}['${key}']`)));
  };
  for (const kind of ['annotations', 'labels'] as const) {
    const keys = lost(kind);
    if (keys.length > 0) {
      refusals.push({
        type: 'NotReflectedByLiqo',
        message: `${ref} reads its ${kind} ${keys.join(', ')} through the downward API, and the virtual node does not reflect them (offloadingPatch.${kind}NotReflected): the restored pod would read other values`,
      });
    }
  }
  const ours = podferryAnnotations.filter((key) => notReflected.annotations.includes(key));
  if (ours.length > 0) {
    refusals.push({
      type: 'NotReflectedByLiqo',
      message: `the virtual node does not reflect podferry's annotations ${ours.join(', ')} (offloadingPatch.annotationsNotReflected), by which podferry proves the remote pod stopped: remove them from that list`,
    });
  }
  return refusals;
}

/** The fieldPaths the pod's env and downwardAPI volumes read (e.g. metadata.annotations['x']). */
function downwardApiFields(pod: V1Pod): Set<string> {
  const paths = new Set<string>();
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const env of container.env ?? []) if (env.valueFrom?.fieldRef?.fieldPath) paths.add(env.valueFrom.fieldRef.fieldPath);
  }
  for (const volume of pod.spec?.volumes ?? []) {
    const items = [...(volume.downwardAPI?.items ?? []), ...(volume.projected?.sources ?? []).flatMap((s) => s.downwardAPI?.items ?? [])];
    for (const item of items) if (item.fieldRef?.fieldPath) paths.add(item.fieldRef.fieldPath);
  }
  return paths;
}

function refusal(type: string, message: string): { refused: Refusal } {
  return { refused: { type, message } };
}
