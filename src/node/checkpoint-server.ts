// Serves this node's checkpoint images to other nodes' workers, node to node, without a registry: each
// offered image gets an unguessable URL, valid for a limited time, that streams it as an OCI layout tar
// (src/oci/oci-layout.ts) read straight from the archive file.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { CheckpointImage } from '../oci/checkpoint-image.js';
import { packOciLayout } from '../oci/oci-layout.js';

interface Offer {
  image: CheckpointImage;
  ref: string;
  archiveFile: string;
  expiresAt: number;
}

/** An offer lives as long as the longest transfer attempt may wait for it. */
const OFFER_TTL_MS = 60 * 60 * 1000;

export class CheckpointServer {
  private readonly offers = new Map<string, Offer>();
  private readonly server: Server;
  private baseUrl = '';
  private readonly options: { host: string; port: number; advertiseHost?: string };

  constructor(options: { host: string; port: number; advertiseHost?: string }) {
    this.options = options;
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.unref(); // never keeps a stopping worker alive
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://${this.options.advertiseHost ?? firstExternalIPv4()}:${port}`;
    return this.baseUrl;
  }

  /** True for the path of an offer URL (/checkpoints/<token>), as importing nodes check it. */
  static isOfferPath(pathname: string): boolean {
    return OFFER_PATH.test(pathname);
  }

  /** Makes one image available; returns its URL. */
  offer(image: CheckpointImage, ref: string, archiveFile: string): string {
    if (!this.baseUrl) throw new Error('the checkpoint server is not started');
    const now = Date.now();
    for (const [token, offer] of this.offers) if (offer.expiresAt < now) this.offers.delete(token);
    const token = randomBytes(24).toString('base64url');
    this.offers.set(token, { image, ref, archiveFile, expiresAt: now + OFFER_TTL_MS });
    return `${this.baseUrl}/checkpoints/${token}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const token = OFFER_PATH.exec(req.url ?? '')?.[1];
    const offer = token ? this.offers.get(token) : undefined;
    if (req.method !== 'GET' || !offer || offer.expiresAt < Date.now()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such checkpoint offer (unknown or expired)\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-tar' });
    const layout = packOciLayout(offer.image, offer.ref, offer.archiveFile);
    layout.on('error', (err: Error) => res.destroy(err));
    layout.pipe(res);
  }
}

/** /checkpoints/<token>: a token is 24 random bytes, base64url. */
const OFFER_PATH = /^\/checkpoints\/([A-Za-z0-9_-]{32})$/;

function firstExternalIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return '127.0.0.1';
}
