// Checkpoint images in the OCI registry. The push runs on the node worker, because the archive exists only
// on the node: the archive file is streamed once, hashed on the way, and is itself the image's only layer.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { imageReference, MEDIA_TYPES, migrationCheckpointImage } from '../oci/checkpoint-image.js';
import { readDigestMemo, writeDigestMemo } from '../node/archive-digest.js';
import { RegistryClient, RegistryError } from '../registry/client.js';
import { heartbeatIfActive, previousHeartbeat, whileHeartbeating } from './context.js';

export interface RegistryActivityDeps {
  registry: RegistryClient;
  /** Default repository (config registry.repository). */
  repository: string;
  /** host[:port] kubelets pull from; default the registry URL's host. */
  pullHost?: string;
  /** Prefix for host paths ("/" for a host process, "/host" in a DaemonSet). */
  hostRoot?: string;
}

export interface PushCheckpointImageInput {
  migrationId: string;
  container: string;
  archivePath: string;
  tag: string;
  repository?: string;
  originalImage?: string;
}

export interface PushedCheckpointImage {
  container: string;
  /** host/repository@sha256:... — what the target pod's container uses. */
  ref: string;
  tag: string;
  manifestDigest: string;
  layerDigest: string;
  archiveBytes: number;
  /** Bytes actually sent (0 when the registry already had the layer). */
  bytesPushed: number;
  durationMs: number;
}

/** Heartbeat details of a push: its progress, then (once the layer is in) the digest a retry resumes from. */
type PushHeartbeat = { sent: number; total: number } | { layerDigest: string };

export function createRegistryActivities(deps: RegistryActivityDeps) {
  const hostPath = (p: string) => path.join(deps.hostRoot ?? '/', p);

  async function pushCheckpointImage(input: PushCheckpointImageInput): Promise<PushedCheckpointImage> {
    const started = Date.now();
    const repository = input.repository ?? deps.repository;
    const file = hostPath(input.archivePath);
    try {
      await stat(file);
    } catch {
      throw ApplicationFailure.nonRetryable(
        `checkpoint archive ${input.archivePath} of container ${input.container} is not on this node (looked at ${file}): ` +
          'the node worker must run on the pod\'s node with the host filesystem at hostRoot',
        'ArchiveNotFound',
      );
    }
    // A previous attempt may have uploaded the layer already: its digest is in the last heartbeat, or in the
    // digest memo next to the archive (which survives a worker crash). Then the registry is only asked.
    const knownDigest = previousHeartbeat<{ layerDigest?: string }>()?.layerDigest ?? (await readDigestMemo(file));
    let progress: PushHeartbeat | undefined = knownDigest ? { layerDigest: knownDigest } : undefined; // kept until the upload moves on
    return whileHeartbeating(async (signal) => {
      try {
        const layer = await deps.registry.pushBlobFromFile(repository, file, {
          knownDigest,
          signal,
          onProgress: (sent, total) => (progress = { sent, total }),
        });
        progress = { layerDigest: layer.digest };
        heartbeatIfActive(progress); // now, not at the next beat: a retry from here on only asks the registry
        await writeDigestMemo(file, layer.digest);
        const image = migrationCheckpointImage(input, layer);
        await deps.registry.pushBlobBytes(repository, image.config.bytes, image.config.digest, { signal });
        await deps.registry.putManifest(repository, input.tag, image.manifest.bytes, MEDIA_TYPES.manifest, { signal });
        const host = deps.pullHost ?? deps.registry.host;
        return {
          container: input.container,
          ref: imageReference(host, repository, image.manifest.digest),
          tag: input.tag,
          manifestDigest: image.manifest.digest,
          layerDigest: layer.digest,
          archiveBytes: layer.size,
          bytesPushed: layer.uploaded ? layer.size : 0,
          durationMs: Date.now() - started,
        };
      } catch (err) {
        throw asFailure(err, `pushing the checkpoint image of container ${input.container} to ${repository}:${input.tag}`);
      }
    }, () => progress);
  }

  /** Deletes the image a tag points to; a missing tag counts as deleted. */
  async function deleteImage(input: { repository?: string; tag: string }): Promise<{ deleted: boolean }> {
    const repository = input.repository ?? deps.repository;
    try {
      const digest = await deps.registry.headManifest(repository, input.tag);
      if (!digest) return { deleted: false };
      return { deleted: await deps.registry.deleteManifest(repository, digest) };
    } catch (err) {
      throw asFailure(err, `deleting checkpoint image ${repository}:${input.tag}`);
    }
  }

  return { pushCheckpointImage, deleteImage };
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;

/** Authentication and refusal errors will not heal by retrying; network errors and 5xx may. */
function asFailure(err: unknown, what: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof RegistryError) {
    const permanent = [400, 401, 403, 404, 405].includes(err.status);
    return ApplicationFailure.create({ message: `${what}: ${err.message}`, type: 'RegistryError', nonRetryable: permanent });
  }
  return ApplicationFailure.create({ message: `${what}: ${(err as Error).message ?? String(err)}`, type: 'RegistryUnavailable' });
}
