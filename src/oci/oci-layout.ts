// A checkpoint image as an OCI image layout in one tar stream (oci-layout, index.json, blobs/sha256/…), the
// form `ctr images import` reads. The layer blob is the checkpoint archive itself, streamed from its file
// once; nothing is written to disk on either side. index.json names the image with the same reference a
// registry push would give (host/repository@sha256:<manifest>), so the pod spec is the same either way.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import { MEDIA_TYPES, type CheckpointImage } from './checkpoint-image.js';

/** containerd names imported images after this index annotation. */
const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';

const blobPath = (digest: string) => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;

/**
 * Streams the image as an OCI layout tar, reading the layer from `archiveFile`. The returned stream ends
 * after the layer; a read error of the archive destroys it.
 */
export function packOciLayout(image: CheckpointImage, ref: string, archiveFile: string): Pack {
  const tar = tarPack();
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: MEDIA_TYPES.manifest, digest: image.manifest.digest, size: image.manifest.size, annotations: { [IMAGE_NAME_ANNOTATION]: ref } }],
  };
  tar.entry({ name: 'oci-layout' }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  tar.entry({ name: 'index.json' }, JSON.stringify(index));
  tar.entry({ name: blobPath(image.manifest.digest) }, image.manifest.bytes);
  tar.entry({ name: blobPath(image.config.digest) }, image.config.bytes);
  const layer = tar.entry({ name: blobPath(image.layer.digest), size: image.layer.size });
  pipeline(createReadStream(archiveFile, { highWaterMark: 1 << 20 }), layer).then(
    () => tar.finalize(),
    (err: unknown) => tar.destroy(err as Error),
  );
  return tar;
}
