// Checkpoint images sent node to node, without a registry on the critical path. The source node's worker
// offers each archive as an image (hashed once, served by its CheckpointServer to the receiving node only,
// once, over mutual TLS); the target node's worker streams it into its runtime (containerd's import) and
// waits until the kubelet's view of images (CRI) has it. The target pod then references the image exactly as
// after a registry push (same digest), so the kubelet finds it present and pulls nothing. Images that went
// through the registry are pulled by the target node's worker ahead of the kubelet, to the same effect.
import type { IncomingMessage } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import type { RegistryCredentials } from '../api/config.js';
import { archiveDigest } from '../node/archive-digest.js';
import type { CheckpointArchives } from '../node/checkpoint-archives.js';
import { CheckpointServer, fetchOffer } from '../node/checkpoint-server.js';
import type { ContainerdImport, ImageLayoutStream } from '../node/containerd-import.js';
import type { CriImages } from '../node/cri-images.js';
import { nodeIdentity, type NodeCredentials } from '../node/node-identity.js';
import { namedMigrationCheckpointImage } from '../oci/checkpoint-image.js';
import { packOciLayout } from '../oci/oci-layout.js';
import { sleep, whileHeartbeating } from './context.js';

export interface TransferActivityDeps {
  /** Serves this node's checkpoints (source side). */
  server?: CheckpointServer;
  /** This node's TLS identity (fetching from another node's server). */
  credentials?: NodeCredentials;
  /** This node's images as the kubelet sees them (target side): pulls, status, removal. */
  criImages?: CriImages;
  /** Imports an image stream into this node's runtime (containerd only: CRI-O has no import, its images come through the registry). */
  importer?: ContainerdImport;
  /** Repository and registry host the image is named under (the same name a push would give). */
  repository: string;
  pullHost: string;
  /** The registry's read-only pull identity (registry.pull): the pull ahead of the kubelet uses it. */
  pullCredentials?: RegistryCredentials;
  /** The checkpoint archives this worker may serve (source side). */
  archives?: CheckpointArchives;
}

/** A node, as podferry names it: its cluster and node name. */
export interface NodeName {
  cluster: string;
  node: string;
}

export interface CheckpointArchiveImageInput {
  migrationId: string;
  container: string;
  archivePath: string;
  originalImage?: string;
}

export interface OfferCheckpointImageInput extends CheckpointArchiveImageInput {
  /** The only node that may fetch the offer. */
  receiver: NodeName;
}

export interface OfferedCheckpointImage {
  container: string;
  url: string;
  /** host/repository@sha256:… — what the target pod's container uses. */
  ref: string;
  manifestDigest: string;
  layerDigest: string;
  archiveBytes: number;
}

export interface ImportCheckpointImageInput {
  container: string;
  url: string;
  ref: string;
  /** The node that offered it: the server must prove to be that node. */
  source: NodeName;
}

export interface ImportedCheckpointImage {
  container: string;
  ref: string;
  bytes: number;
  durationMs: number;
}

/** How long an imported image may take to show up in the CRI image store (containerd registers it asynchronously). */
const VISIBLE_TIMEOUT_MS = 30_000;

