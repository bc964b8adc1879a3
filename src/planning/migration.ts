// The plan of one pod's migration, decided from what planMigration read: whether it can migrate (every
// refusal says why and what to do), in which order (strategy), where to pre-pull the base images, and
// what to warn about. Pure: unit-tested, and shared with the workflow tests' stand-in activities.
import type { V1Node, V1Pod, V1StatefulSet, V1Taint, V1Toleration } from '@kubernetes/client-node';
import type { MigrationStrategy } from '../api/migration.js';
import type { MigrationPlan, OffloadedTo, PlanMigrationInput, PlannedSourcePod } from '../api/migration-plan.js';
import { ANNOTATIONS, POD_DELETION_COST, pullSecretName } from '../api/names.js';
import { refusalsFor, warningsFor, type Refusal } from '../kubernetes/eligibility.js';
import {
  isReflectionOf,
  LIQO_VIRTUAL_NODE_TAINT,
  reflectionRefusals,
  remoteNamespace,
  virtualNodeClusterId,
  type NamespaceOffloadingFacts,
  type NotReflected,
} from '../kubernetes/liqo.js';
import { referencedConfig, tolerates } from '../kubernetes/target-pod.js';
import { deploymentMoveRefusals, deploymentMoveWarnings, plannedDeploymentMove, type DeploymentMoveFacts } from './deployment-move.js';
import { controllingReplicaSet, handOverRefusals, plannedHandOver, type ReplicaSetOwners } from './replicaset-handover.js';
import { postCopyRefusal } from './postcopy.js';
import { nodeRuntime, restoreRefusal, sourceRuntime } from './restore-support.js';
import { plannedStatefulSetMove, statefulSetMoveWarnings, type StatefulSetMoveFacts } from './statefulset-move.js';
import { controllingStatefulSet, plannedStatefulSetRecreate, statefulSetRefusals } from './statefulset-recreate.js';

/** What planMigration reads from the clusters; undefined stands for "not found". */
export interface MigrationFacts {
  request: PlanMigrationInput;
  sourcePod: V1Pod | undefined;
  /** The source pod's node is cordoned (spec.unschedulable) in the source cluster. */
  sourceNodeUnschedulable: boolean;
  targetNamespaceExists: boolean;
  /** The node the request names, as the target cluster has it (undefined when none is named). */
  targetNode: V1Node | undefined;
  /** The pod of the target pod's name (targetPodName) in the target namespace. */
  podAtTarget: V1Pod | undefined;
  /** The source's ReplicaSet and Deployment, read when a ReplicaSet controls the source. */
  owners?: ReplicaSetOwners;
  /** The target's Deployment and both sides' autoscalers, read when a Deployment's pod leaves its cluster or namespace. */
  deploymentMoveFacts?: DeploymentMoveFacts;
  /** Read when a StatefulSet controls the source; undefined: not found (or not read). */
  statefulSet?: V1StatefulSet;
  /** The target's StatefulSet and Service and both sides' autoscalers, read when a StatefulSet's pod leaves its cluster or namespace. */
  statefulSetMoveFacts?: StatefulSetMoveFacts;
  /** The target cluster's nodes, when the request names none (the scheduler chooses among them). */
  targetClusterNodes: V1Node[];
  /** Namespaces the configuration protects (protectedNamespaces). */
  protectedNamespaces: string[];
  /** The registry has a pull identity (registry.pull): target pods pull with a Secret of this migration. */
  registryPullIdentity: boolean;
  /** Read when the target node is a Liqo virtual node. */
  offloadedTarget?: OffloadedTargetFacts;
  /** Read when the source pod is on a Liqo virtual node. */
  offloadedSource?: OffloadedSourceFacts;
}

/** What Liqo's objects say about a virtual node's provider and the namespace's offloading to it. */
interface OffloadingFacts {
  /** The podferry cluster that provides the virtual node (providerCluster) and the Liqo ids of both sides. */
  provider: string;
  providerId: string;
  consumerId: string;
  namespace: NamespaceOffloadingFacts;
}

