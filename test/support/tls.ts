// A private CA and a server certificate it signed for 127.0.0.1, made with openssl for a test: what a
// registry with its own CA looks like to podferry's workers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificates {
  /** The CA's certificate (PEM file): what clients must trust. */
  ca: string;
  /** The server's certificate and key (PEM files), for IP 127.0.0.1. */
  certificate: string;
  key: string;
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'podferry-tls-'));
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-subj', '/CN=podferry-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', '-x509', ...ec, '-keyout', file('server.key'), '-out', file('server.pem'), '-subj', '/CN=127.0.0.1',
    '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth');
  return { ca: file('ca.pem'), certificate: file('server.pem'), key: file('server.key') };
}
