// Image pulls through the node's CRI image service (runtime.v1.ImageService/PullImage), i.e. exactly as the
// kubelet pulls: with the runtime's registry configuration (mirrors, plain-HTTP registries, credentials).
// Used to pre-pull the checkpointed containers' original images on the target node before the source is
// frozen: containerd needs that base image to restore a checkpoint, and its restore path pulls it with a
// default resolver (HTTPS only, no mirrors) if it is not there, on the critical path of the downtime.
import grpc from '@grpc/grpc-js';
import { encodeContainerIdRequest as encodeStringField1 } from './containerd-tasks.js';

export class CriImages {
  private readonly client: grpc.Client;

  constructor(options: { address: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
  }

  /** Pulls an image reference (tag or digest) and returns the runtime's image id. */
  pull(image: string, timeoutMs = 300_000): Promise<string> {
    // PullImageRequest { ImageSpec image = 1 { string image = 1 } }
    const request = encodeStringField1(image.toString()); // ImageSpec
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        '/runtime.v1.ImageService/PullImage',
        (spec: Buffer) => Buffer.concat([Buffer.from([0x0a]), varint(spec.length), spec]),
        (bytes: Buffer) => decodeStringField1(bytes),
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, imageRef) => (err ? reject(new Error(`pulling ${image} through CRI failed: ${err.details || err.message}`)) : resolve(imageRef ?? '')),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** PullImageResponse { string image_ref = 1 } */
function decodeStringField1(bytes: Buffer): string {
  if (bytes.length < 2 || bytes[0] !== 0x0a) return '';
  let length = 0;
  let shift = 0;
  let i = 1;
  for (; i < bytes.length; i++) {
    const b = bytes[i]!;
    length |= (b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) === 0) break;
  }
  return bytes.subarray(i + 1, i + 1 + length).toString('utf8');
}
