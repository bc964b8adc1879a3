// Node identities for node-to-node transfers: every node worker holds a TLS certificate, issued at start by
// the transfer CA (a Secret every node worker mounts), that names its node as a URI SAN
// spiffe://podferry/node/<cluster>/<node>. The source serves an offer only to the node it was made for,
// and the target accepts the stream only from the node that offered it: a pod on the node network, or any
// other process without the CA's certificate, can neither fetch a workload's memory nor feed a fake one.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it before it loads
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import * as x509 from '@peculiar/x509';

/** PEM material for a TLS server or client that proves this node and trusts only the transfer CA. */
export interface NodeTlsMaterial {
  /** spiffe://podferry/node/<cluster>/<node> */
  identity: string;
  cert: string;
  key: string;
  ca: string;
  notAfter: Date;
}

/** The transfer CA: its certificate and key (PEM). */
export interface TransferCa {
  cert: string;
  key: string;
}

const SCHEME = 'spiffe://podferry/node/';
/** Long enough for any worker's life between restarts; the worker renews well before (see CheckpointServer). */
const CERTIFICATE_LIFETIME_MS = 7 * 24 * 3600 * 1000;
const NODE_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export function nodeIdentity(cluster: string, node: string): string {
  return `${SCHEME}${encodeURIComponent(cluster)}/${encodeURIComponent(node)}`;
}

export function readTransferCa(files: { caFile: string; caKeyFile: string }): TransferCa {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`config node.transfer.tls: cannot read the transfer CA's ${what} ${file}: ${(err as Error).message} (mount the Secret podferry-transfer-ca)`);
    }
  };
  return { cert: read(files.caFile, 'certificate'), key: read(files.caKeyFile, 'key') };
}

/** Issues this node's certificate, signed by the transfer CA, with a fresh key that never leaves the process. */
export async function issueNodeCertificate(ca: TransferCa, cluster: string, node: string): Promise<NodeTlsMaterial> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caPrivateKey = createPrivateKey(ca.key);
  const signing = signingAlgorithm(caPrivateKey);
  const caKey = await webcrypto.subtle.importKey('pkcs8', caPrivateKey.export({ type: 'pkcs8', format: 'der' }), signing, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey(NODE_KEY_ALGORITHM, true, ['sign', 'verify']);
  const identity = nodeIdentity(cluster, node);
  const now = Date.now();
  const notAfter = new Date(Math.min(now + CERTIFICATE_LIFETIME_MS, caCert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'), // positive, as RFC 5280 asks
    subject: `CN=${cluster}/${node}, O=podferry node`,
    issuer: caCert.subjectName, // its encoding as it is: gnutls (CRIU's TLS) matches issuer and CA subject byte for byte
    notBefore: new Date(now - 5 * 60 * 1000), // tolerates clock skew between nodes
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: signing,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const key = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return {
    identity,
    cert: cert.toString('pem'),
    key: `-----BEGIN PRIVATE KEY-----\n${key.replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`,
    ca: ca.cert,
    notAfter,
  };
}

/**
 * This node's TLS material, renewed at half its life (a node worker may run for weeks): servers and clients
 * read current() at each use, and onRenew lets a listening server switch to the new certificate.
 */
export class NodeCredentials {
  private material: NodeTlsMaterial;
  private readonly listeners: Array<(material: NodeTlsMaterial) => void> = [];

  private readonly issue: () => Promise<NodeTlsMaterial>;

  private constructor(issue: () => Promise<NodeTlsMaterial>, first: NodeTlsMaterial) {
    this.issue = issue;
    this.material = first;
    this.scheduleRenewal();
  }

  static async start(ca: TransferCa, cluster: string, node: string): Promise<NodeCredentials> {
    const issue = () => issueNodeCertificate(ca, cluster, node);
    return new NodeCredentials(issue, await issue());
  }

  current(): NodeTlsMaterial {
    return this.material;
  }

  onRenew(listener: (material: NodeTlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  private scheduleRenewal(delayMs = Math.max(60_000, (this.material.notAfter.getTime() - Date.now()) / 2)): void {
    // unref: never keeps a stopping worker alive
    setTimeout(() => {
      this.issue().then(
        (material) => {
          this.material = material;
          for (const listener of this.listeners) listener(material);
          this.scheduleRenewal();
        },
        (err: Error) => {
          console.error(`renewing this node's transfer certificate failed (retrying in a minute): ${err.message}`);
          this.scheduleRenewal(60_000);
        },
      );
    }, delayMs).unref();
  }
}

/** The node identity a verified peer certificate names, if any. */
export function peerNodeIdentity(cert: PeerCertificate | undefined): string | undefined {
  const uris = (cert?.subjectaltname ?? '').split(', ').filter((name) => name.startsWith(`URI:${SCHEME}`));
  return uris.length === 1 ? uris[0]!.slice('URI:'.length) : undefined;
}

/** How the CA's key signs: ECDSA for EC keys (P-256/P-384), RSA PKCS#1 v1.5 for RSA keys. */
function signingAlgorithm(key: KeyObject): { name: string; namedCurve?: string; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    if (curve === 'secp384r1') return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
  }
  if (key.asymmetricKeyType === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new Error(`the transfer CA's key is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}: use an EC P-256/P-384 or an RSA key`);
}
