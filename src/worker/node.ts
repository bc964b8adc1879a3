// The node worker: one per node (a DaemonSet; in the lab a host process per node). Runs the node-local
// activities (freeze/thaw the pod cgroup, push the checkpoint archives or send them to the target node's
// worker, import what another node sends, delete archives) on the task queue `podferry-node-<cluster>-<node>`,
// and sweeps the pods it froze whose migration ended without thawing or killing them (src/node/frozen-pod-sweeper.ts)
// and the archives no migration needs any more (src/node/archive-sweeper.ts).
// Needs root (cgroups, archives are root-owned 0600), the registry, and an HTTP port other nodes reach.
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { nodeTaskQueue } from '../api/names.js';
import { createNodeActivities } from '../activities/node.js';
import { createRegistryActivities } from '../activities/registry.js';
import { createRuntimeCheckpointActivities } from '../activities/runtime-checkpoint.js';
import { createRuntimeDescriptionActivities } from '../activities/runtime-description.js';
import { createTransferActivities } from '../activities/transfer.js';
import { createPostCopyActivities } from '../activities/postcopy.js';
import type { NodeWorkerConfig, PodferryConfig } from '../api/config.js';
import { createArchiveSweeper } from '../node/archive-sweeper.js';
import { CheckpointArchives } from '../node/checkpoint-archives.js';
import { CheckpointServer, firstExternalIPv4 } from '../node/checkpoint-server.js';
import { ContainerdImport } from '../node/containerd-import.js';
import { ContainerdTasks } from '../node/containerd-tasks.js';
import { NodeCredentials, readTransferCa } from '../node/node-identity.js';
import { CriImages } from '../node/cri-images.js';
import { CriRuntime } from '../node/cri-runtime.js';
import { readCrioSettings } from '../node/crio-config.js';
import { Runc, type CrioAccess } from '../node/runc.js';
import { createFrozenPodSweeper, describeWithTemporal } from '../node/frozen-pod-sweeper.js';
import { FrozenPodRecords, frozenPodsDir } from '../node/frozen-pods.js';
import { PostCopyDirs } from '../node/postcopy-dirs.js';
import { RegistryClient } from '../registry/client.js';
import { flag, HEARTBEAT_FLUSH, SHUTDOWN_GRACE_TIME, startWorkerProcess } from './bootstrap.js';
import { deletedArchivesCounter } from './metrics.js';
import { NodeCallSignature } from './node-call-signature.js';
import { createTemporalClient, temporalConnectionOptions } from '../client/connection.js';
import { workerDataConverter } from './data-converter.js';

