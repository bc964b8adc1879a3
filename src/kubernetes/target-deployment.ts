// The Deployment a moved pod's Deployment gets in a target namespace that has none: the source's spec and labels
// with 0 replicas (the move scales it up once the restored copy is Ready, for the copy to be adopted), without
// the source's status and what its controller or kubectl wrote on it, marked as made by the migration. Its pod
// template is the source's to the letter, so the Deployment controller gives it the same pod-template-hash.
// Pure: unit-tested without a cluster.
import type { V1Deployment } from '@kubernetes/client-node';
import { ANNOTATIONS, migrationKey } from '../api/names.js';
import { REVISION_ANNOTATION } from '../planning/replicaset-handover.js';
import { migrationObjectLabels } from './target-pod.js';

/** kubectl apply's record of the source's last applied configuration: not this object's. */
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

export function buildTargetDeployment(input: { source: V1Deployment; sourceCluster: string; targetNamespace: string; migrationId: string }): V1Deployment {
  const { metadata, spec } = structuredClone(input.source);
  const dropped = new Set([REVISION_ANNOTATION, LAST_APPLIED_ANNOTATION, ANNOTATIONS.scaledBy]);
  const annotations = Object.fromEntries(Object.entries(metadata?.annotations ?? {}).filter(([key]) => !dropped.has(key)));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: metadata?.name,
      namespace: input.targetNamespace,
      labels: { ...metadata?.labels, ...migrationObjectLabels(migrationKey(input.migrationId)) },
      annotations: {
        ...annotations,
        [ANNOTATIONS.migrationId]: input.migrationId,
        [ANNOTATIONS.source]: `${input.sourceCluster}/${metadata?.namespace}/${metadata?.name}`,
      },
    },
    spec: { ...spec!, replicas: 0 },
  };
}