export function createTransferActivities(deps: TransferActivityDeps) {
  /**
   * A checkpoint image reference this node accepts: in the configured checkpoint repository, by digest. Refs
   * come from the workflow input: any other name could import or remove an image a pod of this node runs.
   */
  const checkpointRef = (ref: string, purpose: string): string => {
    const prefix = `${deps.pullHost}/${deps.repository}@`;
    if (ref.startsWith(prefix) && /^sha256:[0-9a-f]{64}$/.test(ref.slice(prefix.length))) return ref;
    throw ApplicationFailure.nonRetryable(`${purpose}: image ${JSON.stringify(ref)} refused: this node worker only handles checkpoint images ${prefix}sha256:…`, 'ImageRefused');
  };

  /** The checkpoint image of one of this node's archives: the archive file, its image and reference. */
  async function archiveImage(input: CheckpointArchiveImageInput, purpose: string) {
    if (!deps.archives) throw ApplicationFailure.nonRetryable('this node worker has no checkpoint directory (node.checkpointDir)', 'TransferUnavailable');
    const file = await deps.archives.resolve(input.archivePath, `${purpose} of container ${input.container}`);
    let layer: { digest: string; size: number };
    try {
      layer = await archiveDigest(file);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(
        `checkpoint archive ${input.archivePath} of container ${input.container} cannot be read on this node (${file}): ${(err as Error).message}`,
        'ArchiveNotFound',
      );
    }
    const { image, ref } = namedMigrationCheckpointImage(input, layer, { host: deps.pullHost, repository: deps.repository });
    return { file, layer, image, ref };
  }

  async function offerCheckpointImage(input: OfferCheckpointImageInput): Promise<OfferedCheckpointImage> {
    if (!deps.server) throw ApplicationFailure.nonRetryable('this node worker serves no checkpoints (node.transfer.tls)', 'TransferUnavailable');
    const { file, layer, image, ref } = await archiveImage(input, 'offering the checkpoint image');
    return {
      container: input.container,
      url: deps.server.offer(image, ref, file, nodeIdentity(input.receiver.cluster, input.receiver.node)),
      ref,
      manifestDigest: image.manifest.digest,
      layerDigest: layer.digest,
      archiveBytes: layer.size,
    };
  }

  /**
   * Streams an image into this node's runtime and waits until the kubelet's view of images (CRI) lists it.
   * `layout` opens the stream (only when the image is not there yet); `bytes` counts what it read.
   */
  async function importIntoRuntime(ref: string, container: string, layout: (signal: AbortSignal) => Promise<ImageLayoutStream>): Promise<ImportedCheckpointImage> {
    const { criImages, importer } = deps;
    if (!criImages || !importer) {
      throw ApplicationFailure.nonRetryable(
        'this node worker has no containerd to import into (node.containerd; a CRI-O node receives checkpoint images only through the registry)',
        'TransferUnavailable',
      );
    }
    const started = Date.now();
    let bytes = 0;
    return whileHeartbeating(async (signal) => {
      const listed = () => criImages.status(ref, undefined, { signal });
      if (await listed()) return { container, ref, bytes: 0, durationMs: Date.now() - started };
      const stream = await layout(signal);
      (stream as NodeJS.EventEmitter).on('data', (chunk: Buffer) => (bytes += chunk.length));
      try {
        await importer.importLayout(stream, ref.slice(0, ref.indexOf('@')), { signal });
      } catch (err) {
        throw ApplicationFailure.create({ message: `importing the checkpoint image of ${container}: ${(err as Error).message}`, type: 'TransferFailed' });
      }
      const deadline = Date.now() + VISIBLE_TIMEOUT_MS;
      while (!(await listed())) {
        if (Date.now() > deadline) throw ApplicationFailure.create({ message: `imported ${ref}, but the runtime's CRI does not list it`, type: 'TransferFailed' });
        await sleep(50, signal);
      }
      return { container, ref, bytes, durationMs: Date.now() - started };
    }, () => ({ bytes }));
  }

  async function importCheckpointImage(input: ImportCheckpointImageInput): Promise<ImportedCheckpointImage> {
    const purpose = `importing the checkpoint image of ${input.container}`;
    checkpointRef(input.ref, purpose);
    offerUrl(input.url, purpose);
    const credentials = deps.credentials;
    if (!credentials) throw ApplicationFailure.nonRetryable('this node worker has no transfer identity (node.transfer.tls)', 'TransferUnavailable');
    const source = nodeIdentity(input.source.cluster, input.source.node);
    return importIntoRuntime(input.ref, input.container, async (signal) => {
      let response: IncomingMessage;
      try {
        response = await fetchOffer(input.url, credentials.current(), source, signal);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`fetching checkpoint image of ${input.container} from the source node: ${(err as Error).message}`, 'TransferFailed');
      }
      if (response.statusCode !== 200) {
        response.resume();
        // 404: the offer is gone (served once already, expired, or the source worker restarted): the workflow pushes to the registry instead.
        throw ApplicationFailure.nonRetryable(`fetching checkpoint image of ${input.container} from the source node: HTTP ${response.statusCode}`, 'TransferFailed');
      }
      return response;
    });
  }

  /**
   * Imports one of this node's own checkpoint archives into its runtime, as the image another node would have
   * received (the undo of a move that deleted the source restores it here from images that went node to node).
   * The reference must be the one the archive makes: a changed archive is refused.
   */
  async function importLocalCheckpointImage(input: CheckpointArchiveImageInput & { ref: string }): Promise<ImportedCheckpointImage> {
    const purpose = 'importing the local checkpoint image';
    checkpointRef(input.ref, purpose);
    const { file, image, ref } = await archiveImage(input, purpose);
    if (ref !== input.ref) throw ApplicationFailure.nonRetryable(`${purpose} of ${input.container}: the archive ${input.archivePath} now makes ${ref}, not ${input.ref}`, 'ImageRefused');
    return importIntoRuntime(ref, input.container, async () => packOciLayout(image, ref, file));
  }

  /**
   * Pulls a checkpoint image pushed to the registry into this node's runtime ahead of the kubelet, which
   * starts a pod's containers one after another and would pull each image in turn. The CRI pull applies the
   * runtime's registry configuration and the registry's pull identity, as the kubelet's pull would with the
   * migration's pull secret (the ref is checked to name the checkpoint repository: the identity goes nowhere else).
   */
  async function pullCheckpointImage(input: { container: string; ref: string }): Promise<{ container: string; ref: string; durationMs: number }> {
    const criImages = deps.criImages;
    if (!criImages) throw ApplicationFailure.nonRetryable('this node worker has no CRI socket to pull into (node.cri.address)', 'TransferUnavailable');
    checkpointRef(input.ref, `pulling the checkpoint image of ${input.container}`);
    const started = Date.now();
    await whileHeartbeating((signal) => criImages.pull(input.ref, undefined, { signal, auth: deps.pullCredentials }), () => ({ pulling: input.ref }));
    return { container: input.container, ref: input.ref, durationMs: Date.now() - started };
  }

  /** Removes checkpoint images from this node's runtime (the undo of importCheckpointImage and pullCheckpointImage). */
  async function removeCheckpointImages(input: { refs: string[] }): Promise<{ removed: string[] }> {
    const criImages = deps.criImages;
    if (!criImages) return { removed: [] };
    const removed: string[] = [];
    for (const ref of input.refs.map((r) => checkpointRef(r, 'removing checkpoint images'))) {
      if (!(await criImages.status(ref))) continue;
      await criImages.remove(ref);
      removed.push(ref);
    }
    return { removed };
  }

  return { offerCheckpointImage, importCheckpointImage, importLocalCheckpointImage, pullCheckpointImage, removeCheckpointImages };
}

export type TransferActivities = ReturnType<typeof createTransferActivities>;

/**
 * An offer URL this node fetches: https to another node worker's checkpoint server, path
 * /checkpoints/<token> and nothing else (no credentials, query or other path), so the input cannot point the
 * node at another service (an instance metadata endpoint, the kubelet, an internal API).
 */
function offerUrl(raw: string, purpose: string): URL {
  const refuse = (why: string) => ApplicationFailure.nonRetryable(`${purpose}: URL ${JSON.stringify(raw)} refused: ${why}`, 'TransferRefused');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('not a URL');
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || !CheckpointServer.isOfferPath(url.pathname)) {
    throw refuse("not a podferry node worker's checkpoint offer (https://<node>:<port>/checkpoints/<token>)");
  }
  return url;
}
