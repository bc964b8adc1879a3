// The OCI layout stream that carries a checkpoint image node to node: the entries containerd's importer
// reads (oci-layout, index.json naming the image, the blobs by digest), the archive streamed as the layer.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { extract, type Pack } from 'tar-stream';
import { imageReference, migrationCheckpointImage } from '../../src/oci/checkpoint-image.js';
import { packOciLayout } from '../../src/oci/oci-layout.js';

async function entries(stream: Pack): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const reader = extract();
  reader.on('entry', (header, body, next) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: unknown) => chunks.push(c as Buffer));
    body.on('error', () => undefined); // reported by the stream itself
    body.on('end', () => {
      out.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    reader.on('finish', resolve).on('error', reject);
    stream.on('error', reject);
    stream.pipe(reader);
  });
  return out;
}

describe('checkpoint image as an OCI layout stream', () => {
  test('holds oci-layout, an index naming the image, and manifest, config and archive as blobs by digest', async () => {
    const archive = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-layout-')), 'checkpoint.tar');
    const bytes = Buffer.alloc(300_000, 7);
    writeFileSync(archive, bytes);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const image = migrationCheckpointImage({ migrationId: 'm1', container: 'counter', originalImage: 'sample:lab' }, { digest, size: bytes.length });
    const ref = imageReference('10.231.0.1:5000', 'podferry/checkpoints', image.manifest.digest);

    const files = await entries(packOciLayout(image, ref, archive));
    const blob = (d: string) => files.get(`blobs/sha256/${d.slice('sha256:'.length)}`);
    expect(JSON.parse(files.get('oci-layout')!.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.toString());
    expect(index.manifests).toEqual([
      expect.objectContaining({ digest: image.manifest.digest, size: image.manifest.size, annotations: { 'io.containerd.image.name': ref } }),
    ]);
    expect(blob(image.manifest.digest)).toEqual(Buffer.from(image.manifest.bytes));
    expect(blob(image.config.digest)).toEqual(Buffer.from(image.config.bytes));
    expect(blob(digest)!.equals(bytes)).toBe(true);
    expect(JSON.parse(blob(image.manifest.digest)!.toString()).annotations).toMatchObject({ 'org.criu.checkpoint.container.name': 'counter', 'podferry.io/migration-id': 'm1' });
  });

  test('a missing archive fails the stream instead of ending it short', async () => {
    const image = migrationCheckpointImage({ migrationId: 'm1', container: 'kv' }, { digest: `sha256:${'0'.repeat(64)}`, size: 10 });
    await expect(entries(packOciLayout(image, 'x/y@sha256:1', '/nonexistent/checkpoint.tar'))).rejects.toThrow(/ENOENT/);
  });
});
