// Activities that raise and lift podferry's fences (deploy/admission) through a cluster's API server: a key in the
// namespace's fence ConfigMap, which the admission policy reads. The pod name fence (a key per fenced pod name)
// keeps a StatefulSet from starting a fresh pod of a name while its pod moves; the owner fence (a key per fenced
// owner uid) keeps a ReplicaSet from creating pods while a moved pod is handed to it. Each is proven to hold by a
// dry-run create the policy must refuse. Idempotent: raising a key this migration holds, or lifting one it does
// not, changes nothing.
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ownerFenceKey, POD_NAME_FENCE } from '../api/names.js';
import { apiMessage, apiStatus, jsonPointerKey, type Clusters } from '../kubernetes/clusters.js';
import { heartbeatIfActive, sleep } from './context.js';

export interface PodNameFenceDeps {
  clusters: Clusters;
  /** Poll interval while waiting for the policy to take the fence into account (ms); tests shorten it. */
  pollIntervalMs?: number;
}

/** One fenced pod name: only the pod carrying this migration id may be created under it. */
export interface PodNameFenceInput {
  cluster: string;
  namespace: string;
  pod: string;
  migrationId: string;
}

/** One fenced owner (a ReplicaSet): pods it controls cannot be created; a pod without an owner can. */
export interface OwnerFenceInput {
  cluster: string;
  namespace: string;
  owner: { kind: string; name: string; uid: string };
  migrationId: string;
}

/** One key of a namespace's fence ConfigMap, what it fences (for messages), and the pod whose dry-run create it must refuse. */
interface Fence {
  cluster: string;
  namespace: string;
  key: string;
  migrationId: string;
  /** e.g. "pod name default/web-0", "pods of ReplicaSet default/web-7d9f". */
  fenced: string;
  /** The type of the failure when another migration holds the key. */
  heldType: string;
  probe: V1Pod;
  /** What could happen without the fence. */
  risk: string;
}

/** The name the owner fence's dry-run probe pod has (a dry run creates nothing). */
const OWNER_FENCE_PROBE = 'podferry-owner-fence-probe';

/** How long the admission policy may take to see a new key (measured: 3–8 ms; its informer may lag under load). */
const FENCE_ACTIVE_TIMEOUT_MS = 15_000;
/** Attempts at changing the ConfigMap when other migrations change it at the same time. */
const CONFLICT_RETRIES = 5;

