// The sample workload under a controller, for the lab e2e tests of pods with owners (issue 16): a Deployment or a
// StatefulSet in the namespace default whose pods start on one node, created fresh (once any earlier one and its
// pods are gone) and removed the same way.
import type { V1Pod } from '@kubernetes/client-node';
import type { Connection } from '@temporalio/client';
import type { PodferryConfig } from '../../src/api/config.js';
import type { MigrationResult } from '../../src/api/migration.js';
import { createTemporalClient } from '../../src/client/connection.js';
import { startMigration } from '../../src/client/migrations.js';
import { apiStatus, type Clusters } from '../../src/kubernetes/clusters.js';
import { isReady, sampleManifest } from '../../src/lab/sample-workload.js';

const NAMESPACE = 'default';

export class OwnedSample {
  private readonly clusters: Clusters;
  readonly cluster: string;
  readonly kind: 'Deployment' | 'StatefulSet';
  readonly name: string;
  /** The pods' labels (the controller's selector). */
  readonly labels: Record<string, string>;

  constructor(clusters: Clusters, cluster: string, kind: 'Deployment' | 'StatefulSet', name: string, labels: Record<string, string>) {
    this.clusters = clusters;
    this.cluster = cluster;
    this.kind = kind;
    this.name = name;
    this.labels = labels;
  }

  /** Its pods, by name: a ReplicaSet's copy has no labels until its hand-over. */
  async pods(): Promise<V1Pod[]> {
    const { items } = await this.clusters.core(this.cluster).listNamespacedPod({ namespace: NAMESPACE });
    return items.filter((p) => p.metadata!.name!.startsWith(`${this.name}-`));
  }

  /** A fresh controller of `replicas` sample pods (16 MiB ballast) on `node`; returns its pods once all are Ready. */
  async create(replicas: number, node: string): Promise<V1Pod[]> {
    await this.remove();
    const template = await sampleManifest({ ballastMiB: 16 });
    template.metadata = { labels: this.labels, annotations: template.metadata!.annotations };
    template.spec!.nodeSelector = { 'kubernetes.io/hostname': node };
    const apps = this.clusters.apps(this.cluster);
    const spec = { replicas, selector: { matchLabels: this.labels }, template };
    const metadata = { name: this.name, namespace: NAMESPACE };
    if (this.kind === 'Deployment') await apps.createNamespacedDeployment({ namespace: NAMESPACE, body: { metadata, spec } });
    else await apps.createNamespacedStatefulSet({ namespace: NAMESPACE, body: { metadata, spec: { ...spec, serviceName: this.name } } });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const pods = await this.pods();
      if (pods.length === replicas && pods.every(isReady)) return pods.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
      if (Date.now() > deadline) throw new Error(`${this.kind} ${this.name}: ${replicas} Ready pods not reached in 120 s (${pods.length} pods)`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Deletes the controller and its pods, and waits until both are gone. */
  async remove(): Promise<void> {
    const apps = this.clusters.apps(this.cluster);
    const ref = { namespace: NAMESPACE, name: this.name };
    const erase = this.kind === 'Deployment' ? apps.deleteNamespacedDeployment({ ...ref, propagationPolicy: 'Foreground' }) : apps.deleteNamespacedStatefulSet({ ...ref, propagationPolicy: 'Foreground' });
    await erase.catch(() => undefined);
    // Foreground deletion: the object goes only after its pods; a create before that is refused.
    const read = this.kind === 'Deployment' ? () => apps.readNamespacedDeployment(ref) : () => apps.readNamespacedStatefulSet(ref);
    const gone = async () => (await this.pods()).length === 0 && (await read().then(() => false, (err: unknown) => apiStatus(err) === 404));
    const deadline = Date.now() + 90_000;
    while (!(await gone())) {
      if (Date.now() > deadline) throw new Error(`${this.kind} ${this.name} and its pods not gone within 90 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Every incarnation (`<cluster>/<name> <uid>`) of the samples' pods seen until stopped (polled every 50 ms). */
export function watchIncarnations(samples: OwnedSample[]) {
  const seen = new Set<string>();
  let watching = true;
  const loop = (async () => {
    while (watching) {
      for (const sample of samples) for (const p of await sample.pods().catch(() => [])) seen.add(`${sample.cluster}/${p.metadata!.name} ${p.metadata!.uid}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop(): Promise<string[]> {
      watching = false;
      await loop;
      return [...seen].sort();
    },
  };
}

/** Moves one pod of lab-a's namespace default to lab-b-node through the given task queue; resolves with the result. */
export async function moveToLabB(connection: Connection, config: PodferryConfig, pod: V1Pod, taskQueue: string, migrationId: string): Promise<MigrationResult> {
  const handle = await startMigration(
    createTemporalClient(connection, config),
    { source: { cluster: 'lab-a', namespace: NAMESPACE, pod: pod.metadata!.name! }, target: { cluster: 'lab-b', node: 'lab-b-node' } },
    { taskQueue, migrationId },
  );
  return handle.result();
}