export interface OffloadedTargetFacts extends OffloadingFacts {
  /** The virtual node's offloadingPatch: what Liqo leaves out of the remote pod. */
  notReflected: NotReflected;
  /** The provider's nodes: its scheduler places the remote pod. */
  providerNodes: V1Node[];
  /** The pod of the source's name in the namespace the target namespace maps to at the provider. */
  podAtProvider: V1Pod | undefined;
}

export interface OffloadedSourceFacts extends OffloadingFacts {
  /** The pod of the source's name in the namespace the source namespace maps to at the provider. */
  remotePod: V1Pod | undefined;
}

export type MigrationDecision = { plan: MigrationPlan } | { refused: Refusal[] };

/** Above this many candidate nodes, pre-pulling everywhere costs more than it saves. */
export const MAX_PREPULL_NODES = 3;

/**
 * Within the source's own cluster and namespace the target needs the source's name, so the source goes
 * first; a ReplicaSet's pod instead hands over to a copy of another name, which its ReplicaSet adopts.
 */
export function migrationStrategy(request: Pick<PlanMigrationInput, 'source' | 'target'>, ownedByReplicaSet = false): MigrationStrategy {
  const { source, target } = request;
  if (source.cluster !== target.cluster || source.namespace !== target.namespace) return 'CreateThenDelete';
  return ownedByReplicaSet ? 'AdoptByReplicaSet' : 'DeleteThenCreate';
}

/** The name the moved pod has: the source's, or the copy's own for a ReplicaSet's pod. */
export function targetPodName(plan: Pick<MigrationPlan, 'source' | 'replicaSetHandOver'>): string {
  return plan.replicaSetHandOver?.copyName ?? plan.source.pod;
}

/**
 * Refusals decided by the source pod and the request alone. planMigration checks them before reading
 * the target cluster, which a refused pod does not need.
 */
export function sourceRefusals(request: PlanMigrationInput, pod: V1Pod | undefined): Refusal[] {
  const { source, target } = request;
  const ref = `pod ${source.namespace}/${source.pod} in cluster ${source.cluster}`;
  if (!pod) return [{ type: 'PodNotFound', message: `${ref} does not exist: check the name with kubectl get pods -n ${source.namespace}` }];
  const ineligible = refusalsFor(pod);
  if (ineligible.length > 0) return ineligible;
  const node = pod.spec?.nodeName;
  if (!node) {
    return [{ type: 'PodNotScheduled', message: `${ref} is not bound to a node yet: wait until it is scheduled (kubectl get pod -n ${source.namespace} ${source.pod} -o wide), then retry` }];
  }
  if (migrationStrategy(request) !== 'CreateThenDelete' && target.node === node) {
    return [{ type: 'AlreadyOnTargetNode', message: `${ref} already runs on node ${node}: pass another target node (or cluster)` }];
  }
  return [];
}