/** The node activities, with this node's checkpoint server started (it hands out URLs naming its port). */
export async function createNodeWorkerActivities(config: PodferryConfig) {
  const node = requireNodeConfig(config);
  if (!config.registry) throw new Error('config: field registry: Required (the node worker pushes checkpoint images)');
  const registry = new RegistryClient(config.registry);
  // Node-to-node transfers need this node's identity from the transfer CA; without it the registry carries every image.
  const credentials = node.transfer.tls ? await NodeCredentials.start(readTransferCa(node.transfer.tls), node.cluster, node.nodeName) : undefined;
  const server = credentials ? new CheckpointServer(node.transfer, credentials) : undefined;
  const url = server ? await server.start() : undefined;
  const criAddress = node.cri?.address;
  const criImages = criAddress ? new CriImages({ address: criAddress }) : undefined;
  const criRuntime = criAddress ? new CriRuntime({ address: criAddress }) : undefined;
  const crio = criAddress && criRuntime ? crioAccess(criRuntime, criAddress, node.crio) : undefined;
  const frozenPods = new FrozenPodRecords(frozenPodsDir(node.stateDir, node.cluster, node.nodeName));
  // The only archives this worker reads, serves or deletes, whatever its input names.
  const archives = new CheckpointArchives({ hostRoot: node.hostRoot, checkpointDir: node.checkpointDir, archiveDir: node.archiveDir });
  const postCopy = createPostCopyActivities({
    runtime: criRuntime,
    containerd: node.containerd,
    archives,
    dirs: new PostCopyDirs({ hostRoot: node.hostRoot, hostDir: postCopyDir(node) }),
    credentials,
    pageServerHost: node.transfer.advertiseHost ?? firstExternalIPv4(),
    hostRoot: node.hostRoot,
    nodeName: node.nodeName,
  });
  const activities = {
    ...createNodeActivities({
      cgroupFsRoot: node.cgroupFsRoot,
      nodeName: node.nodeName,
      archives,
      containerd: node.containerd ? new ContainerdTasks(node.containerd) : undefined,
      crio,
      runtime: criRuntime,
      criImages,
      frozenPods,
      stopLazyDumps: postCopy.stopPostCopyProcesses,
    }),
    ...postCopy.activities,
    ...createRuntimeCheckpointActivities({ runtime: criRuntime, crio, archives, nodeName: node.nodeName }),
    ...createRuntimeDescriptionActivities({ runtime: criRuntime, criAddress, crio, nodeName: node.nodeName }),
    // The archives exist only on this node: it pushes them. (Deleting images is the orchestrator's.)
    pushCheckpointImage: createRegistryActivities({
      registry,
      repository: config.registry.repository,
      pullHost: config.registry.pullHost,
      archives,
    }).pushCheckpointImage,
    ...createTransferActivities({
      server,
      credentials,
      criImages,
      importer: node.containerd ? new ContainerdImport(node.containerd) : undefined,
      repository: config.registry.repository,
      pullHost: config.registry.pullHost ?? registry.host,
      pullCredentials: config.registry.pull,
      archives,
    }),
  };
  return { activities, transferUrl: url, frozenPods, archives };
}

/**
 * CRI-O's runc: binary, root and PATH as CRI-O's default handler has them (its info endpoint on the CRI socket,
 * once CRI Version confirms the socket is CRI-O's), node.crio overriding each. Looked up on first use (only a
 * CRI-O node's calls need it), again after a failure.
 */
function crioAccess(criRuntime: CriRuntime, criAddress: string, overrides: NodeWorkerConfig['crio']): CrioAccess {
  let found: ReturnType<CrioAccess> | undefined;
  const crioSettings = async () => {
    // Containers named cri-o:// on a socket that is not CRI-O's: the configuration points at the wrong runtime.
    const { runtimeName, runtimeVersion } = await criRuntime.version();
    if (runtimeName !== 'cri-o') throw new Error(`the CRI socket ${criAddress} (node.cri.address) is ${runtimeName} ${runtimeVersion}'s, not CRI-O's`);
    return readCrioSettings(criAddress);
  };
  return () => {
    found ??= crioSettings().then((settings) => {
      const path = overrides?.criu ? [dirname(overrides.criu), settings.path ?? process.env.PATH].filter(Boolean).join(':') : settings.path;
      const runc = new Runc({ runc: overrides?.runc ?? settings.runtimePath, root: overrides?.runtimeRoot ?? settings.runtimeRoot, path });
      return { runc, settings };
    });
    found.catch(() => (found = undefined));
    return found;
  };
}

/** Where post-copy's files go on the node (a host path): beside the frozen-pod records, per node. */
function postCopyDir(node: NodeWorkerConfig): string {
  return `${node.stateDir}/postcopy/${node.cluster}/${node.nodeName}`;
}

/** What a node worker registers on its task queue: the workflows' proxies to a node are typed from it. */
export type NodeWorkerActivities = Awaited<ReturnType<typeof createNodeWorkerActivities>>['activities'];

function requireNodeConfig(config: PodferryConfig) {
  if (!config.node) {
    throw new Error('config: field node: Required (cluster and nodeName of this node worker; or PODFERRY_NODE_CLUSTER / PODFERRY_NODE_NAME, or --cluster / --node)');
  }
  return config.node;
}

/**
 * A node worker verifies that every input was signed by the orchestrator (see node-call-signature.ts), and
 * encrypts what it writes when the configuration gives a history key.
 */
