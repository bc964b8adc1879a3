// The Secret a target pod pulls its checkpoint images with: type kubernetes.io/dockerconfigjson, holding
// the registry's read-only pull identity for the one host the images are named under, labelled as made by
// its migration. Pure: unit-tested without a cluster.
import type { V1Secret } from '@kubernetes/client-node';
import type { RegistryCredentials } from '../api/config.js';
import { ANNOTATIONS, migrationKey } from '../api/names.js';
import { migrationObjectLabels } from './target-pod.js';

export interface PullSecretInput {
  name: string;
  namespace: string;
  migrationId: string;
  /** host[:port] the checkpoint images are named under (registry.pullHost, else the registry URL's). */
  host: string;
  credentials: RegistryCredentials;
}

export function buildPullSecret(input: PullSecretInput): V1Secret {
  const { username, password } = input.credentials;
  // As `kubectl create secret docker-registry` writes it.
  const dockerConfig = { auths: { [input.host]: { username, password, auth: base64(`${username}:${password}`) } } };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels: migrationObjectLabels(migrationKey(input.migrationId)),
      annotations: { [ANNOTATIONS.migrationId]: input.migrationId },
    },
    type: 'kubernetes.io/dockerconfigjson',
    // Never changed while it lives: kubelets need not watch it.
    immutable: true,
    data: { '.dockerconfigjson': base64(JSON.stringify(dockerConfig)) },
  };
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}