export function decideMigration(facts: MigrationFacts): MigrationDecision {
  const { request, sourcePod: pod, targetNode } = facts;
  const { source, target } = request;
  const atSource = sourceRefusals(request, pod);
  if (atSource.length > 0 || !pod) return { refused: atSource };
  const node = pod.spec!.nodeName!;

  const protectedOne = [source.namespace, target.namespace].find((ns) => facts.protectedNamespaces.includes(ns));
  if (protectedOne) {
    return refused(
      'ProtectedNamespace',
      `namespace ${protectedOne} is protected (protectedNamespaces in the orchestrator's configuration: ${facts.protectedNamespaces.join(', ')}): podferry moves no pod out of or into it`,
    );
  }
  if (!facts.targetNamespaceExists) {
    return refused(
      'TargetNamespaceMissing',
      `namespace ${target.namespace} does not exist in cluster ${target.cluster}: create it (kubectl create namespace ${target.namespace}) or pass another target namespace`,
    );
  }
  if (target.node && !targetNode) {
    return refused(
      'UnknownTargetNode',
      `node ${target.node} does not exist in cluster ${target.cluster}: list nodes with kubectl get nodes, or omit the node to let the scheduler choose`,
    );
  }
  const config = referencedConfig(pod.spec!);
  if (target.namespace !== source.namespace && config.secrets.length > 0 && !request.allowSecretsToOtherNamespace) {
    return refused(
      'SecretsToOtherNamespace',
      `the pod references Secrets (${config.secrets.join(', ')}) that would be copied from namespace ${source.namespace} into ${target.namespace}: ` +
        'migrate into the same namespace, or pass options.allowSecretsToOtherNamespace (--allow-secrets-to-other-namespace) if that copy is intended',
    );
  }
  const blocking = targetNode && !request.allowUnschedulableTargetNode ? unschedulableBecause(targetNode, pod.spec?.tolerations ?? []) : undefined;
  if (blocking) {
    return refused(
      'TargetNodeUnschedulable',
      `node ${target.node} in cluster ${target.cluster} ${blocking}: choose another node, omit the node to let the scheduler choose, ` +
        'or pass options.allowUnschedulableTargetNode (--allow-unschedulable-node) to place the pod there anyway',
    );
  }
  const runsAt = facts.offloadedSource ? offloadedSourceRunsAt(request, pod, facts.offloadedSource) : undefined;
  if (runsAt && 'refused' in runsAt) return { refused: [runsAt.refused] };
  const runningPod = runsAt?.remotePod ?? pod;
  const targetVirtual = virtualNodeClusterId(targetNode) !== undefined;
  const offloaded = targetVirtual ? offloadedTargetRunsAt(request, pod, facts.offloadedTarget) : undefined;
  if (offloaded && 'refused' in offloaded) return { refused: offloaded.refused };
  // The node that restores: the named one, or for a virtual node the provider's, when only one can take the pod.
  const restoringNode = offloaded ? offloaded.providerNode : targetNode;
  const runtime = sourceRuntime((runningPod.status?.containerStatuses ?? []).map((s) => s.containerID ?? ''));
  if (runtime === 'cri-o' && request.checkpointVia === 'kubelet') {
    return refused(
      'CheckpointViaKubeletUnsupported',
      `${ref(request)} runs on CRI-O, whose checkpoint (where the kubelet's checkpoint API ends) refuses a paused container and resumes it afterwards, ` +
        'so the pod would run on after its checkpoint: use options.checkpointVia: runtime (the default; the node worker checkpoints it with runc)',
    );
  }
  const candidates = offloaded ? offloaded.candidates : target.node ? [] : schedulableNodes(facts.targetClusterNodes);
  const cannotRestore = restoreRefusal(runtime, restoringNode, candidates);
  if (cannotRestore) return { refused: [cannotRestore] };
  const crioTarget = restoringNode && nodeRuntime(restoringNode)?.name === 'cri-o';
  if (crioTarget && request.transfer === 'direct') {
    return refused(
      'DirectTransferUnsupported',
      `node ${restoringNode.metadata?.name} in cluster ${offloaded?.runsAt.cluster ?? target.cluster} runs CRI-O, which can only pull checkpoint images from a registry (it has no image import): ` +
        'use options.transfer: registry (the default)',
    );
  }
  const ownedByReplicaSet = controllingReplicaSet(pod) !== undefined;
  const strategy = migrationStrategy(request, ownedByReplicaSet);
  const owners = facts.owners ?? { replicaSet: undefined, deployment: undefined };
  if (strategy === 'AdoptByReplicaSet') {
    const cannotHandOver = handOverRefusals(pod, owners, ref(request));
    if (cannotHandOver.length > 0) return { refused: cannotHandOver };
  }
  const replicaSetHandOver = strategy === 'AdoptByReplicaSet' ? plannedHandOver(pod, owners, request.migrationId) : undefined;
  // A ReplicaSet's pod leaving its cluster or namespace goes from its Deployment to the target's.
  const movesDeployment = strategy === 'CreateThenDelete' && ownedByReplicaSet;
  if (movesDeployment) {
    const cannotMove = deploymentMoveRefusals(pod, owners, facts.deploymentMoveFacts, request);
    if (cannotMove.length > 0) return { refused: cannotMove };
  }
  const deploymentMove = movesDeployment ? plannedDeploymentMove(pod, owners, facts.deploymentMoveFacts!) : undefined;
  const ownedByStatefulSet = controllingStatefulSet(pod) !== undefined;
  if (ownedByStatefulSet) {
    const cannotRecreate = statefulSetRefusals(pod, facts.statefulSet, ref(request));
    if (cannotRecreate.length > 0) return { refused: cannotRecreate };
  }
  // A StatefulSet's pod leaving its cluster or namespace goes from its StatefulSet to the target's.
  const movesStatefulSet = ownedByStatefulSet && strategy === 'CreateThenDelete';
  const statefulSetMoved = movesStatefulSet ? plannedStatefulSetMove(pod, facts.statefulSet!, facts.statefulSetMoveFacts, request) : undefined;
  if (statefulSetMoved && 'refused' in statefulSetMoved) return { refused: statefulSetMoved.refused };
  const statefulSetMove = statefulSetMoved?.move;
  const statefulSet = ownedByStatefulSet && !movesStatefulSet ? plannedStatefulSetRecreate(pod, facts.statefulSet!) : undefined;
  const notPostCopy = postCopyRefusal(request, { strategy, runtime, owned: ownedByReplicaSet || ownedByStatefulSet, offloaded: runsAt !== undefined || offloaded !== undefined });
  if (notPostCopy) return { refused: [notPostCopy] };
  // The target pod keeps the source's name (a ReplicaSet's copy has its own); a pod of that name we did not
  // create (other than the source itself, which DeleteThenCreate removes first) is in the way.
  const inTheWay = facts.podAtTarget;
  if (inTheWay && inTheWay.metadata?.uid !== pod.metadata?.uid && inTheWay.metadata?.annotations?.[ANNOTATIONS.migrationId] !== request.migrationId) {
    return refused(
      'TargetPodExists',
      `a pod named ${inTheWay.metadata?.name} already exists in ${target.cluster}/${target.namespace} and was not created by this migration: delete it or migrate into another namespace`,
    );
  }

  const warnings = warningsFor(pod, request.maxFrozenSeconds);
  if (strategy === 'DeleteThenCreate') {
    warnings.push(
      `the target is in the source's own namespace of cluster ${source.cluster}, so the frozen source pod is deleted before the target is created ` +
        `(the name must be free); if the move fails after that, the pod is restored on ${node} from its checkpoint images`,
    );
  }
  if (statefulSet) {
    warnings.push(
      `the pod belongs to StatefulSet ${statefulSet.statefulSet.name}: its name is fenced until the move ends, so the StatefulSet cannot start a fresh pod of it; ` +
        'the restored pod keeps the name and is adopted by the StatefulSet',
    );
  }
  if (replicaSetHandOver) {
    warnings.push(
      `the pod belongs to ReplicaSet ${replicaSetHandOver.replicaSet.name}: it moves as a copy named ${replicaSetHandOver.copyName}, which the ReplicaSet adopts once it is Ready ` +
        `(it then deletes the frozen source, which has the lowest ${POD_DELETION_COST} until then)`,
    );
  }
  if (deploymentMove) warnings.push(...deploymentMoveWarnings(deploymentMove, request));
  if (statefulSetMove) warnings.push(...statefulSetMoveWarnings(statefulSetMove, facts.statefulSet!, facts.statefulSetMoveFacts!, request));
  if (strategy !== 'CreateThenDelete' && !target.node && !facts.sourceNodeUnschedulable) {
    warnings.push(`no target node given and ${node} is schedulable: the scheduler may place the pod on ${node} again (cordon it, or pass a target node)`);
  }
  const statusOf = (name: string) => runningPod.status?.containerStatuses?.find((s) => s.name === name);
  return {
    plan: {
      migrationId: request.migrationId,
      source: { ...source, uid: pod.metadata!.uid!, node, ...(runsAt ? { runsAt: runsAt.runsAt } : {}) },
      target: offloaded ? { ...target, runsAt: offloaded.runsAt } : target,
      strategy,
      ...(replicaSetHandOver ? { replicaSetHandOver } : {}),
      ...(statefulSet ? { statefulSet } : {}),
      ...(deploymentMove ? { deploymentMove } : {}),
      ...(statefulSetMove ? { statefulSetMove } : {}),
      containers: pod.spec!.containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        containerId: statusOf(c.name)?.containerID ?? '',
        imageId: statusOf(c.name)?.imageID ?? '',
      })),
      sourcePod: plannedSourcePod(pod),
      config,
      prepullNodes: offloaded ? prepullNodes(offloaded.runsAt.node, offloaded.providerNode, offloaded.candidates) : prepullNodes(target.node, targetNode, facts.targetClusterNodes),
      targetNodeTaints: plainCopy(targetNode?.spec?.taints ?? []) as V1Taint[],
      ...(facts.registryPullIdentity ? { pullSecret: pullSecretName(request.migrationId) } : {}),
      warnings,
    },
  };
}

