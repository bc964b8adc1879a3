// The lab's restore proof, without the workflow: the sample pod runs in lab-a; the kubelet checkpoint API,
// called through lab-a's API server, returns one archive per container; podferry's image builder turns each
// archive into a checkpoint image in the lab registry; a pod created in lab-b from those images is
// restored, not started: the counter's process start time is unchanged and its count went on from the
// checkpoint, the keys are there, the memory checksum is unchanged. All real: API servers, kubelets,
// containerd + runc + CRIU, registry.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createKubeletActivities } from '../../src/activities/kubelet.js';
import { createRegistryActivities } from '../../src/activities/registry.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { buildTargetPod } from '../../src/kubernetes/target-pod.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { CriImages } from '../../src/node/cri-images.js';
import { RegistryClient } from '../../src/registry/client.js';
import { pullSecretName } from '../../src/api/names.js';
import { buildPullSecret } from '../../src/kubernetes/pull-secret.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const NAME = 'selftest';
const containers = ['counter', 'kv', 'ballast'];

describe('lab restore proof', () => {
  let targetRuntime: CriImages;
  beforeAll(() => {
    targetRuntime = new CriImages({ address: '/run/podferry-lab/lab-b-node/containerd.sock' });
  });
  afterAll(async () => {
    targetRuntime.close();
    for (const cluster of ['lab-a', 'lab-b']) {
      await clusters.core(cluster).deleteNamespacedPod({ namespace: 'default', name: NAME, gracePeriodSeconds: 0 }).catch(() => undefined);
    }
    await clusters.core('lab-b').deleteNamespacedSecret({ namespace: 'default', name: pullSecretName('lab-selftest') }).catch(() => undefined);
  });

  test('checkpoint in lab-a, checkpoint images through the registry, restore in lab-b with state intact', async () => {
    const source = await deploySample(clusters, 'lab-a', { name: NAME, removeFrom: ['lab-b'] });
    await putSampleKey(source.status!.podIP!, 'proof', 'restored-not-restarted');
    const before = await readSampleState(source.status!.podIP!);

    const kubelet = createKubeletActivities({ clusters });
    const archives = await Promise.all(
      containers.map((container) =>
        kubelet.checkpointContainer({ cluster: 'lab-a', node: 'lab-a-node', namespace: 'default', pod: NAME, container, timeoutSeconds: 60 }),
      ),
    );
    expect(archives.map((a) => a.container)).toEqual(containers);
    for (const archive of archives) expect(archive.archivePath).toMatch(new RegExp(`checkpoint-${NAME}_default-${archive.container}-.*\\.tar$`));

    const registry = createRegistryActivities({
      registry: new RegistryClient(config.registry!),
      repository: config.registry!.repository,
      archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: `${process.env.PODFERRY_LAB_STATE ?? '/var/lib/podferry-lab'}/lab-a-node/kubelet/checkpoints` }),
    });
    const images = await Promise.all(
      archives.map((archive) =>
        registry.pushCheckpointImage({ migrationId: 'lab-selftest', container: archive.container, archivePath: archive.archivePath, tag: `selftest-${archive.container}` }),
      ),
    );

    // The checkpoint registry refuses anonymous pulls: lab-b's kubelet pulls with a Secret of the pull identity,
    // as a migration's target pod does.
    const pullSecret = pullSecretName('lab-selftest');
    await clusters.core('lab-b').deleteNamespacedSecret({ namespace: 'default', name: pullSecret }).catch(() => undefined);
    await clusters.core('lab-b').createNamespacedSecret({
      namespace: 'default',
      body: buildPullSecret({ name: pullSecret, namespace: 'default', migrationId: 'lab-selftest', host: new URL(config.registry!.url).host, credentials: config.registry!.pull! }),
    });

    // containerd restores onto the checkpointed container's own image, which must be on the target node.
    for (const status of source.status!.containerStatuses!) await targetRuntime.pull(status.imageID!);

    const targetPod = buildTargetPod({
      source,
      sourceCluster: 'lab-a',
      targetNamespace: 'default',
      targetNode: 'lab-b-node',
      images: Object.fromEntries(images.map((image) => [image.container, image.ref])),
      migrationId: 'lab-selftest',
      pullSecret,
    });
    await clusters.core('lab-b').createNamespacedPod({ namespace: 'default', body: targetPod });
    const restored = await waitForPod(clusters.core('lab-b'), 'default', NAME, isReady, 120_000);

    const after = await readSampleState(restored!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
    // Restored, not restarted: no container restarted and each kept its counter/process identity.
    expect(restored!.status!.containerStatuses!.map((s) => s.restartCount)).toEqual([0, 0, 0]);
  }, 300_000);
});
