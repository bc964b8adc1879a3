// The orchestration worker: runs the migratePod workflow and the cluster-level activities (API servers,
// kubelet checkpoint API through them, registry cleanup) on the main task queue. One or more per
// installation; it needs kubeconfigs for every cluster and network access to their API servers.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createDeploymentActivities } from '../activities/deployments.js';
import { createKubeletActivities } from '../activities/kubelet.js';
import { createKubernetesActivities, type KubernetesActivityDeps } from '../activities/kubernetes.js';
import { createOperationsActivities } from '../activities/operations.js';
import { createPodNameFenceActivities } from '../activities/pod-name-fence.js';
import { createRegistryActivities, type RegistryActivities } from '../activities/registry.js';
import { createStatefulSetActivities } from '../activities/statefulsets.js';
import type { PodferryConfig } from '../api/config.js';
import { Clusters } from '../kubernetes/clusters.js';
import { RegistryClient } from '../registry/client.js';
import { flag, HEARTBEAT_FLUSH, SHUTDOWN_GRACE_TIME, startWorkerProcess } from './bootstrap.js';
import type { MigrationMetrics } from './metrics.js';
import { workerDataConverter } from './data-converter.js';
import { NodeCallSignature } from './node-call-signature.js';

export function createOrchestratorActivities(config: PodferryConfig) {
  const clusters = new Clusters(config.clusters);
  let registry: RegistryActivities | undefined;
  let registryPull: KubernetesActivityDeps['registryPull'];
  if (config.registry) {
    const client = new RegistryClient(config.registry);
    registry = createRegistryActivities({ registry: client, repository: config.registry.repository, pullHost: config.registry.pullHost });
    // Target pods pull with this identity, through a Secret per migration (ensurePullSecret).
    if (config.registry.pull) registryPull = { host: config.registry.pullHost ?? client.host, credentials: config.registry.pull };
  }
  return {
    ...createKubernetesActivities({ clusters, protectedNamespaces: config.protectedNamespaces, registryPull }),
    ...createKubeletActivities({ clusters }),
    ...createOperationsActivities({ clusters }),
    ...createPodNameFenceActivities({ clusters }),
    ...createDeploymentActivities({ clusters }),
    ...createStatefulSetActivities({ clusters }),
    // Cleaning up checkpoint images is the orchestrator's (the node pushes them).
    deleteImage: registry?.deleteImage ?? missingRegistry,
  };
}

/** What the orchestrator worker registers on the main task queue: the workflows' proxies are typed from it. */
export type OrchestratorActivities = ReturnType<typeof createOrchestratorActivities>;

async function missingRegistry(): Promise<never> {
  throw ApplicationFailure.nonRetryable(
    'the orchestrator worker has no registry configured (field registry of its configuration), so it cannot delete checkpoint images: add it',
    'RegistryNotConfigured',
  );
}

/**
 * The orchestrator signs what it writes (node calls among it) when the configuration gives the key, and
 * encrypts it when the configuration gives a history key.
 */
export function orchestratorDataConverter(config: PodferryConfig): WorkerOptions['dataConverter'] {
  const keyFile = config.security.nodeCallKeyFile;
  return workerDataConverter(config.security, keyFile ? NodeCallSignature.fromKeyFile(keyFile, 'sign') : undefined);
}

export async function createOrchestratorWorker(options: {
  connection: NativeConnection;
  config: PodferryConfig;
  metrics: MigrationMetrics;
  activities?: object;
  workflowBundle?: WorkerOptions['workflowBundle'];
}): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.config.temporal.namespace,
    taskQueue: options.config.temporal.taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath: fileURLToPath(new URL('../workflows/index.js', import.meta.url)) }),
    activities: options.activities ?? createOrchestratorActivities(options.config),
    dataConverter: orchestratorDataConverter(options.config),
    sinks: options.metrics.sinks(),
    shutdownGraceTime: SHUTDOWN_GRACE_TIME,
    maxHeartbeatThrottleInterval: HEARTBEAT_FLUSH,
    defaultHeartbeatThrottleInterval: HEARTBEAT_FLUSH,
  });
}

async function main(): Promise<void> {
  const proc = await startWorkerProcess({
    configPath: flag('config'),
    metricsPort: flag('metrics-port') !== undefined ? Number(flag('metrics-port')) : undefined,
  });
  if (!proc.config.security.nodeCallKeyFile) console.warn('config has no security.nodeCallKeyFile: node calls are not signed, and node workers that require signatures refuse them');
  if (!proc.config.registry) console.warn('config has no registry: checkpoint images cannot be cleaned up by this worker');
  const worker = await createOrchestratorWorker({ connection: proc.connection, config: proc.config, metrics: proc.metrics });
  console.log(`orchestrator worker: namespace ${proc.config.temporal.namespace}, task queue ${proc.config.temporal.taskQueue}, clusters ${Object.keys(proc.config.clusters).join(', ')}`);
  await proc.run([worker]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