export function nodeDataConverter(config: PodferryConfig): WorkerOptions['dataConverter'] {
  const { nodeCallKeyFile, allowUnsignedNodeCalls } = config.security;
  if (!nodeCallKeyFile && !allowUnsignedNodeCalls) {
    throw new Error(
      'config: field security.nodeCallKeyFile: Required for a node worker (the key the orchestrator signs node calls with; mount it from a Secret, ' +
        'or PODFERRY_NODE_CALL_KEY_FILE). Without it any Temporal client could drive this node; security.allowUnsignedNodeCalls: true accepts that risk.',
    );
  }
  return workerDataConverter(config.security, nodeCallKeyFile ? NodeCallSignature.fromKeyFile(nodeCallKeyFile, 'verify') : undefined);
}

export async function createNodeWorker(options: { connection: NativeConnection; config: PodferryConfig; activities: object }): Promise<Worker> {
  const node = requireNodeConfig(options.config);
  return Worker.create({
    dataConverter: nodeDataConverter(options.config),
    connection: options.connection,
    namespace: options.config.temporal.namespace,
    taskQueue: nodeTaskQueue(node.cluster, node.nodeName),
    activities: options.activities,
    shutdownGraceTime: SHUTDOWN_GRACE_TIME,
    maxHeartbeatThrottleInterval: HEARTBEAT_FLUSH,
    defaultHeartbeatThrottleInterval: HEARTBEAT_FLUSH,
  });
}

async function main(): Promise<void> {
  // Flags override the file for the two values that differ per node.
  if (flag('cluster')) process.env.PODFERRY_NODE_CLUSTER = flag('cluster');
  if (flag('node')) process.env.PODFERRY_NODE_NAME = flag('node');
  const proc = await startWorkerProcess({
    configPath: flag('config'),
    // Several node workers may share a host (the lab): metrics only when a port is given for this one.
    metricsPort: flag('metrics-port') !== undefined ? Number(flag('metrics-port')) : Number(process.env.PODFERRY_METRICS_PORT ?? 0),
  });
  const { activities, transferUrl, frozenPods, archives } = await createNodeWorkerActivities(proc.config);
  const worker = await createNodeWorker({ connection: proc.connection, config: proc.config, activities });
  const node = proc.config.node!;
  console.log(
    `node worker: ${node.cluster}/${node.nodeName}, task queue ${nodeTaskQueue(node.cluster, node.nodeName)}, cgroups at ${node.cgroupFsRoot}` +
      (node.cri ? `, CRI at ${node.cri.address}` : '') +
      (node.containerd ? `, containerd at ${node.containerd.address}` : '') +
      (transferUrl ? `, checkpoints served at ${transferUrl}` : ', no node-to-node transfers (node.transfer.tls not set)') +
      `, frozen-pod records in ${frozenPods.dir}, archives in ${archives.directories.join(' and ')}`,
  );
  const postCopy = await activities.describePostCopy().catch((err: unknown) => ({ available: false, reason: (err as Error).message }));
  console.log(`node worker: post-copy ${postCopy.available ? 'available' : `unavailable on this node: ${postCopy.reason}`}`);
  // The sweepers' own client connection: the worker's is closed as soon as the worker stops, the sweepers after.
  const temporal = await Connection.connect({ ...temporalConnectionOptions(proc.config.temporal), connectTimeout: '10s' });
  const describeWorkflow = describeWithTemporal(createTemporalClient(temporal, proc.config));
  const deletedArchives = deletedArchivesCounter(proc.metrics.registry);
  const sweepers = [
    createFrozenPodSweeper({ records: frozenPods, thawPod: activities.thawPod, killFrozenPod: activities.killFrozenPod, describeWorkflow }),
    createArchiveSweeper({ archives, describeWorkflow, maxAgeMs: node.orphanArchiveAgeSeconds * 1000, onDeleted: (reason) => deletedArchives.inc({ reason }) }),
  ].map((sweeper) => sweeper.start(node.sweepIntervalSeconds * 1000));
  try {
    await proc.run([worker]);
  } finally {
    await Promise.all(sweepers.map((sweeper) => sweeper.stop()));
    await temporal.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
