// History encryption: a Temporal payload codec. A workflow history keeps every payload (migration inputs,
// plans and target pod specs, which can carry literal env values, activity inputs and results, memos) for
// the namespace's retention, readable by anyone who can read the namespace. With security.historyKeyFile,
// every worker and client encrypts the payloads it writes with AES-256-GCM under a key from a Kubernetes
// Secret: the history holds only `binary/encrypted` payloads, each naming the id of its key. This is
// confidentiality only; who may drive a node is the node-call signature's (src/worker/node-call-signature.ts).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';
import type { SecurityConfig } from '../api/config.js';
import { readKeyFile } from '../config/key-file.js';
import { joinFrames, splitFrames } from './byte-frames.js';

/** Temporal's metadata encoding for encrypted payloads. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class HistoryEncryption implements PayloadCodec {
  /** Names the key in every payload without revealing it: a process with another key knows at once. */
  readonly keyId: string;
  private readonly key: Buffer;
  private readonly keyFile: string;

  /** `secret`: the key file's bytes; `keyFile` is named in errors. */
  constructor(secret: Buffer, keyFile: string) {
    this.key = derive(secret, 'podferry history encryption key', 32);
    this.keyId = derive(secret, 'podferry history encryption key id', 8).toString('hex');
    this.keyFile = keyFile;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
      const sealed = Buffer.concat([nonce, cipher.update(pack(payload)), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: encoder.encode(ENCRYPTED_ENCODING), [KEY_ID]: encoder.encode(this.keyId) }, data: sealed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // Written without encryption (before the key was configured, or by a client without it such as the Web
      // UI's start form): refusing it would not take it out of the history.
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID]);
      if (keyId !== this.keyId) {
        throw ApplicationFailure.nonRetryable(
          `history payload encrypted with key id ${keyId ?? '(none)'}, but the history key in ${this.keyFile} (security.historyKeyFile) has key id ${this.keyId}: ` +
            'every worker and client of an installation needs the same key (the Secret podferry-history-key); check that file, or whether the key was rotated',
          'HistoryKeyMismatch',
        );
      }
      const sealed = payload.data ?? new Uint8Array();
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(0, NONCE_BYTES));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        return unpack(Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
      } catch {
        throw ApplicationFailure.nonRetryable(`history payload with key id ${keyId} does not decrypt with the key in ${this.keyFile}: it was changed`, 'HistoryPayloadCorrupt');
      }
    });
  }
}

/** The codecs history encryption adds to a worker or client: none without security.historyKeyFile. */
export function historyCodecs(security: SecurityConfig): PayloadCodec[] {
  const file = security.historyKeyFile;
  return file ? [new HistoryEncryption(readKeyFile(file, 'security.historyKeyFile'), file)] : [];
}

function derive(secret: Buffer, purpose: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, new Uint8Array(), purpose, length));
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? decoder.decode(bytes) : undefined;
}

/** The whole payload, metadata included (its encoding says how to read the data): name, value, …, data. */
function pack(payload: Payload): Uint8Array {
  const metadata = Object.entries(payload.metadata ?? {}).flatMap(([name, value]) => [encoder.encode(name), value ?? new Uint8Array()]);
  return joinFrames([...metadata, payload.data ?? new Uint8Array()]);
}

function unpack(packed: Uint8Array): Payload {
  const parts = splitFrames(packed);
  const data = parts.pop();
  const metadata: Record<string, Uint8Array> = {};
  for (let i = 0; i < parts.length; i += 2) metadata[decoder.decode(parts[i])] = parts[i + 1]!;
  return { metadata, data };
}