export function createPodNameFenceActivities(deps: PodNameFenceDeps) {
  const { clusters } = deps;
  const pollIntervalMs = deps.pollIntervalMs ?? 100;

  /**
   * Raises the fence for this migration, then proves it holds: the dry-run create of its probe must be refused by
   * the policy. Fails (FenceNotActive) when the policy is not installed or not bound, and (fence.heldType) when
   * another migration holds the key.
   */
  async function raise(fence: Fence): Promise<{ waitedMs: number }> {
    const where = `${fence.fenced} in cluster ${fence.cluster}`;
    await changeFence(fence, (configMap) => {
      const holder = configMap?.data?.[fence.key];
      if (holder === fence.migrationId) return undefined;
      if (holder !== undefined) {
        throw ApplicationFailure.nonRetryable(`${where} is fenced by migration ${holder}: wait for it (podferry status ${holder}), then retry`, fence.heldType);
      }
      return configMap?.data ? [{ op: 'add', path: `/data/${jsonPointerKey(fence.key)}`, value: fence.migrationId }] : [{ op: 'add', path: '/data', value: { [fence.key]: fence.migrationId } }];
    });
    const started = Date.now();
    let answer = '';
    while (Date.now() - started < FENCE_ACTIVE_TIMEOUT_MS) {
      answer = await probeFence(fence);
      if (answer === 'refused') return { waitedMs: Date.now() - started };
      heartbeatIfActive();
      await sleep(pollIntervalMs);
    }
    throw ApplicationFailure.nonRetryable(
      `the fence of ${where} is not active: a dry-run create of pod ${fence.namespace}/${fence.probe.metadata?.name} was not refused (${answer}), so ${fence.risk}. Install the fence ` +
        `(kubectl apply -k deploy/admission: ValidatingAdmissionPolicy and binding ${POD_NAME_FENCE.policy}, Kubernetes 1.30 or later), then retry`,
      'FenceNotActive',
    );
  }

  /** Lifts the fence if this migration holds it. */
  async function lift(fence: Fence): Promise<{ lifted: boolean }> {
    const path = `/data/${jsonPointerKey(fence.key)}`;
    const lifted = await changeFence(fence, (configMap) =>
      configMap?.data?.[fence.key] === fence.migrationId
        ? [
            { op: 'test', path, value: fence.migrationId },
            { op: 'remove', path },
          ]
        : undefined,
    );
    return { lifted };
  }

  /**
   * Reads the namespace's fence ConfigMap (made when missing) and applies the JSON patch `change` returns for it,
   * on the resourceVersion read; undefined: nothing to change. Retries when another writer came first.
   */
  async function changeFence(fence: Fence, change: (configMap: V1ConfigMap | undefined) => object[] | undefined): Promise<boolean> {
    const core = clusters.core(fence.cluster);
    const ref = { name: POD_NAME_FENCE.configMap, namespace: fence.namespace };
    for (let attempt = 1; ; attempt++) {
      let configMap: V1ConfigMap | undefined;
      try {
        configMap = await core.readNamespacedConfigMap(ref);
      } catch (err) {
        if (apiStatus(err) !== 404) throw err;
      }
      const patch = change(configMap);
      if (!patch) return false;
      try {
        if (!configMap) {
          await core.createNamespacedConfigMap({ namespace: fence.namespace, body: { metadata: ref, data: {} } });
          continue;
        }
        await core.patchNamespacedConfigMap({ ...ref, body: [{ op: 'test', path: '/metadata/resourceVersion', value: configMap.metadata?.resourceVersion }, ...patch] });
        return true;
      } catch (err) {
        const status = apiStatus(err);
        // 409: made by another migration meanwhile; 422: a test failed (changed meanwhile).
        if ((status !== 409 && status !== 422) || attempt >= CONFLICT_RETRIES) throw err;
      }
    }
  }

  /** 'refused' when the policy refuses the fence's probe pod; otherwise what the API server answered. */
  async function probeFence(fence: Fence): Promise<string> {
    try {
      await clusters.core(fence.cluster).createNamespacedPod({ namespace: fence.namespace, dryRun: 'All', body: fence.probe });
      return 'a dry-run create was accepted';
    } catch (err) {
      const status = apiStatus(err);
      const message = apiMessage(err);
      if (status === 403 && message.includes(POD_NAME_FENCE.policy)) return 'refused';
      if (status === 409) return 'a dry-run create failed only because the pod exists';
      if (status === 403) throw ApplicationFailure.nonRetryable(`probing the fence of ${fence.fenced} in cluster ${fence.cluster} was refused: ${message}`, 'Forbidden');
      throw err;
    }
  }

  return {
    raisePodNameFence: (input: PodNameFenceInput) => raise(podNameFence(input)),
    liftPodNameFence: (input: PodNameFenceInput) => lift(podNameFence(input)),
    raiseOwnerFence: (input: OwnerFenceInput) => raise(ownerFence(input)),
    liftOwnerFence: (input: OwnerFenceInput) => lift(ownerFence(input)),
  };
}

/** The pod name fence: its key is the name; a pod of that name without the migration's annotation is refused. */
function podNameFence(input: PodNameFenceInput): Fence {
  return {
    cluster: input.cluster,
    namespace: input.namespace,
    migrationId: input.migrationId,
    key: input.pod,
    fenced: `pod name ${input.namespace}/${input.pod}`,
    heldType: 'PodNameFenced',
    probe: probePod(input.pod, input.namespace),
    risk: 'the StatefulSet could start a fresh pod of that name while the source is gone',
  };
}

/** The owner fence: its key names the owner's uid; a pod that owner controls is refused. */
function ownerFence(input: OwnerFenceInput): Fence {
  const { owner } = input;
  const probe = probePod(OWNER_FENCE_PROBE, input.namespace);
  probe.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: owner.kind, name: owner.name, uid: owner.uid, controller: true }];
  return {
    cluster: input.cluster,
    namespace: input.namespace,
    migrationId: input.migrationId,
    key: ownerFenceKey(owner.uid),
    fenced: `pods of ${owner.kind} ${input.namespace}/${owner.name}`,
    heldType: 'OwnerFenced',
    probe,
    risk: `the ${owner.kind} could create a fresh pod once it is scaled up for the moved one`,
  };
}

/** A pod the fence's dry-run create tries (a dry run creates nothing). */
function probePod(name: string, namespace: string): V1Pod {
  return { metadata: { name, namespace }, spec: { containers: [{ name: 'fence-probe', image: 'podferry.invalid/fence-probe' }] } };
}

export type PodNameFenceActivities = ReturnType<typeof createPodNameFenceActivities>;
