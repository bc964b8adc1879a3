// Activities that raise and lift the pod name fence (POD_NAME_FENCE, deploy/admission) through a cluster's API
// server: a key per fenced pod name in the namespace's fence ConfigMap, which the admission policy reads.
// Idempotent: raising a name this migration holds, or lifting one it does not, changes nothing.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { POD_NAME_FENCE } from '../api/names.js';
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

/** How long the admission policy may take to see a new key (measured: 3–8 ms; its informer may lag under load). */
const FENCE_ACTIVE_TIMEOUT_MS = 15_000;
/** Attempts at changing the ConfigMap when other migrations change it at the same time. */
const CONFLICT_RETRIES = 5;

export function createPodNameFenceActivities(deps: PodNameFenceDeps) {
  const { clusters } = deps;
  const pollIntervalMs = deps.pollIntervalMs ?? 100;

  /**
   * Fences the pod name for this migration, then proves the fence holds: a dry-run create of a pod of that name
   * without the migration's annotation must be refused by the policy. Fails (FenceNotActive) when the policy is
   * not installed or not bound, and (PodNameFenced) when another migration holds the name.
   */
  async function raisePodNameFence(input: PodNameFenceInput): Promise<{ waitedMs: number }> {
    await changeFence(input, (configMap) => {
      const holder = configMap?.data?.[input.pod];
      if (holder === input.migrationId) return undefined;
      if (holder !== undefined) {
        throw ApplicationFailure.nonRetryable(
          `pod name ${input.namespace}/${input.pod} in cluster ${input.cluster} is fenced by migration ${holder}: wait for it (podferry status ${holder}), then retry`,
          'PodNameFenced',
        );
      }
      return configMap?.data ? [{ op: 'add', path: `/data/${jsonPointerKey(input.pod)}`, value: input.migrationId }] : [{ op: 'add', path: '/data', value: { [input.pod]: input.migrationId } }];
    });
    const started = Date.now();
    let answer = '';
    while (Date.now() - started < FENCE_ACTIVE_TIMEOUT_MS) {
      answer = await probeFence(input);
      if (answer === 'refused') return { waitedMs: Date.now() - started };
      heartbeatIfActive();
      await sleep(pollIntervalMs);
    }
    throw ApplicationFailure.nonRetryable(
      `the pod name fence is not active in cluster ${input.cluster}: a pod named ${input.namespace}/${input.pod} without podferry's annotation was not refused ` +
        `(${answer}), so the StatefulSet could start a fresh pod of that name while the source is gone. Install the fence ` +
        `(kubectl apply -k deploy/admission: ValidatingAdmissionPolicy and binding ${POD_NAME_FENCE.policy}, Kubernetes 1.30 or later), then retry`,
      'FenceNotActive',
    );
  }

  /** Lifts the fence of the pod name if this migration holds it. */
  async function liftPodNameFence(input: PodNameFenceInput): Promise<{ lifted: boolean }> {
    const lifted = await changeFence(input, (configMap) =>
      configMap?.data?.[input.pod] === input.migrationId
        ? [
            { op: 'test', path: `/data/${jsonPointerKey(input.pod)}`, value: input.migrationId },
            { op: 'remove', path: `/data/${jsonPointerKey(input.pod)}` },
          ]
        : undefined,
    );
    return { lifted };
  }

  /**
   * Reads the namespace's fence ConfigMap (made when missing) and applies the JSON patch `change` returns for it,
   * on the resourceVersion read; undefined: nothing to change. Retries when another writer came first.
   */
  async function changeFence(input: PodNameFenceInput, change: (configMap: V1ConfigMap | undefined) => object[] | undefined): Promise<boolean> {
    const core = clusters.core(input.cluster);
    const ref = { name: POD_NAME_FENCE.configMap, namespace: input.namespace };
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
          await core.createNamespacedConfigMap({ namespace: input.namespace, body: { metadata: ref, data: {} } });
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

  /** 'refused' when the policy refuses a pod of the fenced name without podferry's annotation; otherwise what the API server answered. */
  async function probeFence(input: PodNameFenceInput): Promise<string> {
    try {
      await clusters.core(input.cluster).createNamespacedPod({
        namespace: input.namespace,
        dryRun: 'All',
        body: {
          metadata: { name: input.pod, namespace: input.namespace },
          spec: { containers: [{ name: 'fence-probe', image: 'podferry.invalid/fence-probe' }] },
        },
      });
      return 'a dry-run create was accepted';
    } catch (err) {
      const status = apiStatus(err);
      const message = apiMessage(err);
      if (status === 403 && message.includes(POD_NAME_FENCE.policy)) return 'refused';
      if (status === 409) return 'a dry-run create failed only because the pod exists';
      if (status === 403) throw ApplicationFailure.nonRetryable(`probing the pod name fence in cluster ${input.cluster} was refused: ${message}`, 'Forbidden');
      throw err;
    }
  }

  return { raisePodNameFence, liftPodNameFence };
}

export type PodNameFenceActivities = ReturnType<typeof createPodNameFenceActivities>;
