// The Secret a target pod pulls its checkpoint images with, as the kubelet reads it: a dockerconfigjson
// whose auths name the host the images are named under. (That these credentials pull from a real
// registry, and that anonymous pulls are refused: test/registry/pull-secret.test.ts.)
import { describe, expect, test } from '@jest/globals';
import { DNS1123_SUBDOMAIN, isPullSecretName, LABELS, migrationKey, pullSecretName } from '../../src/api/names.js';
import { buildPullSecret } from '../../src/kubernetes/pull-secret.js';

const migrationId = 'podferry-lab-a-default-sample';

describe('the pull secret of a migration', () => {
  test('is a kubernetes.io/dockerconfigjson Secret with the pull identity for the pull host, labelled with its migration', () => {
    const secret = buildPullSecret({
      name: pullSecretName(migrationId),
      namespace: 'moved',
      migrationId,
      host: '10.231.0.1:5443',
      credentials: { username: 'podferry-pull', password: 'pull-s3cret' },
    });
    expect(secret).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'podferry-pull-podferry-lab-a-default-sample',
        namespace: 'moved',
        labels: { [LABELS.migrationKey]: migrationKey(migrationId) },
        annotations: { 'podferry.io/migration-id': migrationId },
      },
      type: 'kubernetes.io/dockerconfigjson',
      immutable: true,
    });
    expect(Object.keys(secret.data!)).toEqual(['.dockerconfigjson']);
    const dockerConfig = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()) as {
      auths: Record<string, { username: string; password: string; auth: string }>;
    };
    expect(dockerConfig).toEqual({
      auths: { '10.231.0.1:5443': { username: 'podferry-pull', password: 'pull-s3cret', auth: Buffer.from('podferry-pull:pull-s3cret').toString('base64') } },
    });
  });

  test('its name is one per migration, a valid Secret name for any migration id, and recognisable as a pull secret', () => {
    const long = `${'x'.repeat(150)}/Default Sample`;
    for (const id of [migrationId, long, 'UPPER_case.id']) {
      expect(pullSecretName(id)).toMatch(DNS1123_SUBDOMAIN);
      expect(pullSecretName(id).length).toBeLessThanOrEqual(63);
      expect(isPullSecretName(pullSecretName(id))).toBe(true);
    }
    expect(pullSecretName(long)).not.toBe(pullSecretName(`${'x'.repeat(150)}/default-sample`));
    expect(isPullSecretName('team-registry')).toBe(false);
  });
});
