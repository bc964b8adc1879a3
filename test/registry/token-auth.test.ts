// The registry client against a real registry that demands bearer tokens (distribution's token auth):
// a 401 challenge names the token service, the client fetches a token there with the configured basic
// credentials and the challenged scope, then retries. The token service is a small test server
// (test/support/token-service.ts) that signs JWTs with a throwaway certificate the registry trusts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { RegistryClient } from '../../src/registry/client.js';
import { makeCheckpointArchive, testArchives } from '../support/checkpoint-archive.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { startTokenService, type TestTokenService } from '../support/token-service.js';

const USER = 'podferry';
const PASSWORD = 's3cret';

let registry: TestRegistry;
let tokenService: TestTokenService;

beforeAll(async () => {
  tokenService = await startTokenService({ [USER]: { password: PASSWORD, actions: ['pull', 'push'] } });
  registry = await startRegistry({ extraConfig: tokenService.registryAuthConfig });
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await tokenService?.stop();
});

describe('registry with bearer-token authentication', () => {
  test('a push obtains tokens for the challenged scopes with the configured credentials', async () => {
    const client = new RegistryClient({ url: registry.url, username: USER, password: PASSWORD });
    const activities = createRegistryActivities({ registry: client, repository: 'podferry/checkpoints', archives: testArchives() });
    const archive = makeCheckpointArchive({ container: 'counter', pagesBytes: 3 * 1024 * 1024 });
    const pushed = await activities.pushCheckpointImage({ migrationId: 'auth-1', container: 'counter', archivePath: archive, tag: 'auth-1-counter' });
    expect(pushed.bytesPushed).toBeGreaterThan(3 * 1024 * 1024);
    expect(await client.headManifest('podferry/checkpoints', 'auth-1-counter')).toBe(pushed.manifestDigest);
    expect(tokenService.requests.length).toBeGreaterThan(0);
    expect(tokenService.requests.every((r) => r.user === USER)).toBe(true);
    // The registry names the actions in no fixed order.
    expect(tokenService.requests.map((r) => r.scope)).toContainEqual(expect.stringMatching(/^repository:podferry\/checkpoints:(pull,push|push,pull)$/));
  }, 60_000);

  test('without credentials the failure says which setting to fix', async () => {
    const client = new RegistryClient({ url: registry.url });
    await expect(client.headManifest('podferry/checkpoints', 'auth-1-counter')).rejects.toThrow(/token service .* refused a token/);
    const activities = createRegistryActivities({ registry: client, repository: 'podferry/checkpoints', archives: testArchives() });
    const archive = makeCheckpointArchive({ container: 'kv', pagesBytes: 1024 });
    await expect(activities.pushCheckpointImage({ migrationId: 'auth-2', container: 'kv', archivePath: archive, tag: 'auth-2-kv' })).rejects.toMatchObject({
      type: 'RegistryError',
      nonRetryable: true,
    });
  }, 60_000);
});
