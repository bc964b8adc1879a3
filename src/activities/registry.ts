// Checkpoint images in the OCI registry. The push runs on the node worker, because the archive exists only
// on the node: the archive file is streamed once, hashed on the way, and is itself the image's only layer.
import { ApplicationFailure } from '@temporalio/common';
import { MEDIA_TYPES, namedMigrationCheckpointImage } from '../oci/checkpoint-image.js';
import { readDigestMemo, writeDigestMemo } from '../node/archive-digest.js';
import type { CheckpointArchives } from '../node/checkpoint-archives.js';
import { RegistryClient, RegistryError } from '../registry/client.js';
import { heartbeatIfActive, previousHeartbeat, whileHeartbeating } from './context.js';
import type { CheckpointArchiveImageInput } from './transfer.js';

export interface RegistryActivityDeps {
  registry: RegistryClient;
  /** Default repository (config registry.repository). */
  repository: string;
  /** host[:port] kubelets pull from; default the registry URL's host. */
  pullHost?: string;
  /** The checkpoint archives this worker may push (a node worker; the orchestrator pushes nothing). */
  archives?: CheckpointArchives;
}

export interface PushCheckpointImageInput extends CheckpointArchiveImageInput {
  tag: string;
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
  async function pushCheckpointImage(input: PushCheckpointImageInput): Promise<PushedCheckpointImage> {
    const started = Date.now();
    // The repository is configuration, never input: a caller cannot send a workload's memory elsewhere.
    const repository = deps.repository;
    if (!deps.archives) throw ApplicationFailure.nonRetryable('this worker has no checkpoint directory (node.checkpointDir): it pushes no archives', 'ArchiveRefused');
    const file = await deps.archives.resolve(input.archivePath, `pushing the checkpoint image of container ${input.container}`);
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
        const { image, ref } = namedMigrationCheckpointImage(input, layer, { host: deps.pullHost ?? deps.registry.host, repository });
        await deps.registry.pushBlobBytes(repository, image.config.bytes, image.config.digest, { signal });
        await deps.registry.putManifest(repository, input.tag, image.manifest.bytes, MEDIA_TYPES.manifest, { signal });
        return {
          container: input.container,
          ref,
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

  /**
   * Deletes the image a tag points to, its layer and config included: the layer is the checkpoint archive,
   * the workload's memory, and must not stay readable after its manifest is gone. A checkpoint image's blobs
   * belong to it alone (the layer is one checkpoint, the config names its migration). Blobs go first, so a
   * retry after a crash still finds the manifest that names them. A missing tag counts as deleted.
   */
  async function deleteImage(input: { tag: string }): Promise<{ deleted: boolean }> {
    const repository = deps.repository;
    try {
      const manifest = await deps.registry.getManifest(repository, input.tag);
      if (!manifest) return { deleted: false };
      const { config, layers } = JSON.parse(new TextDecoder().decode(manifest.bytes)) as { config?: { digest: string }; layers?: Array<{ digest: string }> };
      for (const blob of [...(layers ?? []), ...(config ? [config] : [])]) await deps.registry.deleteBlob(repository, blob.digest);
      return { deleted: await deps.registry.deleteManifest(repository, manifest.digest) };
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
  // fetch says only "fetch failed": why (refused, no such host, a certificate it does not trust) is its cause.
  const cause = (err as Error).cause instanceof Error ? ` (${((err as Error).cause as Error).message})` : '';
  return ApplicationFailure.create({ message: `${what}: ${(err as Error).message ?? String(err)}${cause}`, type: 'RegistryUnavailable' });
}
