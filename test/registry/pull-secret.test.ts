// Checkpoint images pulled only with the registry's pull identity, on a real registry (docker-registry 2.8):
// 1. HTTPS with a certificate a private CA signed, and htpasswd authentication: anonymous pulls are refused;
//    the credentials of the Secret podferry makes per migration pull, sent as the kubelet sends them; podferry's
//    own client reaches the registry once registry.caFile names the CA.
// 2. Token authentication granting the pull identity `pull` alone (htpasswd authenticates, it does not
//    authorize): that identity pulls the image, and cannot push.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistryActivities, type PushedCheckpointImage } from '../../src/activities/registry.js';
import { pullSecretName } from '../../src/api/names.js';
import { buildPullSecret } from '../../src/kubernetes/pull-secret.js';
import { MEDIA_TYPES } from '../../src/oci/checkpoint-image.js';
import { RegistryClient, RegistryError } from '../../src/registry/client.js';
import { makeCheckpointArchive, TEST_CHECKPOINT_DIR, testArchives } from '../support/checkpoint-archive.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { runProcess } from '../support/run-process.js';
import { makeTestCertificates, type TestCertificates } from '../support/tls.js';
import { startTokenService, type TestTokenService } from '../support/token-service.js';

const support = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support');
const REPOSITORY = 'podferry/checkpoints';
const PUSH = { username: 'podferry', password: 'push-s3cret' };
const PULL = { username: 'podferry-pull', password: 'pull-s3cret' };
/** bcrypt hashes of the two passwords (made once with libxcrypt, as `htpasswd -B` makes them): no tool needed here. */
const HTPASSWD = [
  `${PUSH.username}:$2b$05$ABCDEFGHIJKLMNOPQRSTUuz8lygy6frDOys5bU37sE0EFA0ivCbDW`,
  `${PULL.username}:$2b$05$abcdefghijklmnopqrstuu8a2gFagTmn.6YRhoJ/XF1B.t2u08R7W`,
].join('\n');

describe('HTTPS with a private CA and htpasswd', () => {
  let certificates: TestCertificates;
  let registry: TestRegistry;
  let pushed: PushedCheckpointImage;

  /** A GET at the registry trusting the test CA, with the given Authorization header, if any. */
  const get = (pathname: string, authorization?: string) =>
    new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const headers: Record<string, string> = { accept: MEDIA_TYPES.manifest, ...(authorization ? { authorization } : {}) };
      https
        .get(`${registry.url}${pathname}`, { ca: readFileSync(certificates.ca), headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });

  /** Pushes an archive with podferry's client in a process started with this environment. */
  const pushInProcess = (tag: string, env: NodeJS.ProcessEnv) =>
    runProcess(process.execPath, ['--import', path.join(support, 'ts-resolve.mjs'), path.join(support, 'push-checkpoint-image.ts')], {
      REGISTRY_URL: registry.url,
      REGISTRY_USERNAME: PUSH.username,
      REGISTRY_PASSWORD: PUSH.password,
      REPOSITORY,
      CHECKPOINT_DIR: TEST_CHECKPOINT_DIR,
      ARCHIVE: makeCheckpointArchive({ container: 'kv', pagesBytes: 256 * 1024 }),
      TAG: tag,
      ...env,
    });

  beforeAll(async () => {
    certificates = makeTestCertificates();
    const htpasswd = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-htpasswd-')), 'htpasswd');
    writeFileSync(htpasswd, `${HTPASSWD}\n`);
    registry = await startRegistry({ tls: certificates, extraConfig: ['auth:', '  htpasswd:', '    realm: podferry-test', `    path: ${htpasswd}`].join('\n') });
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
  });

  test("podferry's client trusts the private CA through registry.caFile, and pushes; without it, the failure names the certificate", async () => {
    const untrusted = await pushInProcess('tls-0-kv', { REGISTRY_CA_FILE: undefined });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/fetch failed \(.*certificate/);

    const trusted = await pushInProcess('tls-1-kv', { REGISTRY_CA_FILE: certificates.ca });
    expect(trusted.stderr).toBe('');
    expect(trusted.code).toBe(0);
    pushed = JSON.parse(trusted.stdout) as PushedCheckpointImage;
    expect(pushed.ref).toBe(`${new URL(registry.url).host}/${REPOSITORY}@${pushed.manifestDigest}`);
  }, 60_000);

  test('anonymous pulls are refused, and so is a wrong password', async () => {
    expect((await get(`/v2/${REPOSITORY}/manifests/tls-1-kv`)).status).toBe(401);
    expect((await get(`/v2/${REPOSITORY}/blobs/${pushed.layerDigest}`)).status).toBe(401);
    const wrong = `Basic ${Buffer.from(`${PULL.username}:nope`).toString('base64')}`;
    expect((await get(`/v2/${REPOSITORY}/manifests/tls-1-kv`, wrong)).status).toBe(401);
  });

  test("the pull secret's credentials for the pull host pull the checkpoint image, as the kubelet sends them", async () => {
    const host = new URL(registry.url).host;
    const secret = buildPullSecret({ name: pullSecretName('tls-1'), namespace: 'moved', migrationId: 'tls-1', host, credentials: PULL });
    const { auths } = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { auth: string }> };
    const authorization = `Basic ${auths[host]!.auth}`;
    const manifest = await get(`/v2/${REPOSITORY}/manifests/${pushed.manifestDigest}`, authorization);
    expect(manifest.status).toBe(200);
    expect(`sha256:${createHash('sha256').update(manifest.body).digest('hex')}`).toBe(pushed.manifestDigest);
    const layer = await get(`/v2/${REPOSITORY}/blobs/${pushed.layerDigest}`, authorization);
    expect(layer.status).toBe(200);
    expect(`sha256:${createHash('sha256').update(layer.body).digest('hex')}`).toBe(pushed.layerDigest);
  }, 60_000);
});

