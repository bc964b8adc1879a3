// An owner (Deployment, StatefulSet) a migration makes at the target for the moved pod, when the target namespace has
// none of the source's name: made from the source's (create-or-get), how to tell it is this migration's, and its undo,
// which deletes it only while it is still this migration's and has no replicas (the move gave it none yet), with the
// object read as the deletion's precondition.
import type { V1DeleteOptions, V1ObjectMeta } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ANNOTATIONS } from '../api/names.js';
import { apiMessage, apiStatus } from './clusters.js';

interface Owner {
  metadata?: V1ObjectMeta;
  spec?: { replicas?: number };
}

/** Whether this migration made the object (its annotation says so). */
export function madeBy(object: { metadata?: V1ObjectMeta }, migrationId: string): boolean {
  return object.metadata?.annotations?.[ANNOTATIONS.migrationId] === migrationId;
}

/** An owner by name, and the incarnation meant (uid). */
export interface OwnerRef {
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
}

/**
 * The target namespace's owner of the source's name: read, or made from the source's (`build`) when missing; one made
 * meanwhile is read (create-or-get). The source must still be the incarnation planned, else OwnerNotFound.
 */
export async function readOrCreateTargetOwner<T extends Owner>(
  kind: string,
  source: OwnerRef,
  targetCluster: string,
  api: { readTarget: () => Promise<T | undefined>; readSource: () => Promise<T | undefined>; create: (body: T) => Promise<T>; build: (original: T) => T },
): Promise<T> {
  const existing = await api.readTarget();
  if (existing) return existing;
  const original = await api.readSource();
  if (original?.metadata?.uid !== source.uid) {
    throw ApplicationFailure.nonRetryable(
      `${kind} ${source.namespace}/${source.name} in cluster ${source.cluster} (uid ${source.uid}) is gone or was replaced since the plan: nothing to copy to ${targetCluster}; retry`,
      'OwnerNotFound',
    );
  }
  try {
    return await api.create(api.build(original));
  } catch (err) {
    if (apiStatus(err) !== 409) throw err;
    const made = await api.readTarget(); // made meanwhile: create-or-get
    if (!made) throw err;
    return made;
  }
}

/**
 * Deletes the owner `at` names if this migration made it and it still has 0 replicas (the condition and the deletion
 * are one request: uid and resourceVersion as preconditions); otherwise leaves it and says why. A deletion that
 * meets a change is retried (read again).
 */
export async function deleteMadeOwnerWhileEmpty(
  at: string,
  migrationId: string,
  read: () => Promise<Owner | undefined>,
  remove: (body: V1DeleteOptions) => Promise<unknown>,
): Promise<{ deleted: boolean; kept?: string }> {
  const owner = await read();
  if (!owner || !madeBy(owner, migrationId)) return { deleted: false };
  const replicas = owner.spec?.replicas ?? 1;
  if (replicas !== 0) return { deleted: false, kept: `${at} has ${replicas} replicas now` };
  try {
    await remove({ preconditions: { uid: owner.metadata?.uid, resourceVersion: owner.metadata?.resourceVersion }, propagationPolicy: 'Background' });
  } catch (err) {
    const status = apiStatus(err);
    if (status === 404) return { deleted: true };
    if (status === 409) throw ApplicationFailure.retryable(`${at} changed while being deleted: ${apiMessage(err)}`, 'OwnerChanged');
    throw err;
  }
  return { deleted: true };
}
