// Recording stand-in activities for the drain and rebalance workflows: the same factory shape and signatures
// as src/activities/operations.ts (TypeScript checks them against the real types), backed by an in-memory
// "cluster state" (nodes, the pods on them, candidate pods with annotations) that the test sets up and
// inspects. Every call is recorded. The migratePod children run with the recording stand-ins of
// recording-activities.ts; markMigrated also moves the candidate pod to its new cluster here, as a real
// migration would have.
import { ApplicationFailure } from '@temporalio/activity';
import { LAST_MIGRATED_AT_ANNOTATION } from '../../src/api/drain.js';
import type { OperationsActivities } from '../../src/activities/operations.js';
import type { PodSummary } from '../../src/planning/pod-summary.js';
import type { ClusterCapacity } from '../../src/planning/rebalance.js';
import type { Recorder } from './recording-activities.js';

export interface StandInClusterState {
  /** `cluster/node` → unschedulable. A node absent here does not exist. */
  nodes: Map<string, boolean>;
  /** Pods per `cluster/node`. */
  nodePods: Map<string, PodSummary[]>;
  /** Pods a policy may select (all clusters). */
  candidates: PodSummary[];
  /** Policy documents per ConfigMap `cluster/namespace/name#key`. */
  configMaps: Map<string, unknown>;
  /** Free resources per cluster; a cluster absent here has one roomy node. */
  capacity: ClusterCapacity;
  /** Labels (`k=v`) per pod name: a label selector here is one `k=v` that must be among them. */
  labels: Map<string, string[]>;
}

export function emptyClusterState(): StandInClusterState {
  return { nodes: new Map(), nodePods: new Map(), candidates: [], configMaps: new Map(), labels: new Map(), capacity: {} };
}

export function createRecordingOperationsActivities(recorder: Recorder, state: StandInClusterState): OperationsActivities {
  const step = <T>(call: string, input: unknown, result: () => T | Promise<T>): Promise<T> => recorder.step(call, input, result);
  const node = (input: { cluster: string; node: string }) => {
    const key = `${input.cluster}/${input.node}`;
    if (!state.nodes.has(key)) throw ApplicationFailure.nonRetryable(`node ${input.node} does not exist in cluster ${input.cluster}`, 'UnknownNode');
    return key;
  };
  const setUnschedulable = (input: { cluster: string; node: string }, value: boolean) => {
    const key = node(input);
    const wasUnschedulable = state.nodes.get(key)!;
    state.nodes.set(key, value);
    return { wasUnschedulable };
  };
  return {
    cordonNode: (input) => step('cordonNode', input, () => setUnschedulable(input, true)),
    uncordonNode: (input) => step('uncordonNode', input, () => setUnschedulable(input, false)),
    listNodePods: (input) =>
      step('listNodePods', input, () =>
        (state.nodePods.get(node(input)) ?? []).filter((p) => !input.labelSelector || (state.labels.get(p.name) ?? []).includes(input.labelSelector)),
      ),
    listCandidatePods: (input) =>
      step('listCandidatePods', input, () =>
        state.candidates
          .filter((p) => input.clusters.includes(p.cluster))
          .map((p) => ({ ...p, annotations: Object.fromEntries(Object.entries(p.annotations).filter(([k]) => input.annotationKeys.includes(k))) })),
      ),
    clusterCapacity: (input) =>
      step('clusterCapacity', input, () =>
        Object.fromEntries(input.clusters.map((c) => [c, state.capacity[c] ?? [{ node: `${c}-node`, freeCpuMilli: 64_000, freeMemoryBytes: 2 ** 40 }]])),
      ),
    readPolicyConfigMap: (input) =>
      step('readPolicyConfigMap', input, () => {
        const key = `${input.cluster}/${input.namespace}/${input.name}#${input.key}`;
        if (!state.configMaps.has(key)) throw ApplicationFailure.nonRetryable(`ConfigMap ${key} does not exist`, 'InvalidPolicy');
        return state.configMaps.get(key);
      }),
    markMigrated: (input) =>
      step('markMigrated', input, () => {
        const pod = state.candidates.find((p) => p.namespace === input.namespace && p.name === input.name);
        if (pod) {
          pod.cluster = input.cluster;
          pod.annotations[LAST_MIGRATED_AT_ANNOTATION] = input.at;
        }
        return { marked: true };
      }),
  };
}
