// Image pulls through the node's CRI image service (runtime.v1.ImageService/PullImage), i.e. exactly as the
// kubelet pulls: with the runtime's registry configuration (mirrors, plain-HTTP registries, credentials).
// Used to pre-pull the checkpointed containers' original images on the target node before the source is
// frozen: containerd needs that base image to restore a checkpoint, and its restore path pulls it with a
// default resolver (HTTPS only, no mirrors) if it is not there, on the critical path of the downtime.
import grpc from '@grpc/grpc-js';
import { decodeStringField1, encodeField1 } from './protobuf-field.js';

export class CriImages {
  private readonly client: grpc.Client;

  constructor(options: { address: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
  }

  /** Pulls an image reference (tag or digest) and returns the runtime's image id. */
  pull(image: string, timeoutMs = 300_000): Promise<string> {
    // PullImageRequest { ImageSpec image = 1 { string image = 1 } }
    const request = encodeField1(image); // ImageSpec
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        '/runtime.v1.ImageService/PullImage',
        (spec: Buffer) => encodeField1(spec),
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
