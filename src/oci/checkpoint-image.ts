// The checkpoint image format both runtimes restore from: one uncompressed layer that is the checkpoint
// archive itself (its files sit at the tar root), an image config whose diff_id is that layer's digest, and
// a manifest carrying the annotations CRI-O (`io.kubernetes.cri-o.annotations.checkpoint.name`) and
// containerd (`org.criu.checkpoint.container.name`) look for. Pure code: bytes in, bytes and digests out.
import { createHash } from 'node:crypto';
import { ANNOTATIONS } from '../api/names.js';

export const MEDIA_TYPES = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  /** Uncompressed: the digest of the blob equals the diff_id, and the archive can be pushed as it is. */
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export const CHECKPOINT_ANNOTATIONS = {
  crio: 'io.kubernetes.cri-o.annotations.checkpoint.name',
  containerd: 'org.criu.checkpoint.container.name',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Blob {
  bytes: Uint8Array;
  digest: string;
  size: number;
}

export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function jsonBlob(value: unknown): Blob {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return { bytes, digest: sha256Digest(bytes), size: bytes.byteLength };
}

/** Go/OCI architecture name of the platform the archive was taken on. */
export function ociArchitecture(nodeArch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[nodeArch] ?? nodeArch;
}

export interface CheckpointImageInput {
  container: string;
  /** Digest of the archive, which is the layer blob (uncompressed, so also the diff_id). */
  layerDigest: string;
  layerSize: number;
  architecture?: string;
  /** Extra manifest annotations (e.g. the original image, the migration id). */
  annotations?: Record<string, string>;
  /**
   * Creation time; omitted by default so the same archive always yields the same manifest digest
   * (pushing twice is then a no-op).
   */
  created?: string;
}

export interface CheckpointImage {
  config: Blob;
  manifest: Blob;
  layer: Descriptor;
}

export function buildCheckpointImageConfig(input: CheckpointImageInput): Blob {
  return jsonBlob({
    ...(input.created ? { created: input.created } : {}),
    architecture: input.architecture ?? ociArchitecture(),
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [input.layerDigest] },
    history: [{ created_by: 'podferry: container checkpoint archive', ...(input.created ? { created: input.created } : {}) }],
  });
}

export function buildCheckpointImage(input: CheckpointImageInput): CheckpointImage {
  const config = buildCheckpointImageConfig(input);
  const layer: Descriptor = { mediaType: MEDIA_TYPES.layer, digest: input.layerDigest, size: input.layerSize };
  const manifest = jsonBlob({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: config.digest, size: config.size },
    layers: [layer],
    annotations: {
      ...input.annotations,
      [CHECKPOINT_ANNOTATIONS.crio]: input.container,
      [CHECKPOINT_ANNOTATIONS.containerd]: input.container,
    },
  });
  return { config, manifest, layer };
}

/** The checkpoint image of one container of a migration: the same bytes whether pushed or sent node to node. */
export function migrationCheckpointImage(
  input: { migrationId: string; container: string; originalImage?: string },
  layer: { digest: string; size: number },
): CheckpointImage {
  return buildCheckpointImage({
    container: input.container,
    layerDigest: layer.digest,
    layerSize: layer.size,
    annotations: {
      [ANNOTATIONS.migrationId]: input.migrationId,
      ...(input.originalImage ? { 'podferry.io/original-image': input.originalImage } : {}),
    },
  });
}

/** How a pod references the image: by manifest digest, under the registry host kubelets pull from. */
export function imageReference(host: string, repository: string, manifestDigest: string): string {
  return `${host}/${repository}@${manifestDigest}`;
}

/**
 * The checkpoint image of one container of a migration, named as the target pod will reference it. Both ways
 * an image travels (a registry push, a node-to-node offer) make it here, so the pod spec is the same either way.
 */
export function namedMigrationCheckpointImage(
  input: { migrationId: string; container: string; originalImage?: string },
  layer: { digest: string; size: number },
  at: { host: string; repository: string },
): { image: CheckpointImage; ref: string } {
  const image = migrationCheckpointImage(input, layer);
  return { image, ref: imageReference(at.host, at.repository, image.manifest.digest) };
}