describe('token authentication that grants the pull identity pull alone', () => {
  let tokens: TestTokenService;
  let registry: TestRegistry;

  beforeAll(async () => {
    tokens = await startTokenService({
      [PUSH.username]: { password: PUSH.password, actions: ['pull', 'push'] },
      [PULL.username]: { password: PULL.password, actions: ['pull'] },
    });
    registry = await startRegistry({ extraConfig: tokens.registryAuthConfig });
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  test('the pull identity pulls what the push identity pushed, and cannot push; anonymous cannot pull', async () => {
    const pusher = createRegistryActivities({ registry: new RegistryClient({ url: registry.url, ...PUSH }), repository: REPOSITORY, archives: testArchives() });
    const archive = makeCheckpointArchive({ container: 'kv', pagesBytes: 256 * 1024 });
    const pushed = await pusher.pushCheckpointImage({ migrationId: 'token-1', container: 'kv', archivePath: archive, tag: 'token-1-kv' });

    const puller = new RegistryClient({ url: registry.url, ...PULL });
    expect((await puller.getManifest(REPOSITORY, 'token-1-kv'))?.digest).toBe(pushed.manifestDigest);
    const layer = Buffer.from(await (await puller.getBlob(REPOSITORY, pushed.layerDigest)).arrayBuffer());
    expect(`sha256:${createHash('sha256').update(layer).digest('hex')}`).toBe(pushed.layerDigest);

    const bytes = new TextEncoder().encode('{"not":"allowed"}');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await expect(puller.pushBlobBytes(REPOSITORY, bytes, digest)).rejects.toThrow(RegistryError);
    await expect(puller.pushBlobBytes(REPOSITORY, bytes, digest)).rejects.toMatchObject({ status: 401 });
    expect(await new RegistryClient({ url: registry.url, ...PUSH }).blobSize(REPOSITORY, digest)).toBeUndefined();

    await expect(new RegistryClient({ url: registry.url }).getManifest(REPOSITORY, 'token-1-kv')).rejects.toThrow(/token service .* refused a token/);
  }, 60_000);
});
