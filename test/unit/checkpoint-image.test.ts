import { createHash } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { buildCheckpointImage, CHECKPOINT_ANNOTATIONS, MEDIA_TYPES, sha256Digest } from '../../src/oci/checkpoint-image.js';

const layerDigest = sha256Digest('pretend this is a checkpoint archive');

describe('checkpoint image', () => {
  const image = buildCheckpointImage({ container: 'counter', layerDigest, layerSize: 37, architecture: 'amd64' });
  const config = JSON.parse(new TextDecoder().decode(image.config.bytes));
  const manifest = JSON.parse(new TextDecoder().decode(image.manifest.bytes));

  test('the config names the (uncompressed) layer digest as its only diff_id', () => {
    expect(config).toEqual({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
      history: [{ created_by: 'podferry: container checkpoint archive' }],
    });
  });

  test('the manifest is an OCI image manifest with one uncompressed tar layer and both checkpoint annotations', () => {
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.config.digest, size: image.config.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: 37 }],
      annotations: {
        'io.kubernetes.cri-o.annotations.checkpoint.name': 'counter',
        'org.criu.checkpoint.container.name': 'counter',
      },
    });
    expect(CHECKPOINT_ANNOTATIONS).toEqual({
      crio: 'io.kubernetes.cri-o.annotations.checkpoint.name',
      containerd: 'org.criu.checkpoint.container.name',
    });
  });

  test('digests and sizes are those of the exact bytes', () => {
    for (const blob of [image.config, image.manifest]) {
      expect(blob.digest).toBe(`sha256:${createHash('sha256').update(blob.bytes).digest('hex')}`);
      expect(blob.size).toBe(blob.bytes.byteLength);
    }
  });

  test('the same archive always gives the same manifest digest (pushing twice changes nothing)', () => {
    const again = buildCheckpointImage({ container: 'counter', layerDigest, layerSize: 37, architecture: 'amd64' });
    expect(again.manifest.digest).toBe(image.manifest.digest);
    const other = buildCheckpointImage({ container: 'kv', layerDigest, layerSize: 37, architecture: 'amd64' });
    expect(other.manifest.digest).not.toBe(image.manifest.digest);
  });

  test('extra annotations are kept and cannot override the checkpoint ones', () => {
    const withExtra = buildCheckpointImage({
      container: 'kv',
      layerDigest,
      layerSize: 1,
      annotations: { 'podferry.io/migration-id': 'm', 'org.criu.checkpoint.container.name': 'wrong' },
    });
    const annotations = JSON.parse(new TextDecoder().decode(withExtra.manifest.bytes)).annotations;
    expect(annotations['podferry.io/migration-id']).toBe('m');
    expect(annotations['org.criu.checkpoint.container.name']).toBe('kv');
  });
});
