// The registry client against a real registry that demands bearer tokens (distribution's token auth):
// a 401 challenge names the token service, the client fetches a token there with the configured basic
// credentials and the challenged scope, then retries. The token service is a small test server that signs
// JWTs with a throwaway certificate the registry trusts.
import { execFileSync } from 'node:child_process';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { RegistryClient } from '../../src/registry/client.js';
import { makeCheckpointArchive, testArchives } from '../support/checkpoint-archive.js';
import { freePort, startRegistry, type TestRegistry } from '../support/registry.js';

const SERVICE = 'podferry-test-registry';
const ISSUER = 'podferry-test-issuer';
const USER = 'podferry';
const PASSWORD = 's3cret';

let registry: TestRegistry;
let tokenServer: http.Server;
const tokenRequests: Array<{ scope: string | null; user: string | undefined }> = [];

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'podferry-token-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=podferry-test-token'], { stdio: 'ignore' });
  const keyPem = readFileSync(key, 'utf8');
  const certDer = new X509Certificate(readFileSync(cert)).raw;

  const tokenPort = await freePort();
  tokenServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const auth = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : undefined;
    const user = auth?.split(':')[0];
    tokenRequests.push({ scope: url.searchParams.get('scope'), user });
    if (auth !== `${USER}:${PASSWORD}`) {
      res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = (url.searchParams.get('scope') ?? '')
      .split(' ')
      .filter(Boolean)
      .map((scope) => {
        const [type, name, actions] = scope.split(':');
        return { type, name, actions: (actions ?? '').split(',') };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] }));
    const claims = base64url(JSON.stringify({ iss: ISSUER, sub: user, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${base64url(signature)}` }));
  });
  await new Promise<void>((resolve) => tokenServer.listen(tokenPort, '127.0.0.1', resolve));

  registry = await startRegistry({
    extraConfig: [
      'auth:',
      '  token:',
      `    realm: http://127.0.0.1:${tokenPort}/token`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${cert}`,
    ].join('\n'),
  });
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await new Promise((resolve) => tokenServer?.close(resolve));
});

describe('registry with bearer-token authentication', () => {
  test('a push obtains tokens for the challenged scopes with the configured credentials', async () => {
    const client = new RegistryClient({ url: registry.url, username: USER, password: PASSWORD });
    const activities = createRegistryActivities({ registry: client, repository: 'podferry/checkpoints', archives: testArchives() });
    const archive = makeCheckpointArchive({ container: 'counter', pagesBytes: 3 * 1024 * 1024 });
    const pushed = await activities.pushCheckpointImage({ migrationId: 'auth-1', container: 'counter', archivePath: archive, tag: 'auth-1-counter' });
    expect(pushed.bytesPushed).toBeGreaterThan(3 * 1024 * 1024);
    expect(await client.headManifest('podferry/checkpoints', 'auth-1-counter')).toBe(pushed.manifestDigest);
    expect(tokenRequests.length).toBeGreaterThan(0);
    expect(tokenRequests.every((r) => r.user === USER)).toBe(true);
    // The registry names the actions in no fixed order.
    expect(tokenRequests.map((r) => r.scope)).toContainEqual(expect.stringMatching(/^repository:podferry\/checkpoints:(pull,push|push,pull)$/));
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
