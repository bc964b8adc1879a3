// The restore proof on CRI-O (lab-c, issue 13), without the workflow: the sample pod runs on lab-c-node (CRI-O
// v1.34.0 + runc + CRIU 4.2); the kubelet checkpoint API, called through lab-c's API server, returns one archive
// per container; podferry's image builder (src/oci/checkpoint-image.ts, the registry activity) turns each into a
// checkpoint image in the lab registry; a new pod on lab-c made from those images is restored by CRI-O, not
// started: the counter's process start time is unchanged and its count went on from the checkpoint, the keys
// are there, the memory checksum is unchanged.
// The second pins down how CRI-O's checkpoint meets podferry's freeze today (see there).
// Configuration: config/lab-c.yaml (config/lab.yaml, the demo's and the other tests', does not name lab-c).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createKubeletActivities } from '../../src/activities/kubelet.js';
import { createNodeActivities } from '../../src/activities/node.js';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { buildTargetPod } from '../../src/kubernetes/target-pod.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { CriImages } from '../../src/node/cri-images.js';
import { FrozenPodRecords } from '../../src/node/frozen-pods.js';
import { childCgroups, findPodCgroup, freezerState } from '../../src/node/pod-cgroup.js';
import { RegistryClient } from '../../src/registry/client.js';

const config = loadConfig({ path: path.resolve(import.meta.dirname, '../../config/lab-c.yaml') });
const clusters = new Clusters(config.clusters);
const containers = ['counter', 'kv', 'ballast'];
const SOURCE = 'crio-selftest';
const RESTORED = 'crio-restored';
const FROZEN_SOURCE = 'crio-frozen';
const kubelet = createKubeletActivities({ clusters });
const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: `${process.env.PODFERRY_LAB_STATE ?? '/var/lib/podferry-lab'}/lab-c-node/kubelet/checkpoints` });
const registry = createRegistryActivities({ registry: new RegistryClient(config.registry!), repository: config.registry!.repository, archives });

/** Checkpoints every container of a lab-c pod through the kubelet API and pushes one checkpoint image each. */
async function checkpointToImages(pod: string) {
  const written = await Promise.all(
    containers.map((container) => kubelet.checkpointContainer({ cluster: 'lab-c', node: 'lab-c-node', namespace: 'default', pod, container, timeoutSeconds: 60 })),
  );
  for (const archive of written) {
    expect(archive.archivePath).toMatch(new RegExp(`^/var/lib/podferry-lab/lab-c-node/kubelet/checkpoints/checkpoint-${pod}_default-${archive.container}-.*\\.tar$`));
  }
  return Promise.all(
    written.map((archive) =>
      registry.pushCheckpointImage({ migrationId: pod, container: archive.container, archivePath: archive.archivePath, tag: `${pod}-${archive.container}` }),
    ),
  );
}

