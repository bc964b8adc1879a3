// Recording stand-in activities: the same factory shape and signatures as the real ones (TypeScript checks
// them against the real types), but instead of talking to clusters, nodes and a registry they record every
// call, and fail or block where a test says. The workflow tests use them because the point there is the
// orchestration; the real activities are exercised against a real registry and (e2e) the lab.
import { appendFileSync } from 'node:fs';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { DeploymentActivities } from '../../src/activities/deployments.js';
import type { KubeletActivities } from '../../src/activities/kubelet.js';
import type { KubernetesActivities, PodEventInput } from '../../src/activities/kubernetes.js';
import type { NodeActivities } from '../../src/activities/node.js';
import type { PodNameFenceActivities } from '../../src/activities/pod-name-fence.js';
import type { RegistryActivities } from '../../src/activities/registry.js';
import type { RuntimeCheckpointActivities } from '../../src/activities/runtime-checkpoint.js';
import type { RuntimeDescriptionActivities } from '../../src/activities/runtime-description.js';
import type { StatefulSetActivities } from '../../src/activities/statefulsets.js';
import type { TransferActivities } from '../../src/activities/transfer.js';
import type { HeldMigration } from '../../src/api/held-source.js';
import type { MigrationPlan } from '../../src/api/migration-plan.js';
import { nodeTaskQueue, pullSecretName } from '../../src/api/names.js';
import type { RuntimeDescription } from '../../src/api/runtime-description.js';
import { referencedConfig } from '../../src/kubernetes/target-pod.js';
import { migrationStrategy, plannedSourcePod, targetPodName } from '../../src/planning/migration.js';
import { replicaSetCopyName } from '../../src/planning/replicaset-handover.js';
import { sourcePod } from '../fixtures/source-pod.js';

export interface Script {
  /** Throw a non-retryable InjectedFailure at this call, or these calls (e.g. "checkpointContainer:kv" or "freezePod"). */
  failAt?: string | string[];
  /** Block (heartbeating, cancellable) at this call until cancelled; "forever" ignores nothing else. */
  blockAt?: string;
  /** Node name the stand-in plan reports (selects the node worker's task queue). */
  node: string;
  /** Simulated duration of each checkpoint (ms), to observe parallel vs sequential. */
  checkpointMs?: number;
  /** Fail only the first call named by failAt (later calls of that name succeed). */
  failOnce?: boolean;
  /** What podLifecycle reports for the source pod (default: gone). */
  sourceLifecycle?: 'present' | 'terminating' | 'gone';
  /** What findHeldMigration finds (default: nothing). */
  held?: HeldMigration;
  /** The orchestrator has a registry pull identity: the plan names the migration's pull secret. */
  registryPull?: boolean;
  /**
   * Source pods (by name) that belong to ReplicaSet sample-7d9f8c6b5 of Deployment sample: within their
   * cluster the plan's strategy is AdoptByReplicaSet.
   */
  replicaSetPods?: string[];
  /**
   * Source pods (by name) that belong to ReplicaSet sample-7d9f8c6b5 of Deployment sample (2 replicas), moving to
   * another cluster or namespace: the plan carries a deploymentMove.
   */
  deploymentPods?: string[];
  /** The target namespace has Deployment sample already (1 replica; default: it has none, podferry creates it). */
  targetDeploymentExists?: boolean;
  /** Which pod the source's ReplicaSet deletes after its Deployment's scale-down (default: the source). */
  scaleDownDeletes?: 'source' | 'sibling';
  /**
   * Source pods (by name) that belong to StatefulSet web: within their cluster the plan fences their name; to another
   * cluster or namespace the plan carries a statefulSetMove of ordinal 2 (web runs 0–2; the target runs ordinals 3–4
   * when targetStatefulSetExists, else has no StatefulSet web).
   */
  statefulSetPods?: string[];
  /** The target namespace has StatefulSet web already, running ordinals 3–4 (default: it has none, podferry creates it). */
  targetStatefulSetExists?: boolean;
  /** Which pod the ReplicaSet deletes after the hand-over (default: the source). */
  replicaSetDeletes?: 'source' | 'copy';
  /** What takeBackFromReplicaSet finds: the ReplicaSet deleted the source after all (default: no). */
  sourceDeletedOnTakeBack?: boolean;
  /** What describeRuntime answers on the source and the target node (default: containerd 2.3.7, restore on, CRIU 4.2.1). */
  runtimes?: { source?: Partial<RuntimeDescription>; target?: Partial<RuntimeDescription> };
  /** Liqo virtual nodes: where the plan says the source's and the target's containers run (its runsAt). */
  runsAt?: { source?: NonNullable<MigrationPlan['source']['runsAt']>; target?: MigrationPlan['target']['runsAt'] };
}