/**
 * Why the scheduler would keep this pod off the node (podferry binds it directly, bypassing the scheduler):
 * cordoned, or a NoSchedule/NoExecute taint the pod does not tolerate. A Liqo virtual node's own taint is
 * what podferry tolerates on purpose when it offloads a pod (see tolerationsFor).
 */
function unschedulableBecause(node: V1Node, tolerations: V1Toleration[]): string | undefined {
  if (node.spec?.unschedulable) return 'is cordoned';
  const virtualNode = virtualNodeClusterId(node) !== undefined;
  const untolerated = (node.spec?.taints ?? []).filter(
    (taint) => taint.effect !== 'PreferNoSchedule' && !tolerates(tolerations, taint) && !(virtualNode && taint.key === LIQO_VIRTUAL_NODE_TAINT),
  );
  return untolerated.length > 0 ? `has taints the pod does not tolerate (${untolerated.map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ')})` : undefined;
}

/** What of the source pod the later steps need (see PlannedSourcePod), as plain JSON. */
export function plannedSourcePod(pod: V1Pod): PlannedSourcePod {
  const { name, namespace, uid, labels, annotations } = pod.metadata ?? {};
  return plainCopy({
    metadata: { name: name ?? '', namespace: namespace ?? '', uid: uid ?? '', labels, annotations },
    spec: pod.spec ?? { containers: [] },
  }) as PlannedSourcePod;
}

