// Rebuilds the source pod for the target cluster: the whole spec kept (labels, annotations, env, ports,
// resources, probes, security context, movable volumes), what belongs to the old pod's life stripped
// (identity, status, node binding, the service-account token volume the API server injected), and every
// container's image replaced by its checkpoint image so the runtime restores instead of starting fresh
// (pulled with the migration's pull secret, when the registry wants one). Pure: unit-tested without a cluster.
import type { V1Container, V1Pod, V1PodSpec, V1Taint, V1Toleration, V1Volume } from '@kubernetes/client-node';
import { ANNOTATIONS, isPullSecretName, LABELS } from '../api/names.js';
import { LIQO_OFFLOADED_POD_LABELS } from './liqo.js';

export interface TargetPodInput {
  /** The source pod as read from its API server (plain JSON). */
  source: V1Pod;
  sourceCluster: string;
  targetNamespace: string;
  /** Bind to this node (or Liqo virtual node); undefined lets the target's scheduler choose. */
  targetNode?: string;
  /** Checkpoint image reference per container name. */
  images: Record<string, string>;
  migrationId: string;
  /** The pod's name at the target; default the source's (its hostname stays the same). */
  name?: string;
  /**
   * Keep the labels off the pod, stashed in the podferry.io/stashed-labels annotation (a ReplicaSet's copy
   * until its hand-over), so that no ReplicaSet or Service selects it.
   */
  stashLabels?: boolean;
  /** The Secret the kubelet pulls the checkpoint images with (the plan's pullSecret), if any. */
  pullSecret?: string;
  /**
   * NoExecute taints of the target node (e.g. a Liqo virtual node's `virtual-node.liqo.io/not-allowed`).
   * A pod bound by nodeName skips the scheduler but not the taint manager, which would evict it: they are
   * tolerated explicitly.
   */
  targetNodeTaints?: V1Taint[];
}

/** Tolerations to add so the pod may stay on a node with these NoExecute taints. */
export function tolerationsFor(taints: V1Taint[], existing: V1Toleration[] = []): V1Toleration[] {
  return taints
    .filter((taint) => taint.effect === 'NoExecute' && !tolerates(existing, taint))
    .map((taint) => ({ key: taint.key, operator: 'Equal', value: taint.value ?? '', effect: 'NoExecute' }));
}

/** A pod's own CRIU configuration file (CRI-O passes it to runc for checkpoint and restore alike). */
const CRIU_CONFIG_ANNOTATION = 'org.criu.config';

/** True when one of the tolerations tolerates the taint (as the scheduler matches them). */
export function tolerates(tolerations: V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some(
    (t) =>
      (t.effect === undefined || t.effect === '' || t.effect === taint.effect) &&
      ((t.operator === 'Exists' && (t.key === undefined || t.key === '' || t.key === taint.key)) ||
        (t.key === taint.key && (t.value ?? '') === (taint.value ?? ''))),
  );
}

/** The token volume the ServiceAccount admission plugin adds (`kube-api-access-xxxxx`); the target adds its own. */
export function isServiceAccountTokenVolume(volume: V1Volume): boolean {
  return (
    volume.name.startsWith('kube-api-access-') &&
    (volume.projected?.sources ?? []).some((source) => source.serviceAccountToken !== undefined)
  );
}

