// A worker's payload codecs, in the order the orchestrator and the node workers share.
import type { WorkerOptions } from '@temporalio/worker';
import type { SecurityConfig } from '../api/config.js';
import { historyCodecs } from '../client/history-encryption.js';
import type { NodeCallSignature } from './node-call-signature.js';

/**
 * History encryption, then the node-call signature. The SDK encodes in array order and decodes in reverse:
 * a payload is encrypted, then signed, so the signature covers exactly the bytes the history holds, on both
 * sides alike, and a node worker checks it before decrypting anything. Clients only encrypt (they have no
 * node-call key); decrypting restores the payload as it was before signing, so they never see the signature.
 */
export function workerDataConverter(security: SecurityConfig, signature: NodeCallSignature | undefined): WorkerOptions['dataConverter'] {
  return { payloadCodecs: [...historyCodecs(security), ...(signature ? [signature] : [])] };
}