function prepullNodes(named: string | undefined, targetNode: V1Node | undefined, clusterNodes: V1Node[]): string[] {
  // A Liqo virtual node has no node worker of ours: the provider's kubelet pulls the images (see offloadedTargetRunsAt).
  if (named) return virtualNodeClusterId(targetNode) !== undefined ? [] : [named];
  const candidates = schedulableNodes(clusterNodes);
  return candidates.length <= MAX_PREPULL_NODES ? candidates.map((n) => n.metadata!.name!) : [];
}

/**
 * The source is on a Liqo virtual node: its containers run in the pod Liqo made from it in the provider, in the
 * namespace the source's namespace maps to there. That pod must be Liqo's reflection of this one, running on a node.
 */
function offloadedSourceRunsAt(
  request: PlanMigrationInput,
  pod: V1Pod,
  facts: OffloadedSourceFacts,
): { runsAt: NonNullable<MigrationPlan['source']['runsAt']>; remotePod: V1Pod } | { refused: Refusal } {
  const { source } = request;
  const mapped = remoteNamespace(source.namespace, source.cluster, facts.provider, facts.namespace);
  if ('refused' in mapped) return mapped;
  const remote = facts.remotePod;
  const where = `pod ${mapped.namespace}/${source.pod} in cluster ${facts.provider}`;
  const ref = `pod ${source.namespace}/${source.pod} in cluster ${source.cluster}, on Liqo virtual node ${pod.spec?.nodeName}`;
  if (!remote || !isReflectionOf(remote, facts.consumerId, facts.providerId)) {
    return {
      refused: {
        type: 'OffloadedPodNotFound',
        message: `${ref}, runs as ${where}, which ${remote ? 'is not Liqo\'s reflection of it (labels offloading.liqo.io/origin and destination)' : 'does not exist'}: wait until Liqo has reflected it, then retry`,
      },
    };
  }
  const notRunning = remote.spec?.nodeName && remote.status?.phase === 'Running' ? refusalsFor(remote).find((r) => r.type === 'ContainerNotRunning') : undefined;
  if (!remote.spec?.nodeName || remote.status?.phase !== 'Running' || notRunning) {
    return {
      refused: {
        type: 'PodNotRunning',
        message: `${ref}, runs as ${where}, which is ${notRunning ? 'not running every container' : (remote.status?.phase ?? 'Unknown')}: only a running pod has state to migrate; wait until it runs, then retry`,
      },
    };
  }
  return { runsAt: { cluster: facts.provider, namespace: mapped.namespace, uid: remote.metadata!.uid!, node: remote.spec.nodeName }, remotePod: remote };
}

