// Pushes checkpoint images built from real archives to a real registry, then reads everything back.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { CHECKPOINT_ANNOTATIONS, MEDIA_TYPES } from '../../src/oci/checkpoint-image.js';
import { RegistryClient } from '../../src/registry/client.js';
import { makeCheckpointArchive, TEST_CHECKPOINT_DIR, testArchives } from '../support/checkpoint-archive.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const repository = 'podferry/checkpoints';
let registry: TestRegistry;
let client: RegistryClient;
let activities: ReturnType<typeof createRegistryActivities>;

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ url: registry.url });
  activities = createRegistryActivities({ registry: client, repository, archives: testArchives() });
}, 30_000);

afterAll(async () => {
  await registry?.stop();
});

function sha256File(file: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
}

describe('checkpoint image push to a real registry', () => {
  test('the pushed image reads back with both annotations, a config naming the layer, and the archive as the layer', async () => {
    const archive = makeCheckpointArchive({ container: 'counter', pagesBytes: 12 * 1024 * 1024 + 17 });
    const pushed = await activities.pushCheckpointImage({
      migrationId: 'mig-registry-1',
      container: 'counter',
      archivePath: archive,
      tag: 'mig-registry-1-counter',
      originalImage: 'sample:lab',
    });
    const archiveDigest = sha256File(archive);
    expect(pushed.layerDigest).toBe(archiveDigest);
    expect(pushed.bytesPushed).toBe(readFileSync(archive).byteLength);
    expect(pushed.ref).toBe(`${new URL(registry.url).host}/${repository}@${pushed.manifestDigest}`);

    const manifest = await client.getManifest(repository, 'mig-registry-1-counter');
    expect(manifest?.mediaType).toBe(MEDIA_TYPES.manifest);
    expect(manifest?.digest).toBe(pushed.manifestDigest);
    expect(`sha256:${createHash('sha256').update(manifest!.bytes).digest('hex')}`).toBe(pushed.manifestDigest);
    const body = JSON.parse(new TextDecoder().decode(manifest!.bytes));
    expect(body.annotations[CHECKPOINT_ANNOTATIONS.crio]).toBe('counter');
    expect(body.annotations[CHECKPOINT_ANNOTATIONS.containerd]).toBe('counter');
    expect(body.annotations['podferry.io/original-image']).toBe('sample:lab');
    expect(body.layers).toEqual([{ mediaType: MEDIA_TYPES.layer, digest: archiveDigest, size: readFileSync(archive).byteLength }]);

    const configBytes = new Uint8Array(await (await client.getBlob(repository, body.config.digest)).arrayBuffer());
    expect(`sha256:${createHash('sha256').update(configBytes).digest('hex')}`).toBe(body.config.digest);
    expect(JSON.parse(new TextDecoder().decode(configBytes)).rootfs).toEqual({ type: 'layers', diff_ids: [archiveDigest] });

    const layerBytes = Buffer.from(await (await client.getBlob(repository, archiveDigest)).arrayBuffer());
    expect(`sha256:${createHash('sha256').update(layerBytes).digest('hex')}`).toBe(archiveDigest);
    // The layer is the archive: its files sit at the root, as the runtimes expect.
    const pulled = path.join(path.dirname(archive), 'pulled-layer.tar');
    writeFileSync(pulled, layerBytes);
    const entries = execFileSync('tar', ['-tf', pulled]).toString().split('\n').filter(Boolean);
    expect(entries).toEqual(expect.arrayContaining(['config.dump', 'spec.dump', 'checkpoint/', 'checkpoint/pages-1.img']));
  }, 60_000);

  test('pushing the same archive twice is idempotent and sends the layer only once', async () => {
    const archive = makeCheckpointArchive({ container: 'kv', pagesBytes: 2 * 1024 * 1024 });
    const input = { migrationId: 'mig-registry-2', container: 'kv', archivePath: archive, tag: 'mig-registry-2-kv' };
    const first = await activities.pushCheckpointImage(input);
    const second = await activities.pushCheckpointImage(input);
    expect(second.manifestDigest).toBe(first.manifestDigest);
    expect(second.ref).toBe(first.ref);
    expect(first.bytesPushed).toBeGreaterThan(2 * 1024 * 1024);
    expect(second.bytesPushed).toBe(0);
    expect(await client.headManifest(repository, 'mig-registry-2-kv')).toBe(first.manifestDigest);
  }, 60_000);

  test('deleting an image removes its tag and its blobs (the layer is the workload\'s memory), and deleting it again is harmless', async () => {
    const archive = makeCheckpointArchive({ container: 'ballast', pagesBytes: 1024 });
    const pushed = await activities.pushCheckpointImage({ migrationId: 'm3', container: 'ballast', archivePath: archive, tag: 'm3-ballast' });
    expect(await client.headManifest(repository, 'm3-ballast')).toBe(pushed.manifestDigest);
    expect(await client.blobSize(repository, pushed.layerDigest)).toBeGreaterThan(0);
    expect(await activities.deleteImage({ tag: 'm3-ballast' })).toEqual({ deleted: true });
    expect(await client.headManifest(repository, 'm3-ballast')).toBeUndefined();
    expect(await client.blobSize(repository, pushed.layerDigest)).toBeUndefined();
    expect(await activities.deleteImage({ tag: 'm3-ballast' })).toEqual({ deleted: false });
  }, 60_000);

  test('a missing archive is a non-retryable failure that says where the worker looked', async () => {
    const missing = `${TEST_CHECKPOINT_DIR}/checkpoint-sample_default-x-2026-11-28T13:00:00Z.tar`;
    await expect(activities.pushCheckpointImage({ migrationId: 'm4', container: 'x', archivePath: missing, tag: 'm4-x' })).rejects.toMatchObject({
      type: 'ArchiveNotFound',
      nonRetryable: true,
      message: expect.stringContaining(`looked at ${missing}`),
    });
  });

  test('any other host file is refused, never pushed: a caller cannot read the node through the registry', async () => {
    for (const archivePath of ['/etc/shadow', `${TEST_CHECKPOINT_DIR}/../../etc/passwd`, '/var/run/secrets/kubernetes.io/serviceaccount/token']) {
      await expect(activities.pushCheckpointImage({ migrationId: 'm5', container: 'x', archivePath, tag: 'm5-x' })).rejects.toMatchObject({ type: 'ArchiveRefused', nonRetryable: true });
    }
    expect(await activities.deleteImage({ tag: 'm5-x' })).toEqual({ deleted: false });
  });
});
