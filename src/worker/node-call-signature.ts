// Node calls signed by the orchestrator: a Temporal payload codec. Anyone who can reach the Temporal
// namespace can run a worker and schedule activities on a node's task queue (podferry-node-<cluster>-<node>);
// a node worker runs them as root on the host. So the orchestrator worker signs every payload it writes (HMAC-
// SHA256 with a key from a Kubernetes Secret, in the payload's metadata; the data is untouched, so clients
// without the key still read results and memos), and a node worker refuses, before any activity code runs,
// every input that does not carry a valid signature. A Temporal client without the key can still start a
// migration (the orchestrator's workflow code then decides what reaches the nodes, and the node activities
// check their inputs against the node itself), but it cannot drive a node directly. Each signature is bound
// to what the payload was written for (the SDK's serialization context: the workflow id and the activity id
// it was scheduled as), so an input read from a history cannot be replayed to another activity.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { frame } from '../client/byte-frames.js';
import { readKeyFile } from '../config/key-file.js';

const SIGNATURE_KEY = 'podferry-signature';
const encoder = new TextEncoder();

export class NodeCallSignature implements PayloadCodec {
  private readonly key: Buffer;
  private readonly mode: 'sign' | 'verify';

  /**
   * `sign`: the orchestrator signs what it writes and reads anything (workflow inputs come from clients
   * without the key). `verify`: a node worker signs its results and refuses unsigned or forged inputs.
   */
  constructor(key: Buffer, mode: 'sign' | 'verify') {
    this.key = key;
    this.mode = mode;
  }

  /** With the key in the file security.nodeCallKeyFile names. */
  static fromKeyFile(file: string, mode: 'sign' | 'verify'): NodeCallSignature {
    return new NodeCallSignature(readKeyFile(file, 'security.nodeCallKeyFile'), mode);
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => ({ ...payload, metadata: { ...unsigned(payload.metadata), [SIGNATURE_KEY]: this.mac(payload, context) } }));
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (this.mode === 'verify') {
        const given = payload.metadata?.[SIGNATURE_KEY];
        if (!given || given.length !== 32 || !timingSafeEqual(given, this.mac(payload, context))) {
          throw ApplicationFailure.nonRetryable(
            `refused: this node worker runs only activities scheduled by podferry's orchestrator (a payload ${given ? 'with a wrong' : 'without a'} signature ` +
              `for ${describeContext(context)}); the orchestrator and the node workers must share the node call key (security.nodeCallKeyFile)`,
            'UnsignedNodeCall',
          );
        }
      }
      return { ...payload, metadata: unsigned(payload.metadata) };
    });
  }

  /**
   * HMAC over what the payload was written for, the metadata (sorted, signature excluded) and the data: none
   * can be changed or swapped.
   */
  private mac(payload: Payload, context: SerializationContext | undefined): Uint8Array {
    const hmac = createHmac('sha256', this.key);
    for (const part of contextParts(context)) hmac.update(frame(encoder.encode(part)));
    for (const [name, value] of Object.entries(unsigned(payload.metadata)).sort(([a], [b]) => a.localeCompare(b))) {
      hmac.update(frame(encoder.encode(name))).update(frame(value ?? new Uint8Array()));
    }
    hmac.update(frame(payload.data ?? new Uint8Array()));
    return new Uint8Array(hmac.digest());
  }
}

function unsigned(metadata: Payload['metadata']): Record<string, Uint8Array> {
  const { [SIGNATURE_KEY]: _signature, ...rest } = (metadata ?? {}) as Record<string, Uint8Array>;
  return rest;
}

/**
 * The owner of a payload as the signature binds it: an activity's input and heartbeats by its workflow id and
 * activity id (the workflow's side schedules with the same ids the node worker's task carries), anything else
 * by its workflow id.
 */
function contextParts(context: SerializationContext | undefined): string[] {
  if (!context) return ['none'];
  if (context.type === 'activity') return ['activity', context.namespace, context.workflowId ?? '', context.activityId ?? ''];
  return ['workflow', context.namespace, context.workflowId];
}

function describeContext(context: SerializationContext | undefined): string {
  if (!context) return 'no workflow';
  if (context.type === 'activity') return `activity ${context.activityId ?? '?'} of workflow ${context.workflowId ?? '?'}`;
  return `workflow ${context.workflowId}`;
}