/**
 * The target node is a Liqo virtual node: the provider runs the pod, in the namespace the target namespace
 * maps to there, on the node its scheduler chooses (known when only one can take the pod). Refused: a
 * namespace not offloaded to that provider, what Liqo would not reflect faithfully, a pod of the name there.
 */
function offloadedTargetRunsAt(
  request: PlanMigrationInput,
  pod: V1Pod,
  facts: OffloadedTargetFacts | undefined,
): { runsAt: OffloadedTo; providerNode: V1Node | undefined; candidates: V1Node[] } | { refused: Refusal[] } {
  const { source, target } = request;
  if (!facts) throw new Error(`node ${target.node} is a Liqo virtual node, but its provider's facts were not read`);
  const mapped = remoteNamespace(target.namespace, target.cluster, facts.provider, facts.namespace);
  if ('refused' in mapped) return { refused: [mapped.refused] };
  const unfaithful = reflectionRefusals(pod, facts.notReflected, mapped.namespace, [ANNOTATIONS.migrationId, ANNOTATIONS.sourceUid]);
  if (unfaithful.length > 0) return { refused: unfaithful };
  const inTheWay = facts.podAtProvider;
  if (inTheWay && inTheWay.metadata?.annotations?.[ANNOTATIONS.migrationId] !== request.migrationId) {
    return {
      refused: [
        {
          type: 'TargetPodExists',
          message:
            `a pod named ${source.pod} already exists in ${facts.provider}/${mapped.namespace}, where Liqo would run the pod, and was not created by this migration: ` +
            'delete it or migrate into another namespace',
        },
      ],
    };
  }
  const candidates = schedulableNodes(facts.providerNodes);
  const providerNode = candidates.length === 1 ? candidates[0] : undefined;
  const node = providerNode?.metadata?.name;
  return { runsAt: { cluster: facts.provider, namespace: mapped.namespace, ...(node ? { node } : {}) }, providerNode, candidates };
}

/** The nodes the scheduler may choose: Ready and not cordoned. */
function schedulableNodes(clusterNodes: V1Node[]): V1Node[] {
  return clusterNodes.filter((n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

function ref(request: PlanMigrationInput): string {
  return `pod ${request.source.namespace}/${request.source.pod} in cluster ${request.source.cluster}`;
}

function refused(type: string, message: string): MigrationDecision {
  return { refused: [{ type, message }] };
}

/** JSON as the API server sent it (the client's objects may hold Dates and undefined fields). */
function plainCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
