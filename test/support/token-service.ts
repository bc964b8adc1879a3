// A token service for a registry with distribution's token authentication, for tests: it checks a user's
// basic credentials and grants, in each scope asked for, only the actions that user may take, in a JWT signed
// with a throwaway certificate the registry trusts. (What Harbor, GitLab or docker_auth do for real registries:
// htpasswd alone authenticates, it does not authorize.)
import { execFileSync } from 'node:child_process';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './registry.js';

const SERVICE = 'podferry-test-registry';
const ISSUER = 'podferry-test-issuer';

export interface TokenServiceUser {
  password: string;
  /** The actions granted on any repository, e.g. ['pull'] or ['pull', 'push']. */
  actions: string[];
}

export interface TestTokenService {
  /** The registry's `auth:` section that makes it ask this service. */
  registryAuthConfig: string;
  /** Every token request: the scope asked for and the user it came from (undefined: anonymous). */
  requests: Array<{ scope: string | null; user: string | undefined }>;
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startTokenService(users: Record<string, TokenServiceUser>): Promise<TestTokenService> {
  const dir = mkdtempSync(path.join(tmpdir(), 'podferry-token-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=podferry-test-token'], { stdio: 'ignore' });
  const keyPem = readFileSync(key, 'utf8');
  const certDer = new X509Certificate(readFileSync(cert)).raw;
  const requests: TestTokenService['requests'] = [];

  const port = await freePort();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const auth = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : undefined;
    const [user, ...password] = auth?.split(':') ?? [];
    requests.push({ scope: url.searchParams.get('scope'), user });
    const allowed = user !== undefined ? users[user] : undefined;
    if (!allowed || allowed.password !== password.join(':')) {
      res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = (url.searchParams.get('scope') ?? '')
      .split(' ')
      .filter(Boolean)
      .map((scope) => {
        const [type, name, actions] = scope.split(':');
        return { type, name, actions: (actions ?? '').split(',').filter((action) => allowed.actions.includes(action)) };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] }));
    const claims = base64url(JSON.stringify({ iss: ISSUER, sub: user, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(keyPem);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${base64url(signature)}` }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    registryAuthConfig: ['auth:', '  token:', `    realm: http://127.0.0.1:${port}/token`, `    service: ${SERVICE}`, `    issuer: ${ISSUER}`, `    rootcertbundle: ${cert}`].join('\n'),
    requests,
    async stop() {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
