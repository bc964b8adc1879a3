// The restore proof on CRI-O (lab-c, issue 13), without the workflow: the sample pod runs on lab-c-node (CRI-O
// v1.34.0 + runc + CRIU 4.2); the kubelet checkpoint API, called through lab-c's API server, returns one archive
// per container; podferry's image builder (src/oci/checkpoint-image.ts, the registry activity) turns each into a
// checkpoint image in the lab registry; a new pod on lab-c made from those images is restored by CRI-O, not
// started: the counter's process start time is unchanged and its count went on from the checkpoint, the keys
// are there, the memory checksum is unchanged.
// Configuration: config/lab-c.yaml (config/lab.yaml, the demo's and the other tests', does not name lab-c).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import path from 'node:path';
import { createKubeletActivities } from '../../src/activities/kubelet.js';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { buildTargetPod } from '../../src/kubernetes/target-pod.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { CriImages } from '../../src/node/cri-images.js';
import { RegistryClient } from '../../src/registry/client.js';

const config = loadConfig({ path: path.resolve(import.meta.dirname, '../../config/lab-c.yaml') });
const clusters = new Clusters(config.clusters);
const containers = ['counter', 'kv', 'ballast'];
const SOURCE = 'crio-selftest';
const RESTORED = 'crio-restored';

describe('CRI-O restore proof (lab-c)', () => {
  let crio: CriImages;
  beforeAll(() => {
    crio = new CriImages({ address: '/run/podferry-lab/lab-c-node/crio.sock' });
  });
  afterAll(async () => {
    crio.close();
    for (const name of [SOURCE, RESTORED]) {
      await clusters.core('lab-c').deleteNamespacedPod({ namespace: 'default', name, gracePeriodSeconds: 0 }).catch(() => undefined);
    }
  });

  test('checkpoint on lab-c, checkpoint images through the registry, restore as a new pod on lab-c with state intact', async () => {
    await clusters.core('lab-c').deleteNamespacedPod({ namespace: 'default', name: RESTORED, gracePeriodSeconds: 0 }).catch(() => undefined);
    await waitForPod(clusters.core('lab-c'), 'default', RESTORED, (p) => p === undefined, 60_000);
    const source = await deploySample(clusters, 'lab-c', { name: SOURCE, ballastMiB: 16 });
    await putSampleKey(source.status!.podIP!, 'proof', 'restored-by-cri-o');
    const before = await readSampleState(source.status!.podIP!);

    const kubelet = createKubeletActivities({ clusters });
    const archives = await Promise.all(
      containers.map((container) =>
        kubelet.checkpointContainer({ cluster: 'lab-c', node: 'lab-c-node', namespace: 'default', pod: SOURCE, container, timeoutSeconds: 60 }),
      ),
    );
    for (const archive of archives) {
      expect(archive.archivePath).toMatch(new RegExp(`^/var/lib/podferry-lab/lab-c-node/kubelet/checkpoints/checkpoint-${SOURCE}_default-${archive.container}-.*\\.tar$`));
    }

    const registry = createRegistryActivities({ registry: new RegistryClient(config.registry!), repository: config.registry!.repository });
    const images = await Promise.all(
      archives.map((archive) =>
        registry.pushCheckpointImage({ migrationId: 'crio-selftest', container: archive.container, archivePath: archive.archivePath, tag: `crio-selftest-${archive.container}` }),
      ),
    );
    // The kubelet would pull them too; pulling first shows that CRI-O stores them and sees the annotation.
    for (const image of images) await crio.pull(image.ref);

    const target = restoredPod(source, images);
    await clusters.core('lab-c').createNamespacedPod({ namespace: 'default', body: target });
    const restored = await waitForPodOrExplain('lab-c', RESTORED, 120_000);

    const after = await readSampleState(restored.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(restored.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);
  }, 300_000);
});

function restoredPod(source: V1Pod, images: { container: string; ref: string }[]): V1Pod {
  const pod = buildTargetPod({
    source,
    sourceCluster: 'lab-c',
    targetNamespace: 'default',
    targetNode: 'lab-c-node',
    images: Object.fromEntries(images.map((image) => [image.container, image.ref])),
    migrationId: 'crio-selftest',
  });
  // The source keeps running beside it, in the same namespace: the restored copy needs another name.
  pod.metadata!.name = RESTORED;
  return pod;
}

/** Waits until Ready; on timeout fails with what the kubelet says about each container. */
async function waitForPodOrExplain(cluster: string, name: string, timeoutMs: number): Promise<V1Pod> {
  try {
    return (await waitForPod(clusters.core(cluster), 'default', name, isReady, timeoutMs))!;
  } catch (err) {
    const pod = await clusters.core(cluster).readNamespacedPod({ namespace: 'default', name }).catch(() => undefined);
    const states = (pod?.status?.containerStatuses ?? []).map((s) => `${s.name}: ${JSON.stringify(s.state)}`);
    throw new Error(`${(err as Error).message}\n${states.join('\n')}`);
  }
}
