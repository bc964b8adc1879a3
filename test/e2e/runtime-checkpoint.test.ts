// The node worker's checkpoint through its runtime (CRI CheckpointContainer) on the lab, without the workflow:
// the real containerd of lab-a-node checkpoints a running pod's container into podferry's own archive
// directory (0700), the archive is root-only (0600) and is one the node's archive check accepts; a call that
// names a container of another pod, or a pod this node does not run, is refused before anything is written.
// (The migrations in migrate.test.ts checkpoint this way too: it is the default.)
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRuntimeCheckpointActivities } from '../../src/activities/runtime-checkpoint.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { deploySample } from '../../src/lab/sample-workload.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { CriRuntime } from '../../src/node/cri-runtime.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const NAME = 'rt-checkpoint';
const LAB_STATE = process.env.PODFERRY_LAB_STATE ?? '/var/lib/podferry-lab';
const archiveDir = path.join(LAB_STATE, 'podferry-node/checkpoints/lab-a/lab-a-node');
const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: path.join(LAB_STATE, 'lab-a-node/kubelet/checkpoints'), archiveDir });
let runtime: CriRuntime;

beforeAll(() => {
  runtime = new CriRuntime({ address: '/run/podferry-lab/lab-a-node/containerd.sock' });
});

afterAll(async () => {
  runtime.close();
  await clusters.core('lab-a').deleteNamespacedPod({ namespace: 'default', name: NAME, gracePeriodSeconds: 0 }).catch(() => undefined);
});

describe("checkpoint through the node's runtime", () => {
  test('a container of a pod on this node: archived in podferry\'s own directory, root-only; anything else refused', async () => {
    const pod = await deploySample(clusters, 'lab-a', { name: NAME, ballastMiB: 8 });
    const uid = pod.metadata!.uid!;
    const ids = Object.fromEntries((pod.status?.containerStatuses ?? []).map((s) => [s.name, s.containerID!]));
    const activities = createRuntimeCheckpointActivities({ runtime, archives, nodeName: 'lab-a-node' });
    const input = { podUid: uid, namespace: 'default', pod: NAME, container: 'counter', containerId: ids.counter!, timeoutSeconds: 60 };

    const result = await activities.checkpointThroughRuntime(input);
    expect(path.dirname(result.archivePath)).toBe(archiveDir);
    expect(statSync(result.archivePath).mode & 0o777).toBe(0o600);
    expect(statSync(archiveDir).mode & 0o777).toBe(0o700);
    expect(statSync(result.archivePath).size).toBeGreaterThan(1 << 20);
    expect(await archives.resolve(result.archivePath, 'test')).toBe(result.archivePath);

    // Another pod's uid with this container, or a container id this pod does not have: refused, nothing written.
    const before = statSync(archiveDir).mtimeMs;
    await expect(activities.checkpointThroughRuntime({ ...input, podUid: '00000000-0000-0000-0000-000000000000' })).rejects.toMatchObject({ type: 'ContainerNotOnThisNode' });
    await expect(activities.checkpointThroughRuntime({ ...input, containerId: 'containerd://0123456789abcdef' })).rejects.toMatchObject({ type: 'ContainerNotOnThisNode' });
    expect(statSync(archiveDir).mtimeMs).toBe(before);
    rmSync(result.archivePath); // the workload's memory: not left behind
  }, 180_000);
});
