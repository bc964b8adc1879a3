// The owner a moved pod's owner gets in a target namespace that has none of its name: the source's spec and labels
// without any replicas (the move gives it the restored copy once the copy is Ready), without the source's status
// and what its controller or kubectl wrote on it, marked as made by the migration. Its pod template is the
// source's to the letter, so its controller gives it the same pod-template-hash (a Deployment) or revision (a
// StatefulSet). Pure: unit-tested without a cluster.
import type { V1Deployment, V1ObjectMeta, V1StatefulSet } from '@kubernetes/client-node';
import { ANNOTATIONS, migrationKey } from '../api/names.js';
import { REVISION_ANNOTATION } from '../planning/replicaset-handover.js';
import { migrationObjectLabels } from './target-pod.js';

/** kubectl apply's record of the source's last applied configuration: not this object's. */
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

interface TargetOwnerInput<T> {
  source: T;
  sourceCluster: string;
  targetNamespace: string;
  migrationId: string;
}

export function buildTargetDeployment(input: TargetOwnerInput<V1Deployment>): V1Deployment {
  const { metadata, spec } = structuredClone(input.source);
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: targetMetadata(metadata, input, [REVISION_ANNOTATION, ANNOTATIONS.scaledBy]), spec: { ...spec!, replicas: 0 } };
}

/** A StatefulSet made for the pod of `ordinal`: its range starts there and is empty, so it creates no pod until the move extends it. */
export function buildTargetStatefulSet(input: TargetOwnerInput<V1StatefulSet> & { ordinal: number }): V1StatefulSet {
  const { metadata, spec } = structuredClone(input.source);
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: targetMetadata(metadata, input, []), spec: { ...spec!, replicas: 0, ordinals: { start: input.ordinal } } };
}

/** The source's name and labels, its annotations but those dropped and kubectl's, and the migration's marks. */
function targetMetadata(metadata: V1ObjectMeta | undefined, input: Omit<TargetOwnerInput<unknown>, 'source'>, dropped: string[]): V1ObjectMeta {
  const drop = new Set([LAST_APPLIED_ANNOTATION, ...dropped]);
  const annotations = Object.fromEntries(Object.entries(metadata?.annotations ?? {}).filter(([key]) => !drop.has(key)));
  return {
    name: metadata?.name,
    namespace: input.targetNamespace,
    labels: { ...metadata?.labels, ...migrationObjectLabels(migrationKey(input.migrationId)) },
    annotations: {
      ...annotations,
      [ANNOTATIONS.migrationId]: input.migrationId,
      [ANNOTATIONS.source]: `${input.sourceCluster}/${metadata?.namespace}/${metadata?.name}`,
    },
  };
}