export function buildTargetPod(input: TargetPodInput): V1Pod {
  const source = structuredClone(input.source);
  const meta = source.metadata ?? {};
  const spec: V1PodSpec = structuredClone(source.spec ?? { containers: [] });
  const originalImages = Object.fromEntries(spec.containers.map((c) => [c.name, c.image ?? '']));

  const missing = spec.containers.filter((c) => !input.images[c.name]).map((c) => c.name);
  if (missing.length > 0) throw new Error(`no checkpoint image for container(s) ${missing.join(', ')}`);

  const tokenVolumes = new Set((spec.volumes ?? []).filter(isServiceAccountTokenVolume).map((v) => v.name));
  spec.volumes = (spec.volumes ?? []).filter((v) => !tokenVolumes.has(v.name));
  if (spec.volumes.length === 0) delete spec.volumes;
  const dropTokenMounts = (c: V1Container) => {
    if (c.volumeMounts) c.volumeMounts = c.volumeMounts.filter((m) => !tokenVolumes.has(m.name));
    if (c.volumeMounts?.length === 0) delete c.volumeMounts;
  };
  spec.containers.forEach(dropTokenMounts);
  spec.initContainers?.forEach(dropTokenMounts);

  spec.containers = spec.containers.map((container) => ({
    ...container,
    image: input.images[container.name],
    // Checkpoint images are referenced by digest: a cached copy is always the right one.
    imagePullPolicy: 'IfNotPresent',
  }));

  // The old pod's binding and what admission derived from it; the target computes its own.
  delete spec.nodeName;
  delete spec.ephemeralContainers;
  delete spec.priority; // recomputed from priorityClassName; a stale value is rejected by admission
  delete spec.preemptionPolicy;
  delete (spec as unknown as Record<string, unknown>).serviceAccount; // deprecated alias of serviceAccountName
  if (spec.nodeSelector?.['kubernetes.io/hostname']) {
    // It names a source node, which does not exist in the target cluster.
    delete spec.nodeSelector['kubernetes.io/hostname'];
    if (Object.keys(spec.nodeSelector).length === 0) delete spec.nodeSelector;
  }
  // The pod's own pull secrets stay; those of earlier migrations of this pod are gone (deleted once their
  // target was Ready) and give way to this migration's.
  const pullSecrets = (spec.imagePullSecrets ?? []).filter((s) => !isPullSecretName(s.name ?? ''));
  if (input.pullSecret) pullSecrets.push({ name: input.pullSecret });
  if (pullSecrets.length > 0) spec.imagePullSecrets = pullSecrets;
  else delete spec.imagePullSecrets;
  if (input.targetNode) spec.nodeName = input.targetNode;
  const extraTolerations = tolerationsFor(input.targetNodeTaints ?? [], spec.tolerations);
  if (extraTolerations.length > 0) spec.tolerations = [...(spec.tolerations ?? []), ...extraTolerations];

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      // Same name unless told: the pod's hostname (the restored processes may have read it) stays the same.
      name: input.name ?? meta.name,
      namespace: input.targetNamespace,
      // A pod Liqo offloaded carries Liqo's labels of that placement; Liqo sets them again if it offloads the target.
      // A copy a ReplicaSet is to adopt gets its labels at the hand-over (stashed in an annotation until then).
      ...(meta.labels && !input.stashLabels ? { labels: withoutKeys(meta.labels, LIQO_OFFLOADED_POD_LABELS) } : {}),
      annotations: {
        // The source's lock is its own: the restored pod starts unlocked. A per-pod CRIU configuration is
        // honoured by the restore too (CRI-O: `leave-stopped` would keep the restored tasks stopped).
        ...withoutKeys(meta.annotations, [ANNOTATIONS.lock, CRIU_CONFIG_ANNOTATION]),
        [ANNOTATIONS.migrationId]: input.migrationId,
        [ANNOTATIONS.source]: `${input.sourceCluster}/${meta.namespace}/${meta.name}`,
        ...(meta.uid ? { [ANNOTATIONS.sourceUid]: meta.uid } : {}),
        [ANNOTATIONS.originalImages]: JSON.stringify(originalImages),
        ...(input.stashLabels ? { [ANNOTATIONS.stashedLabels]: JSON.stringify(meta.labels ?? {}) } : {}),
      },
    },
    spec,
  };
}

function withoutKeys(record: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(record ?? {}).filter(([key]) => !keys.includes(key)));
}

export interface ConfigReferences {
  configMaps: string[];
  secrets: string[];
}

/** ConfigMaps and Secrets the pod needs to start (volumes, env, envFrom, image pull secrets), sorted. */
export function referencedConfig(spec: V1PodSpec): ConfigReferences {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const volume of spec.volumes ?? []) {
    if (isServiceAccountTokenVolume(volume)) continue;
    if (volume.configMap?.name) configMaps.add(volume.configMap.name);
    if (volume.secret?.secretName) secrets.add(volume.secret.secretName);
    for (const source of volume.projected?.sources ?? []) {
      if (source.configMap?.name) configMaps.add(source.configMap.name);
      if (source.secret?.name) secrets.add(source.secret.name);
    }
  }
  for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
    for (const env of container.env ?? []) {
      if (env.valueFrom?.configMapKeyRef?.name) configMaps.add(env.valueFrom.configMapKeyRef.name);
      if (env.valueFrom?.secretKeyRef?.name) secrets.add(env.valueFrom.secretKeyRef.name);
    }
    for (const from of container.envFrom ?? []) {
      if (from.configMapRef?.name) configMaps.add(from.configMapRef.name);
      if (from.secretRef?.name) secrets.add(from.secretRef.name);
    }
  }
  // Not a migration's pull secret: the target pod gets its own migration's instead (buildTargetPod).
  for (const pullSecret of spec.imagePullSecrets ?? []) if (pullSecret.name && !isPullSecretName(pullSecret.name)) secrets.add(pullSecret.name);
  return { configMaps: [...configMaps].sort(), secrets: [...secrets].sort() };
}

/** Labels put on the ConfigMaps/Secrets a migration makes (copies, its pull secret), so compensation deletes exactly those. */
export function migrationObjectLabels(key: string): Record<string, string> {
  return { [LABELS.migrationKey]: key };
}