describe('CRI-O restore proof (lab-c)', () => {
  let crio: CriImages;
  beforeAll(() => {
    crio = new CriImages({ address: '/run/podferry-lab/lab-c-node/crio.sock' });
  });
  afterAll(async () => {
    crio.close();
    for (const name of [SOURCE, RESTORED, FROZEN_SOURCE]) {
      await clusters.core('lab-c').deleteNamespacedPod({ namespace: 'default', name, gracePeriodSeconds: 0 }).catch(() => undefined);
    }
  });

  test('checkpoint on lab-c, checkpoint images through the registry, restore as a new pod on lab-c with state intact', async () => {
    await clusters.core('lab-c').deleteNamespacedPod({ namespace: 'default', name: RESTORED, gracePeriodSeconds: 0 }).catch(() => undefined);
    await waitForPod(clusters.core('lab-c'), 'default', RESTORED, (p) => p === undefined, 60_000);
    const source = await deploySample(clusters, 'lab-c', { name: SOURCE, ballastMiB: 16 });
    await putSampleKey(source.status!.podIP!, 'proof', 'restored-by-cri-o');
    const before = await readSampleState(source.status!.podIP!);

    const images = await checkpointToImages(SOURCE);
    // The kubelet would pull them too; pulling first shows that CRI-O stores them.
    for (const image of images) await crio.pull(image.ref);

    const target = restoredPod(source, images, RESTORED);
    await clusters.core('lab-c').createNamespacedPod({ namespace: 'default', body: target });
    const restored = await waitForPodOrExplain('lab-c', RESTORED, 120_000);

    const after = await readSampleState(restored.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    expect(restored.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);
  }, 300_000);

  // Why podferry does not checkpoint CRI-O's containers through CRI-O (the kubelet API, or CRI
  // CheckpointContainer): the freeze hands the pod over to the containers (frozen container cgroups; the node
  // worker with a CRI socket uses runc pause, the same state), and CRI-O's checkpoint (v1.34.0) runs runc pause
  // first, which runc refuses for a paused container; after a checkpoint CRI-O would resume the container
  // anyway. So the node worker checkpoints with runc itself (test/e2e/crio-migrate.test.ts); the plan refuses
  // checkpointVia: kubelet for CRI-O pods. This test pins CRI-O's refusal down, and that thawPod lets the pod go on.
  test('CRI-O\'s checkpoint refuses a container podferry froze (runc pause: container not running); thawPod lets the pod go on', async () => {
    const source = await deploySample(clusters, 'lab-c', { name: FROZEN_SOURCE, ballastMiB: 16 });
    await putSampleKey(source.status!.podIP!, 'proof', 'frozen-then-thawed');
    const before = await readSampleState(source.status!.podIP!);
    const podUid = source.metadata!.uid!;
    const containerIds = source.status!.containerStatuses!.map((s) => s.containerID!);
    expect(containerIds.every((id) => id.startsWith('cri-o://'))).toBe(true);

    const stateDir = await mkdtemp(path.join(tmpdir(), 'podferry-crio-frozen-'));
    const node = createNodeActivities({ cgroupFsRoot: '/sys/fs/cgroup', nodeName: 'lab-c-node', archives, frozenPods: new FrozenPodRecords(stateDir) });
    const fenced = { podUid, containerIds, migrationId: 'crio-frozen-test' };
    try {
      await node.freezePod({ ...fenced, fence: 1, sweepAfterMs: 600_000 });
      // With cgroupfs and conmon_cgroup = "pod", each container has two cgroups under the pod's: crio-<id> (the
      // container) and crio-conmon-<id> (its monitor).
      const children = await childCgroups((await findPodCgroup('/sys/fs/cgroup', podUid))!);
      const nameOf = Object.fromEntries(source.status!.containerStatuses!.map((s) => [s.containerID!.slice('cri-o://'.length), s.name]));
      const states = Object.fromEntries(
        await Promise.all(children.map(async (c) => [path.basename(c.dir).replace(/[0-9a-f]{64}$/, (id) => nameOf[id] ?? 'sandbox'), await freezerState(c)])),
      );
      console.log(`cgroups of the pod after freezePod: ${JSON.stringify(states)}`);
      const frozenContainers = containers.filter((c) => states[`crio-${c}`] === 'FROZEN');
      expect(frozenContainers.length).toBeGreaterThan(0);
      await expect(
        kubelet.checkpointContainer({ cluster: 'lab-c', node: 'lab-c-node', namespace: 'default', pod: FROZEN_SOURCE, container: frozenContainers[0]!, timeoutSeconds: 60 }),
      ).rejects.toThrow(/failed to pause container .* before checkpointing: .*container not running/);

      await node.thawPod({ ...fenced, fence: 2 });
      const after = await readSampleState(source.status!.podIP!);
      expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    } finally {
      await node.thawPod({ ...fenced, fence: 3 }).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 300_000);
});

function restoredPod(source: V1Pod, images: { container: string; ref: string }[], name: string): V1Pod {
  const pod = buildTargetPod({
    source,
    sourceCluster: 'lab-c',
    targetNamespace: 'default',
    targetNode: 'lab-c-node',
    images: Object.fromEntries(images.map((image) => [image.container, image.ref])),
    migrationId: source.metadata!.name!,
  });
  // The source is still there, in the same namespace: the restored copy needs another name.
  pod.metadata!.name = name;
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