export interface RecordedCall {
  call: string;
  event: 'start' | 'end' | 'fail';
  at: number;
  input?: unknown;
}

export class Recorder {
  readonly calls: RecordedCall[] = [];
  /** Kubernetes Events the migration recorded on its pods. */
  readonly podEvents: PodEventInput[] = [];
  private readonly file: string | undefined;
  constructor(file?: string) {
    this.file = file;
  }
  record(entry: RecordedCall): void {
    this.calls.push(entry);
    if (this.file) appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }
  /** Records a call's start, then its end or failure, around `run`. */
  async step<T>(call: string, input: unknown, run: () => T | Promise<T>): Promise<T> {
    this.record({ call, event: 'start', at: Date.now(), input });
    try {
      const value = await run();
      this.record({ call, event: 'end', at: Date.now() });
      return value;
    } catch (err) {
      this.record({ call, event: 'fail', at: Date.now() });
      throw err;
    }
  }
  /** Calls that started, in order. */
  started(): string[] {
    return this.calls.filter((c) => c.event === 'start').map((c) => c.call);
  }
}

export const CONTAINERS = ['counter', 'kv', 'ballast'];

export function createRecordingStandInActivities(recorder: Recorder, script: Script) {
  const failed = new Set<string>();
  const step = <T>(call: string, input: unknown, result: () => T | Promise<T>): Promise<T> =>
    recorder.step(call, input, async () => {
      if ([script.failAt ?? []].flat().includes(call) && !(script.failOnce && failed.has(call))) {
        failed.add(call);
        throw ApplicationFailure.nonRetryable(`injected failure at ${call}`, 'InjectedFailure');
      }
      if (script.blockAt === call) await blockUntilCancelled();
      return result();
    });

  const plan = (input: Parameters<KubernetesActivities['planMigration']>[0]): MigrationPlan => {
    const pod = sourcePod();
    const strategy = migrationStrategy(input, script.replicaSetPods?.includes(input.source.pod));
    return {
      migrationId: input.migrationId,
      source: { ...input.source, uid: pod.metadata!.uid!, node: script.node, ...(script.runsAt?.source ? { runsAt: script.runsAt.source } : {}) },
      target: { ...input.target, ...(script.runsAt?.target ? { runsAt: script.runsAt.target } : {}) },
      strategy,
      ...(strategy === 'AdoptByReplicaSet'
        ? { replicaSetHandOver: { replicaSet: { name: 'sample-7d9f8c6b5', uid: 'rs-uid' }, deployment: 'sample', copyName: replicaSetCopyName('sample-7d9f8c6b5', input.migrationId) } }
        : {}),
      ...(strategy === 'DeleteThenCreate' && script.statefulSetPods?.includes(input.source.pod) ? { statefulSet: { statefulSet: { name: 'web', uid: 'sts-uid' }, revision: 'web-6c9b7d5f4' } } : {}),
      ...(strategy === 'CreateThenDelete' && script.statefulSetPods?.includes(input.source.pod)
        ? {
            statefulSetMove: {
              statefulSet: { name: 'web', uid: 'sts-uid' },
              revision: 'web-6c9b7d5f4',
              ordinal: 2,
              source: { before: { start: 0, replicas: 3 }, after: { start: 0, replicas: 2 } },
              target: script.targetStatefulSetExists
                ? { exists: true, before: { start: 3, replicas: 2 }, after: { start: 2, replicas: 3 } }
                : { exists: false, before: { start: 2, replicas: 0 }, after: { start: 2, replicas: 1 } },
            },
          }
        : {}),
      ...(strategy === 'CreateThenDelete' && script.deploymentPods?.includes(input.source.pod)
        ? {
            deploymentMove: {
              deployment: 'sample',
              source: { uid: 'deployment-uid', replicaSet: { name: 'sample-7d9f8c6b5', uid: 'rs-uid' }, replicas: 2 },
              target: { exists: script.targetDeploymentExists ?? false, replicas: script.targetDeploymentExists ? 1 : 0 },
              templateHash: '7d9f8c6b5',
            },
          }
        : {}),
      containers: CONTAINERS.map((name) => ({ name, image: '10.231.0.1:5000/podferry/sample:lab', containerId: `containerd://${name}-id`, imageId: '10.231.0.1:5000/podferry/sample@sha256:5e8b' })),
      sourcePod: plannedSourcePod(pod),
      config: referencedConfig(pod.spec!),
      prepullNodes: script.runsAt?.target ? (script.runsAt.target.node ? [script.runsAt.target.node] : []) : input.target.node ? [input.target.node] : [],
      targetNodeTaints: [],
      ...(script.registryPull ? { pullSecret: pullSecretName(input.migrationId) } : {}),
      warnings: [],
    };
  };

  const kubernetes: KubernetesActivities = {
    planMigration: (input) => step('planMigration', input, () => plan(input)),
    ensureTargetConfig: (input) => step('ensureTargetConfig', { migrationId: input.plan.migrationId }, () => ({ created: [{ kind: 'ConfigMap' as const, name: 'sample-config' }], missing: [] })),
    deleteCopiedConfig: (input) => step('deleteCopiedConfig', input, () => ({ deleted: [] })),
    ensurePullSecret: (input) => step('ensurePullSecret', input, () => ({ name: pullSecretName(input.migrationId) })),
    deletePullSecret: (input) => step('deletePullSecret', input, () => ({ deleted: true })),
    createTargetPod: (input) =>
      step('createTargetPod', { images: input.images, node: input.plan.target.node, pullSecret: input.plan.pullSecret }, () => ({
        cluster: input.plan.target.cluster,
        namespace: input.plan.target.namespace,
        name: targetPodName(input.plan),
        uid: 'target-uid',
        node: input.plan.target.node,
      })),
    waitPodReady: (input) =>
      step('waitPodReady', input, async () => {
        await new Promise((r) => setTimeout(r, 50));
        return { readyAt: Date.now(), uid: 'target-uid', node: 'lab-b-node' };
      }),
    deletePod: (input) => step(`deletePod:${input.cluster}${input.waitSeconds === 0 ? ':request' : ''}`, input, () => ({ deleted: true })),
    podLifecycle: (input) => step('podLifecycle', input, () => script.sourceLifecycle ?? 'gone'),
    setPodDeletionCost: (input) => step('setPodDeletionCost', input, () => ({ changed: true })),
    handOverToReplicaSet: (input) => step('handOverToReplicaSet', input, () => ({ handedOver: true })),
    awaitReplicaSetChoice: (input) => step('awaitReplicaSetChoice', input, () => ({ deleted: script.replicaSetDeletes ?? ('source' as const) })),
    takeBackFromReplicaSet: (input) => step('takeBackFromReplicaSet', input, () => ({ sourceDeleted: script.sourceDeletedOnTakeBack ?? false })),
    awaitPodOwner: (input) => step('awaitPodOwner', input, () => ({ ownedAt: Date.now() })),
    awaitPodDeletion: (input) => step('awaitPodDeletion', input, () => ({ deleted: (script.scaleDownDeletes ?? 'source') === 'source' })),
    releaseSourceLock: (input) => step('releaseSourceLock', input, () => ({ released: true })),
    findHeldMigration: (input) => step('findHeldMigration', input, () => script.held ?? { targets: [] }),
    // Kept apart from the calls: events are fire-and-forget, so where they fall among the steps is not fixed.
    recordPodEvent: async (input) => {
      recorder.podEvents.push(input);
    },
  };
  const podNameFence: PodNameFenceActivities = {
    raisePodNameFence: (input) => step('raisePodNameFence', input, () => ({ waitedMs: 5 })),
    liftPodNameFence: (input) => step('liftPodNameFence', input, () => ({ lifted: true })),
    raiseOwnerFence: (input) => step('raiseOwnerFence', input, () => ({ waitedMs: 5 })),
    liftOwnerFence: (input) => step('liftOwnerFence', input, () => ({ lifted: true })),
  };
  const deployments: DeploymentActivities = {
    prepareTargetDeployment: (input) =>
      step('prepareTargetDeployment', input, () => ({
        uid: 'target-deployment-uid',
        created: !script.targetDeploymentExists,
        replicas: script.targetDeploymentExists ? 1 : 0,
        replicaSet: { name: 'sample-7d9f8c6b5', uid: 'target-rs-uid' },
      })),
    deleteCreatedDeployment: (input) => step('deleteCreatedDeployment', input, () => ({ deleted: !script.targetDeploymentExists })),
    // Named by cluster: up at the target, down at the source.
    scaleDeployment: (input) => step(`scaleDeployment:${input.cluster}`, input, () => ({ replicas: 1, scaled: true })),
  };
  const statefulSets: StatefulSetActivities = {
    prepareTargetStatefulSet: (input) => step('prepareTargetStatefulSet', input, () => ({ uid: 'target-sts-uid', created: !script.targetStatefulSetExists })),
    deleteCreatedStatefulSet: (input) => step('deleteCreatedStatefulSet', input, () => ({ deleted: !script.targetStatefulSetExists })),
    // Named by cluster: the ordinal joins the target's range, leaves the source's.
    setStatefulSetOrdinals: (input) => step(`setStatefulSetOrdinals:${input.cluster}`, input, () => ({ changed: true })),
  };
  // The same step either way (through the kubelet API or the node's runtime): the tests watch the orchestration.
  const checkpoint = (input: { namespace: string; pod: string; container: string }) =>
    step(`checkpointContainer:${input.container}`, input, async () => {
      await new Promise((r) => setTimeout(r, script.checkpointMs ?? 5));
      return { container: input.container, archivePath: `/var/lib/kubelet/checkpoints/checkpoint-${input.pod}_${input.namespace}-${input.container}-x.tar`, durationMs: script.checkpointMs ?? 5 };
    });
  const kubelet: KubeletActivities = { checkpointContainer: checkpoint };
  const runtimeCheckpoint: RuntimeCheckpointActivities = { checkpointThroughRuntime: checkpoint };
  const registry: RegistryActivities = {
    pushCheckpointImage: (input) =>
      step(`pushCheckpointImage:${input.container}`, input, () => ({
        container: input.container,
        ref: `10.231.0.1:5000/podferry/checkpoints@sha256:${input.container.padEnd(64, '0')}`,
        tag: input.tag,
        manifestDigest: `sha256:${input.container.padEnd(64, '0')}`,
        layerDigest: `sha256:${input.container.padEnd(64, '1')}`,
        archiveBytes: 1000,
        bytesPushed: 1000,
        durationMs: 3,
      })),
    deleteImage: (input) => step(`deleteImage:${input.tag.split('-').pop()}`, input, () => ({ deleted: true })),
  };
  const digestOf = (container: string) => `sha256:${container.padEnd(64, '0')}`;
  const transfer: TransferActivities = {
    offerCheckpointImage: (input) =>
      step(`offerCheckpointImage:${input.container}`, input, () => ({
        container: input.container,
        url: `https://${script.node}:9470/checkpoints/${input.container}`,
        ref: `10.231.0.1:5000/podferry/checkpoints@${digestOf(input.container)}`,
        manifestDigest: digestOf(input.container),
        layerDigest: `sha256:${input.container.padEnd(64, '1')}`,
        archiveBytes: 1000,
      })),
    importCheckpointImage: (input) =>
      step(`importCheckpointImage:${input.container}`, input, () => ({ container: input.container, ref: input.ref, bytes: 1000, durationMs: 2 })),
    importLocalCheckpointImage: (input) =>
      step(`importLocalCheckpointImage:${input.container}`, input, () => ({ container: input.container, ref: input.ref, bytes: 1000, durationMs: 2 })),
    pullCheckpointImage: (input) => step(`pullCheckpointImage:${input.container}`, input, () => ({ container: input.container, ref: input.ref, durationMs: 2 })),
    removeCheckpointImages: (input) => step('removeCheckpointImages', input, () => ({ removed: input.refs })),
  };
  const runtimeDescription: RuntimeDescriptionActivities = {
    describeRuntime: () => {
      const runsAt = script.runsAt?.source;
      const side = Context.current().info.taskQueue === nodeTaskQueue(runsAt?.cluster ?? 'lab-a', runsAt?.node ?? script.node) ? 'source' : 'target';
      return step(`describeRuntime:${side}`, {}, () => ({
        node: side,
        runtime: 'containerd',
        version: '2.3.7',
        restore: { enabled: true, setting: 'enable_experimental_restore_via_create = true' },
        criu: { binary: 'criu', version: '4.2.1' },
        ...script.runtimes?.[side],
      }));
    },
  };
  const node: NodeActivities = {
    freezePod: (input) => step('freezePod', input, () => ({ frozenAt: Date.now(), cgroup: '/sys/fs/cgroup/freezer/x', version: 'v1' })),
    thawPod: (input) => step('thawPod', input, () => ({ thawed: true })),
    killFrozenPod: (input) => step('killFrozenPod', input, () => ({ killed: 3 })),
    pullImages: (input) => step('pullImages', input, () => ({ pulled: input.images })),
    deleteArchives: (input) => step('deleteArchives', input, () => ({ deleted: input.paths })),
  };
  return {
    /** What the orchestrator worker registers (main task queue). */
    orchestrator: { ...kubernetes, ...kubelet, ...podNameFence, ...deployments, ...statefulSets, deleteImage: registry.deleteImage },
    /** What the node worker registers (the node's task queue). */
    node: { ...node, ...runtimeCheckpoint, ...runtimeDescription, ...registry, ...transfer },
  };
}

async function blockUntilCancelled(): Promise<never> {
  const context = Context.current();
  const beat = setInterval(() => context.heartbeat(), 200);
  try {
    await context.cancelled; // rejects with CancelledFailure when the workflow cancels the activity
    throw new Error('unreachable');
  } finally {
    clearInterval(beat);
  }
}
