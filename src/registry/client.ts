// A small OCI distribution client (https://github.com/opencontainers/distribution-spec): exactly the calls a
// checkpoint image push needs, and streaming throughout, because checkpoint archives are as large as the
// memory of the container. Uses Node's built-in fetch. Handles anonymous, basic and bearer-token registries.
// The calls of a push take an AbortSignal: an aborted signal stops every request and the file stream at once.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { addAbortSignal, pipeline, Readable, Transform } from 'node:stream';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';

export interface RegistryClientOptions {
  /** Base URL, e.g. http://10.231.0.1:5000. */
  url: string;
  /** The private CA of the registry's certificate (PEM file). */
  caFile?: string;
  username?: string;
  password?: string;
  /** Injected for tests or proxies; default: global fetch. */
  fetch?: typeof fetch;
}

export class RegistryError extends Error {
  override name = 'RegistryError';
  readonly status: number;
  readonly code: string | undefined;
  constructor(message: string, status: number, code?: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface PushedBlob {
  digest: string;
  size: number;
  /** False when the registry already had the blob and nothing was sent. */
  uploaded: boolean;
}

export interface Manifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

/** Lets the caller stop a call: an aborted signal rejects it with the signal's reason. */
export interface Abortable {
  signal?: AbortSignal;
}

type Challenge = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string; scope?: string };

export class RegistryClient {
  private readonly base: URL;
  private readonly fetchImpl: typeof fetch;
  /** Bearer tokens by scope, obtained on the first 401 challenge and reused for the session. */
  private readonly tokens = new Map<string, string>();
  private bearer: string | undefined;
  private readonly options: RegistryClientOptions;

  constructor(options: RegistryClientOptions) {
    this.options = options;
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.fetchImpl = options.fetch ?? fetch;
    if (options.caFile) trustCa(options.caFile);
  }

  /** host[:port] as it appears in image references. */
  get host(): string {
    return this.base.host;
  }

  /** Size of the blob if the repository has it, else undefined. */
  async blobSize(repository: string, digest: string, options: Abortable = {}): Promise<number | undefined> {
    const res = await this.request('HEAD', this.url(`v2/${repository}/blobs/${digest}`), { repository, signal: options.signal });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `HEAD blob ${digest} in ${repository}`);
    return Number(res.headers.get('content-length') ?? '0');
  }

  /** Uploads a small in-memory blob (image config) unless present. */
  async pushBlobBytes(repository: string, bytes: Uint8Array, digest: string, options: Abortable = {}): Promise<PushedBlob> {
    if ((await this.blobSize(repository, digest, options)) !== undefined) return { digest, size: bytes.byteLength, uploaded: false };
    const location = await this.startUpload(repository, options);
    location.searchParams.set('digest', digest);
    const res = await this.request('PUT', location, {
      repository,
      signal: options.signal,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
      body: bytes,
    });
    await this.expectStatus(res, [201], `PUT blob ${digest} to ${repository}`);
    return { digest, size: bytes.byteLength, uploaded: true };
  }

