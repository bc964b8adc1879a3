// A push cancelled mid-upload, as when the workflow's bound on the source's frozen time fires: the activity
// ends as cancelled within moments instead of finishing the upload, the upload stops (the archive is closed,
// no blob and no manifest appear), and a later push of the same archive still works.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CancelledFailure } from '@temporalio/common';
import { sleep } from '../../src/activities/context.js';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { RegistryClient } from '../../src/registry/client.js';
import { makeCheckpointArchive, testArchives } from '../support/checkpoint-archive.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { TestActivityEnvironment } from '../unit/activity-environment.js';
import { closedWithin } from '../unit/open-files.js';

const repository = 'podferry/checkpoints';
let registry: TestRegistry;
let client: RegistryClient;

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ url: registry.url });
}, 30_000);

afterAll(async () => {
  await registry?.stop();
});

describe('checkpoint image push under cancellation', () => {
  test('a push cancelled after 300 ms ends as cancelled, stops the upload, and leaves no image behind', async () => {
    // 128 MiB: about 2 s to push on a 2-core machine, so the cancel lands mid-upload.
    const archive = makeCheckpointArchive({ container: 'big', pagesBytes: 128 * 1024 * 1024 });
    const archiveDigest = `sha256:${createHash('sha256').update(readFileSync(archive)).digest('hex')}`;
    const activities = createRegistryActivities({ registry: client, repository, archives: testArchives() });
    const input = { migrationId: 'mig-cancel', container: 'big', archivePath: archive, tag: 'mig-cancel-big' };

    const env = new TestActivityEnvironment();
    const pushing = env.run(() => activities.pushCheckpointImage(input));
    await sleep(300);
    const cancelledAt = Date.now();
    env.cancel();
    const outcome = await pushing.then(
      (pushed) => pushed,
      (err: unknown) => err,
    );
    const latencyMs = Date.now() - cancelledAt;
    console.log(`pushCheckpointImage of 128 MiB: cancelled after 300 ms, ended ${latencyMs} ms after the cancel`);

    expect(outcome).toBeInstanceOf(CancelledFailure);
    expect(latencyMs).toBeLessThan(10_000);
    expect(await closedWithin(archive, 2_000)).toBe(true);
    expect(await client.blobSize(repository, archiveDigest)).toBeUndefined();
    expect(await client.headManifest(repository, input.tag)).toBeUndefined();

    // The cancelled attempt left nothing a retry would trip over.
    const pushed = await activities.pushCheckpointImage(input);
    expect(pushed.layerDigest).toBe(archiveDigest);
    expect(await client.headManifest(repository, input.tag)).toBe(pushed.manifestDigest);
  }, 60_000);
});
