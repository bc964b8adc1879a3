// Names shared by the workflow, the workers and the CLI. Pure: safe inside the workflow sandbox.

/** Kubernetes object names (DNS-1123 subdomain) as the API server accepts them. */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Namespace and label-ish names (DNS-1123 label). */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const DEFAULT_TASK_QUEUE = 'podferry';
export const WORKFLOW_TYPE = 'migratePod';

/**
 * The task queue of the node worker on one node. Archives and cgroups exist only on that node, so the
 * workflow routes node-local activities to it by name (one worker per node: a DaemonSet, in the lab a process).
 */
export function nodeTaskQueue(cluster: string, node: string): string {
  return `podferry-node-${cluster}-${node}`;
}

/** Annotations and labels podferry writes on the objects it creates. */
export const ANNOTATIONS = {
  migrationId: 'podferry.io/migration-id',
  source: 'podferry.io/source',
  originalImages: 'podferry.io/original-images',
  /** On a target pod: the uid of the source pod it was made from (a re-used migration id cannot adopt another's pod). */
  sourceUid: 'podferry.io/source-uid',
  /**
   * On a source pod being migrated: the migration id holding it. Written at plan time with the pod's
   * resourceVersion as precondition, so two migrations of one pod cannot both hold it, whatever their ids.
   */
  lock: 'podferry.io/migration-lock',
  /**
   * On a ReplicaSet's restored copy until its hand-over: the labels it is to carry (JSON), kept off so that
   * no ReplicaSet or Service selects it before it is Ready.
   */
  stashedLabels: 'podferry.io/stashed-labels',
  /**
   * On a Deployment a migration scaled by one: the ids of the last migrations that did (JSON list, newest last,
   * SCALED_BY_KEPT at most), so that a retried scale finds its own id and does nothing.
   */
  scaledBy: 'podferry.io/scaled-by',
} as const;

/** How many migration ids ANNOTATIONS.scaledBy keeps: far more than can retry a scale at the same time. */
export const SCALED_BY_KEPT = 20;

/** Read by the ReplicaSet controller when it picks which of its pods to delete (lowest first; int32). */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
/** The lowest pod-deletion-cost: given to a frozen source so its ReplicaSet deletes it rather than a sibling. */
export const MIN_POD_DELETION_COST = String(-(2 ** 31));
/**
 * The pod name fence (deploy/admission): a ValidatingAdmissionPolicy that refuses creating a pod whose name is a
 * key of the ConfigMap `configMap` in the pod's namespace, unless the pod carries the migration id that key
 * holds (ANNOTATIONS.migrationId). While a StatefulSet's pod moves within its namespace, its name is fenced so
 * the StatefulSet cannot start a fresh pod of it; the restored pod passes.
 */
export const POD_NAME_FENCE = { policy: 'podferry-pod-name-fence', configMap: 'podferry-fence' } as const;
/** What an operator runs to lift a fence (a key of the namespace's fence ConfigMap) that a migration could not. */
export function liftFenceByHand(cluster: string, namespace: string, key: string): string {
  return `kubectl --context ${cluster} -n ${namespace} patch configmap ${POD_NAME_FENCE.configMap} --type=json -p '[{"op":"remove","path":"/data/${key}"}]'`;
}
/**
 * The owner fence, in the same ConfigMap and policy: a key made by ownerFenceKey refuses creating a pod whose
 * controller has that uid. A Deployment's ReplicaSet at the target is fenced while the move scales it up for the
 * restored copy (which carries no owner, so it passes). The underscore keeps these keys apart from pod names.
 */
export function ownerFenceKey(ownerUid: string): string {
  return `owner_${ownerUid}`;
}
/** The label a Deployment's ReplicaSets and pods carry with the hash of their pod template (the same in every cluster). */
export const POD_TEMPLATE_HASH = 'pod-template-hash';
/** The label a StatefulSet's pods carry with the revision (ControllerRevision) they were made from. */
export const CONTROLLER_REVISION_HASH = 'controller-revision-hash';
export const LABELS = {
  /** Label on copied ConfigMaps/Secrets and the pull secret, so compensation finds exactly what this migration created. */
  migrationKey: 'podferry.io/migration-key',
} as const;

/**
 * A label value and image tag derived from a migration (workflow) id: deterministic, so every retry of a
 * step names the same objects (create-or-get), and valid for both label values (<=63) and tags (<=128).
 */
export function migrationKey(migrationId: string): string {
  const cleaned = migrationId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  if (cleaned.length > 0 && cleaned.length <= 48 && cleaned === migrationId) return cleaned;
  // Keep a readable prefix and make it unique with a short hash of the full id.
  return `${cleaned.slice(0, 39).replace(/-+$/, '')}-${fnv1a32(migrationId)}`.replace(/^-/, 'm-');
}

/** Tag of the checkpoint image of one container of one migration. */
export function checkpointImageTag(migrationId: string, container: string): string {
  return `${migrationKey(migrationId)}-${container}`.slice(0, 128);
}

/** Names of podferry's per-migration pull secrets start with this (see pullSecretName). */
const PULL_SECRET_PREFIX = 'podferry-pull-';

/**
 * The Secret a migration's target pod pulls its checkpoint images with (registry.pull): one per migration,
 * in the target namespace, so it is deleted with the migration's other leftovers and nothing else.
 */
export function pullSecretName(migrationId: string): string {
  return `${PULL_SECRET_PREFIX}${migrationKey(migrationId)}`;
}

/** A pull secret some migration made (an earlier one, on a pod that moved before: deleted by now). */
export function isPullSecretName(name: string): boolean {
  return name.startsWith(PULL_SECRET_PREFIX);
}

/** Small, dependency-free, deterministic hash (workflow-safe: no node:crypto in the sandbox), 8 hex digits. */
export function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