  /**
   * Streams a file as one blob: POST to open an upload session, one PATCH whose body is the file stream
   * (hashed on the way, so the file is read exactly once and never held in memory), PUT ?digest= to commit.
   * When `knownDigest` is given (e.g. from a previous attempt) and the registry has it, nothing is sent.
   * An aborted signal ends the upload and closes the file; the registry is left with no blob, only an unfinished
   * upload session that its upload purging removes.
   */
  async pushBlobFromFile(
    repository: string,
    file: string,
    options: Abortable & { knownDigest?: string; onProgress?: (bytesSent: number, total: number) => void } = {},
  ): Promise<PushedBlob> {
    const { size: total } = await stat(file);
    if (options.knownDigest) {
      const existing = await this.blobSize(repository, options.knownDigest, options);
      if (existing !== undefined) return { digest: options.knownDigest, size: existing, uploaded: false };
    }
    const location = await this.startUpload(repository, options);
    const hash = createHash('sha256');
    let sent = 0;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        sent += chunk.length;
        options.onProgress?.(sent, total);
        callback(null, chunk);
      },
    });
    const archive = createReadStream(file, { highWaterMark: 1024 * 1024 });
    if (options.signal) addAbortSignal(options.signal, archive);
    // pipeline, not pipe: a failed or aborted upload destroys both streams, so the file is closed.
    const stream = pipeline(archive, hashing, () => undefined); // an error reaches fetch through the body stream
    const patch = await this.request('PATCH', location, {
      repository,
      signal: options.signal,
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(stream) as ReadableStream<Uint8Array>,
    });
    await this.expectStatus(patch, [202], `PATCH blob upload of ${file} to ${repository}`);
    const digest = `sha256:${hash.digest('hex')}`;
    const commit = this.resolveLocation(patch.headers.get('location'), location);
    commit.searchParams.set('digest', digest);
    const put = await this.request('PUT', commit, { repository, signal: options.signal, headers: { 'content-length': '0' } });
    await this.expectStatus(put, [201], `PUT (commit) blob ${digest} to ${repository}`);
    return { digest, size: sent, uploaded: true };
  }

  async putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string, options: Abortable = {}): Promise<string> {
    const res = await this.request('PUT', this.url(`v2/${repository}/manifests/${reference}`), {
      repository,
      signal: options.signal,
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    await this.expectStatus(res, [201], `PUT manifest ${repository}:${reference}`);
    return res.headers.get('docker-content-digest') ?? '';
  }

  async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.request('GET', this.url(`v2/${repository}/manifests/${reference}`), {
      repository,
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `GET manifest ${repository}:${reference}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return {
      bytes,
      mediaType: res.headers.get('content-type') ?? '',
      digest: res.headers.get('docker-content-digest') ?? `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    };
  }

  /** Digest of the manifest a tag (or digest) points to, or undefined. */
  async headManifest(repository: string, reference: string): Promise<string | undefined> {
    const res = await this.request('HEAD', this.url(`v2/${repository}/manifests/${reference}`), {
      repository,
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    if (res.status === 404) return undefined;
    await this.expectOk(res, `HEAD manifest ${repository}:${reference}`);
    return res.headers.get('docker-content-digest') ?? undefined;
  }

  /**
   * Deletes a manifest by digest. Returns false if it was already gone. Registries with deletion disabled
   * answer 405; that is reported as an error with the fix (enable storage.delete).
   */
  async deleteManifest(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('DELETE', this.url(`v2/${repository}/manifests/${digest}`), { repository });
    if (res.status === 404) return false;
    if (res.status === 405) {
      throw new RegistryError(
        `registry ${this.base.origin} refused to delete ${repository}@${digest} (405): enable deletion ` +
          '(distribution: storage.delete.enabled: true) or set cleanup.images=keep',
        405,
        'UNSUPPORTED',
      );
    }
    await this.expectStatus(res, [202, 200], `DELETE manifest ${repository}@${digest}`);
    return true;
  }

  /**
   * Deletes a blob from the repository (its link: the data becomes unreachable through the API at once and
   * is reclaimed on disk by the registry's garbage collection). Returns false if it was already gone.
   */
  async deleteBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('DELETE', this.url(`v2/${repository}/blobs/${digest}`), { repository });
    if (res.status === 404) return false;
    await this.expectStatus(res, [202, 200], `DELETE blob ${repository}@${digest}`);
    return true;
  }

  /** Streams a blob back (tests and tools verify pushes with it). */
  async getBlob(repository: string, digest: string): Promise<Response> {
    const res = await this.request('GET', this.url(`v2/${repository}/blobs/${digest}`), { repository });
    await this.expectOk(res, `GET blob ${digest} from ${repository}`);
    return res;
  }

  private async startUpload(repository: string, options: Abortable): Promise<URL> {
    const res = await this.request('POST', this.url(`v2/${repository}/blobs/uploads/`), {
      repository,
      signal: options.signal,
      headers: { 'content-length': '0' },
    });
    await this.expectStatus(res, [202], `POST blob upload to ${repository}`);
    return this.resolveLocation(res.headers.get('location'));
  }

  private resolveLocation(location: string | null, fallback?: URL): URL {
    if (!location) {
      if (fallback) return new URL(fallback);
      throw new RegistryError(`registry ${this.base.origin} sent no Location header for an upload`, 0);
    }
    return new URL(location, this.base);
  }

  private url(relative: string): URL {
    return new URL(relative, this.base);
  }

  /**
   * One HTTP call with authentication. On a 401 challenge it obtains credentials (basic, or a bearer token
   * from the realm) and repeats the call once, unless the body is a stream that cannot be replayed; the
   * POST that opens an upload always precedes a streamed PATCH, so the token is in place by then.
   */
  private async request(
    method: string,
    url: URL,
    init: Abortable & { repository: string; headers?: Record<string, string>; body?: Uint8Array | ReadableStream<Uint8Array> },
  ): Promise<Response> {
    const send = () =>
      this.fetchImpl(url, {
        method,
        headers: { ...init.headers, ...this.authorization() },
        body: init.body,
        signal: init.signal,
        ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
        redirect: 'follow',
      } as RequestInit);
    let res = await send();
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    await res.body?.cancel();
    if (!challenge) throw new RegistryError(`registry ${this.base.origin} answered 401 without a usable challenge`, 401);
    await this.authenticate(challenge, init.repository, init.signal);
    if (init.body instanceof ReadableStream) {
      throw new RegistryError(`registry ${this.base.origin} asked for new credentials in the middle of a streamed upload`, 401);
    }
    res = await send();
    if (res.status === 401) {
      throw new RegistryError(
        `registry ${this.base.origin} rejected the credentials for ${method} ${url.pathname}: check registry.username/password ` +
          '(or PODFERRY_REGISTRY_USERNAME / PODFERRY_REGISTRY_PASSWORD)',
        401,
        'UNAUTHORIZED',
      );
    }
    return res;
  }

  private authorization(): Record<string, string> {
    if (this.bearer) return { authorization: `Bearer ${this.bearer}` };
    if (this.options.username !== undefined) {
      const basic = Buffer.from(`${this.options.username}:${this.options.password ?? ''}`).toString('base64');
      return { authorization: `Basic ${basic}` };
    }
    return {};
  }

  private async authenticate(challenge: Challenge, repository: string, signal: AbortSignal | undefined): Promise<void> {
    if (challenge.scheme === 'basic') {
      if (this.options.username === undefined) {
        throw new RegistryError(
          `registry ${this.base.origin} requires credentials: set registry.username and registry.password ` +
            '(or PODFERRY_REGISTRY_USERNAME / PODFERRY_REGISTRY_PASSWORD)',
          401,
          'UNAUTHORIZED',
        );
      }
      return; // basic credentials are already sent on every request; the retry will tell if they are wrong
    }
    const scope = challenge.scope ?? `repository:${repository}:pull,push`;
    const cached = this.tokens.get(scope);
    if (cached && cached !== this.bearer) {
      this.bearer = cached;
      return;
    }
    const tokenUrl = new URL(challenge.realm);
    if (challenge.service) tokenUrl.searchParams.set('service', challenge.service);
    tokenUrl.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (this.options.username !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.options.username}:${this.options.password ?? ''}`).toString('base64')}`;
    }
    const res = await this.fetchImpl(tokenUrl, { headers, signal });
    if (!res.ok) {
      throw new RegistryError(`token service ${tokenUrl.origin} refused a token for ${scope} (${res.status})`, res.status, 'UNAUTHORIZED');
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`token service ${tokenUrl.origin} returned no token`, res.status);
    this.tokens.set(scope, token);
    this.bearer = token;
  }

  private async expectOk(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    throw await this.errorFrom(res, what);
  }

  private async expectStatus(res: Response, statuses: number[], what: string): Promise<void> {
    if (statuses.includes(res.status)) {
      if (res.body && res.status !== 200) await res.body.cancel();
      return;
    }
    throw await this.errorFrom(res, what);
  }

  private async errorFrom(res: Response, what: string): Promise<RegistryError> {
    const text = await res.text().catch(() => '');
    let code: string | undefined;
    let detail = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      const first = parsed.errors?.[0];
      if (first) {
        code = first.code;
        detail = `${first.code ?? ''} ${first.message ?? ''}`.trim();
      }
    } catch {
      // not an OCI error body; keep the text
    }
    return new RegistryError(`${what} at ${this.base.origin} failed: HTTP ${res.status} ${detail}`.trim(), res.status, code);
  }
}

/** Parses `Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"` or `Basic realm=...`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const [scheme, ...rest] = header.trim().split(/\s+/);
  if (!scheme) return undefined;
  if (scheme.toLowerCase() === 'basic') return { scheme: 'basic' };
  if (scheme.toLowerCase() !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const match of rest.join(' ').matchAll(/(\w+)="([^"]*)"/g)) params[match[1]!.toLowerCase()] = match[2]!;
  if (!params.realm) return undefined;
  return { scheme: 'bearer', realm: params.realm, service: params.service, scope: params.scope };
}

const trustedCaFiles = new Set<string>();

/**
 * Adds a private CA to the CAs this process trusts by default: Node's fetch takes no CA per request. (Clients
 * that name their own CAs, the Kubernetes API's and the node-to-node transfers', are not affected.)
 */
function trustCa(file: string): void {
  if (trustedCaFiles.has(file)) return;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`config registry.caFile: cannot read ${file}: ${(err as Error).message}`);
  }
  setDefaultCACertificates([...getCACertificates('default'), pem]);
  trustedCaFiles.add(file);
}
