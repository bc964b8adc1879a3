// The node's CRI image service (runtime.v1.ImageService), as the kubelet sees images:
// - PullImage with the runtime's registry configuration (mirrors, plain-HTTP registries, credentials), to
//   pre-pull the checkpointed containers' original images on the target node before the source is frozen
//   (containerd needs that base image to restore a checkpoint, and its restore path pulls it with a default
//   resolver, HTTPS only, on the critical path of the downtime);
// - PullImage also for checkpoint images pushed to the registry, ahead of the kubelet, with the registry's
//   pull identity (CRI AuthConfig), as the kubelet pulls them with the migration's pull secret;
// - ImageStatus, to know when a checkpoint image imported straight into the runtime is visible to the
//   kubelet; RemoveImage, to undo such an import or pull.
import grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { RegistryCredentials } from '../api/config.js';
import { IMAGE_SERVICE, type ImageSpecRequest, type PullImageRequest } from './proto/services.js';
import { failed, isServiceError, unaryCall } from './proto/unary-call.js';

export class CriImages {
  private readonly client: grpc.Client;

  constructor(options: { address: string }) {
    this.client = new grpc.Client(`unix:${options.address}`, grpc.credentials.createInsecure());
  }

  /** Pulls an image reference (tag or digest), with credentials for its registry if given, and returns the runtime's image id. */
  async pull(image: string, timeoutMs = 300_000, options: { signal?: AbortSignal; auth?: RegistryCredentials } = {}): Promise<string> {
    const request: PullImageRequest = { image: { image }, ...(options.auth ? { auth: { username: options.auth.username, password: options.auth.password } } : {}) };
    const response = await unaryCall(this.client, IMAGE_SERVICE.pullImage, request, { timeoutMs, signal: options.signal }).catch(failed(`pulling ${image}`));
    return response.imageRef;
  }

  /** The runtime's image id for a reference, or undefined when the runtime does not have it. */
  async status(image: string, timeoutMs = 10_000, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    // The runtime answers an image it does not have with no image, not with an error.
    const response = await this.request(IMAGE_SERVICE.imageStatus, image, timeoutMs, options.signal).catch(failed(`image status of ${image}`));
    return response.image?.id || undefined;
  }

  /** Removes an image reference from the runtime (a missing image counts as removed). */
  async remove(image: string, timeoutMs = 30_000, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.request(IMAGE_SERVICE.removeImage, image, timeoutMs, options.signal).catch((err: unknown) => {
      // RemoveImage is idempotent by the CRI contract; a runtime that still says NOT_FOUND means the same.
      if (isServiceError(err) && err.code === grpc.status.NOT_FOUND) return;
      failed(`removing ${image}`)(err);
    });
  }

  close(): void {
    this.client.close();
  }

  private request<Response>(method: MethodDefinition<ImageSpecRequest, Response>, image: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Response> {
    return unaryCall(this.client, method, { image: { image } }, { timeoutMs, signal });
  }
}
