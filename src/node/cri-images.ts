// The node's CRI image service (runtime.v1.ImageService), as the kubelet sees images:
// - PullImage with the runtime's registry configuration (mirrors, plain-HTTP registries, credentials), to
//   pre-pull the checkpointed containers' original images on the target node before the source is frozen
//   (containerd needs that base image to restore a checkpoint, and its restore path pulls it with a default
//   resolver, HTTPS only, on the critical path of the downtime);
// - PullImage also for checkpoint images pushed to the registry, ahead of the kubelet;
// - ImageStatus, to know when a checkpoint image imported straight into the runtime is visible to the
//   kubelet; RemoveImage, to undo such an import or pull.
import grpc from '@grpc/grpc-js';
import { decodeField1, decodeStringField1, encodeField1 } from './protobuf-field.js';

export class CriImages {
  private readonly client: grpc.Client;

  constructor(options: { address: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
  }

  /** Pulls an image reference (tag or digest) and returns the runtime's image id. */
  pull(image: string, timeoutMs = 300_000): Promise<string> {
    // PullImageRequest { ImageSpec image = 1 { string image = 1 } } → PullImageResponse { string image_ref = 1 }
    return this.unary('PullImage', encodeField1(encodeField1(image)), decodeStringField1, timeoutMs, `pulling ${image}`);
  }

  /** The runtime's image id for a reference, or undefined when the runtime does not have it. */
  status(image: string, timeoutMs = 10_000): Promise<string | undefined> {
    // ImageStatusRequest { ImageSpec image = 1 } → ImageStatusResponse { Image image = 1 { string id = 1 } }
    return this.unary('ImageStatus', encodeField1(encodeField1(image)), (bytes) => {
      const found = decodeField1(bytes);
      return found ? decodeStringField1(found) || undefined : undefined;
    }, timeoutMs, `image status of ${image}`);
  }

  /** Removes an image reference from the runtime (a missing image counts as removed). */
  async remove(image: string, timeoutMs = 30_000): Promise<void> {
    // RemoveImageRequest { ImageSpec image = 1 }
    await this.unary('RemoveImage', encodeField1(encodeField1(image)), () => undefined, timeoutMs, `removing ${image}`);
  }

  private unary<T>(method: string, request: Buffer, decode: (bytes: Buffer) => T, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/runtime.v1.ImageService/${method}`,
        (bytes: Buffer) => bytes,
        decode,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, value) => (err ? reject(new Error(`${what} through CRI failed: ${err.details || err.message}`)) : resolve(value as T)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
