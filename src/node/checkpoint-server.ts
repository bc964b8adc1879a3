// Serves this node's checkpoint images to other nodes' workers, node to node, without a registry, over
// mutual TLS with node identities (src/node/node-identity.ts): each offered image gets an unguessable URL
// bound to the one node it is for, served once (the first accepted request revokes it), within a limited
// time, as an OCI layout tar (src/oci/oci-layout.ts) read straight from the archive file.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, get, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { CheckpointImage } from '../oci/checkpoint-image.js';
import { packOciLayout } from '../oci/oci-layout.js';
import { peerNodeIdentity, type NodeCredentials, type NodeTlsMaterial } from './node-identity.js';

interface Offer {
  image: CheckpointImage;
  ref: string;
  archiveFile: string;
  /** The node identity allowed to fetch it. */
  receiver: string;
  expiresAt: number;
}

/** An unclaimed offer lives as long as the import may wait in the target node's queue. */
const OFFER_TTL_MS = 30 * 60 * 1000;

export class CheckpointServer {
  private readonly offers = new Map<string, Offer>();
  private readonly server: Server;
  private baseUrl = '';
  private readonly options: { host: string; port: number; advertiseHost?: string };

  constructor(options: { host: string; port: number; advertiseHost?: string }, credentials: NodeCredentials) {
    this.options = options;
    // Only clients with a certificate of the transfer CA get past the handshake; which node may fetch an
    // offer is checked per request.
    this.server = createServer({ ...tlsOptions(credentials.current()), requestCert: true, rejectUnauthorized: true }, (req, res) => this.handle(req, res));
    credentials.onRenew((material) => this.server.setSecureContext(tlsOptions(material)));
    this.server.unref(); // never keeps a stopping worker alive
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `https://${this.options.advertiseHost ?? firstExternalIPv4()}:${port}`;
    return this.baseUrl;
  }

  /** True for the path of an offer URL (/checkpoints/<token>), as importing nodes check it. */
  static isOfferPath(pathname: string): boolean {
    return OFFER_PATH.test(pathname);
  }

  /** Makes one image available to the node `receiver` (a node identity), once; returns its URL. */
  offer(image: CheckpointImage, ref: string, archiveFile: string, receiver: string): string {
    if (!this.baseUrl) throw new Error('the checkpoint server is not started');
    const now = Date.now();
    for (const [token, offer] of this.offers) if (offer.expiresAt < now) this.offers.delete(token);
    const token = randomBytes(24).toString('base64url');
    this.offers.set(token, { image, ref, archiveFile, receiver, expiresAt: now + OFFER_TTL_MS });
    return `${this.baseUrl}/checkpoints/${token}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const token = OFFER_PATH.exec(req.url ?? '')?.[1];
    const offer = token ? this.offers.get(token) : undefined;
    const peer = peerNodeIdentity((req.socket as TLSSocket).getPeerCertificate());
    if (req.method !== 'GET' || !offer || offer.expiresAt < Date.now() || offer.receiver !== peer) {
      // The same answer for an offer made for another node: nothing tells a prober that the token exists.
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such checkpoint offer for this node (unknown, expired, already served or made for another node)\n');
      return;
    }
    this.offers.delete(token!); // one-shot: a failed stream is not retried from here (the workflow pushes to the registry instead)
    res.writeHead(200, { 'content-type': 'application/x-tar' });
    const layout = packOciLayout(offer.image, offer.ref, offer.archiveFile);
    layout.on('error', (err: Error) => res.destroy(err));
    layout.pipe(res);
  }
}

/** /checkpoints/<token>: a token is 24 random bytes, base64url. */
const OFFER_PATH = /^\/checkpoints\/([A-Za-z0-9_-]{32})$/;

/**
 * Fetches an offer from another node's checkpoint server as this node (its certificate), from the node named
 * `source` only, whatever address it answers at. node:https rather than fetch: its classic stream is piped
 * to ctr at about twice the speed of a web stream. An aborted signal destroys the response (so the source
 * node stops serving).
 */
export function fetchOffer(url: string, self: NodeTlsMaterial, source: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    get(
      url,
      {
        ...tlsOptions(self),
        signal,
        agent: false,
        checkServerIdentity: (_host, peer) => {
          const identity = peerNodeIdentity(peer);
          return identity === source ? undefined : new Error(`the checkpoint server is ${identity ?? 'no podferry node'}, not ${source}`);
        },
      },
      resolve,
    ).on('error', reject);
  });
}

function tlsOptions(material: NodeTlsMaterial) {
  return { cert: material.cert, key: material.key, ca: material.ca };
}

export function firstExternalIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return '127.0.0.1';
}
