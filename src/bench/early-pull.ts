// Experiment (way `prepull`): what pulling each checkpoint image on the target node as soon as it is pushed
// would save, measured without changing the workflow. While podferry migrates, the bench watches the
// registry for each container's checkpoint image (the tag is deterministic: checkpointImageTag) and pulls it
// on the target node through the CRI, exactly as the kubelet would, in parallel. When the kubelet's
// one-container-at-a-time start loop reaches a container, its image is already there (or being pulled).
// This stands in for a change to the workflow: a target-node `pullImages` of the checkpoint images started
// per container right after its push, before createTargetPod.
import { performance } from 'node:perf_hooks';
import { checkpointImageTag } from '../api/names.js';
import { CriImages } from '../node/cri-images.js';

export interface EarlyPull {
  container: string;
  /** performance.timeOrigin-based epoch ms. */
  seenAt?: number;
  pulledAt?: number;
  error?: string;
}

const now = () => performance.timeOrigin + performance.now();

export function startEarlyPulls(options: {
  migrationId: string;
  containers: string[];
  registryUrl: string;
  /** The registry host as the target node pulls from it. */
  pullHost: string;
  repository: string;
  criAddress: string;
  /**
   * Pull one image at a time in container order (the order of the kubelet's start loop) instead of all at
   * once: container 0's image is then ready soonest, and the next pull overlaps the previous restore.
   */
  ordered?: boolean;
}): { stop: () => Promise<EarlyPull[]> } {
  const cri = new CriImages({ address: options.criAddress });
  let stopped = false;
  let previous: Promise<unknown> = Promise.resolve();
  const pullOne = async (container: string, turn: Promise<unknown>): Promise<EarlyPull> => {
    const tag = checkpointImageTag(options.migrationId, container);
    const out: EarlyPull = { container };
    while (!stopped) {
      const response = await fetch(`${options.registryUrl}/v2/${options.repository}/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
        signal: AbortSignal.timeout(2000),
      }).catch(() => undefined);
      const digest = response?.ok ? response.headers.get('docker-content-digest') : null;
      if (digest) {
        out.seenAt = now();
        if (options.ordered) await turn;
        try {
          await cri.pull(`${options.pullHost}/${options.repository}@${digest}`, 120_000);
          out.pulledAt = now();
        } catch (err) {
          out.error = (err as Error).message;
        }
        return out;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return out;
  };
  // Ordered: container i's pull waits for container i-1's (chained in container order).
  const results = options.containers.map((container) => {
    const result = pullOne(container, previous);
    previous = result;
    return result;
  });
  return {
    stop: async () => {
      stopped = true;
      const pulls = await Promise.all(results);
      cri.close();
      return pulls;
    },
  };
}
