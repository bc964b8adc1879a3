// The contract between the migratePod workflow and its activities: what planMigration is asked
// (PlanMigrationInput) and what it decides (MigrationPlan), which every later step reads. The plan travels
// through the workflow history, so it carries only what those steps need, not the pod as read. Zod
// schemas are the single source of these types. Pure: safe inside the workflow sandbox.
import type { V1PodSpec, V1Taint } from '@kubernetes/client-node';
import { z } from 'zod';
import { CheckpointTransfer, MigrationOptions, MigrationStrategy } from './migration.js';

export const PlanMigrationInput = z.object({
  migrationId: z.string(),
  source: z.object({ cluster: z.string(), namespace: z.string(), pod: z.string() }),
  target: z.object({ cluster: z.string(), namespace: z.string(), node: z.string().optional() }),
  /** For the liveness-probe warning (see warningsFor). */
  maxFrozenSeconds: z.number().optional(),
  /** The request's explicit permissions (see MigrationOptions). */
  allowSecretsToOtherNamespace: z.boolean().optional(),
  allowUnschedulableTargetNode: z.boolean().optional(),
  /** How the containers are to be checkpointed and their images sent (some runtimes allow only one way). */
  checkpointVia: MigrationOptions.shape.checkpointVia.unwrap().optional(),
  transfer: CheckpointTransfer.optional(),
  mode: MigrationOptions.shape.mode.unwrap().optional(),
});
export type PlanMigrationInput = z.infer<typeof PlanMigrationInput>;

/**
 * What the target pod is rebuilt from (buildTargetPod) and the config it needs is read from: the source
 * pod's identity, labels, annotations and spec; not its status or managedFields.
 */
export const PlannedSourcePod = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.custom<V1PodSpec>(),
});
export type PlannedSourcePod = z.infer<typeof PlannedSourcePod>;

/**
 * Where a pod bound to a Liqo virtual node really runs: the pod Liqo made from it in the provider cluster (same
 * name, in the namespace Liqo maps the pod's namespace to there), on a real node with a node worker. Node-local
 * steps (freeze, checkpoint, pulls, imports) go there; the pod object (lock, events, deletion) stays where it is.
 */
export const OffloadedTo = z.object({ cluster: z.string(), namespace: z.string(), node: z.string().optional() });
export type OffloadedTo = z.infer<typeof OffloadedTo>;

/**
 * Strategy AdoptByReplicaSet: the ReplicaSet that adopts the restored copy (and the Deployment that owns it,
 * for messages), the copy's own name, and the source's pod-deletion-cost before the migration lowered it
 * (absent: it had none), which the undo puts back.
 */
export const ReplicaSetHandOver = z.object({
  replicaSet: z.object({ name: z.string(), uid: z.string() }),
  deployment: z.string().optional(),
  copyName: z.string(),
  previousDeletionCost: z.string().optional(),
});
export type ReplicaSetHandOver = z.infer<typeof ReplicaSetHandOver>;

/**
 * A StatefulSet's pod moving within its namespace (strategy DeleteThenCreate): the StatefulSet (it adopts the
 * restored pod, which keeps the name and the revision label) and the revision the pod is of. The pod's name is
 * fenced (POD_NAME_FENCE) from before the freeze until the move has ended, so the StatefulSet cannot create a
 * fresh pod of that name while the source is gone.
 */
export const StatefulSetRecreate = z.object({
  statefulSet: z.object({ name: z.string(), uid: z.string() }),
  revision: z.string(),
});
export type StatefulSetRecreate = z.infer<typeof StatefulSetRecreate>;

/** The ordinals a StatefulSet runs: [start, start + replicas) (spec.ordinals.start, spec.replicas). */
export const OrdinalRange = z.object({ start: z.number().int().min(0), replicas: z.number().int().min(0) });
export type OrdinalRange = z.infer<typeof OrdinalRange>;

/** How a StatefulSet's ordinals split when the pod of `ordinal` moves: the source's range without it, the target's with it. */
export const OrdinalSplit = z.object({
  ordinal: z.number().int().min(0),
  source: z.object({ before: OrdinalRange, after: OrdinalRange }),
  /** exists: false, the StatefulSet is made at the target with `before` (no replicas, starting at the ordinal). */
  target: z.object({ exists: z.boolean(), before: OrdinalRange, after: OrdinalRange }),
});
export type OrdinalSplit = z.infer<typeof OrdinalSplit>;

/**
 * A StatefulSet's pod moving to another cluster or namespace (strategy CreateThenDelete): the StatefulSet of that
 * name at the target (made from the source's with no replicas when missing) takes the ordinal over, the source's
 * gives it up. `statefulSet` is the source's; revision its update revision (`<name>-<hash>`), which the target's
 * must have for it to keep the restored pod; the ranges are those planned from, each changed by one conditional patch.
 */
export const StatefulSetMove = OrdinalSplit.extend({
  statefulSet: z.object({ name: z.string(), uid: z.string() }),
  revision: z.string(),
});
export type StatefulSetMove = z.infer<typeof StatefulSetMove>;

/**
 * A Deployment's pod moving to another cluster or namespace (strategy CreateThenDelete): the Deployment of that
 * name at the target (made with 0 replicas when missing) adopts the restored copy, then the source's gives its
 * place up. `replicas` are the counts planned from (each Deployment is scaled by one); templateHash is the source
 * pod's pod-template-hash, which the target's ReplicaSet must have for it to adopt the copy; previousDeletionCost
 * the source's pod-deletion-cost before the migration lowered it (absent: it had none), which the undo puts back.
 */
export const DeploymentMove = z.object({
  deployment: z.string(),
  source: z.object({ uid: z.string(), replicaSet: z.object({ name: z.string(), uid: z.string() }), replicas: z.number().int() }),
  target: z.object({ exists: z.boolean(), replicas: z.number().int() }),
  templateHash: z.string(),
  previousDeletionCost: z.string().optional(),
});
export type DeploymentMove = z.infer<typeof DeploymentMove>;

export const MigrationPlan = z.object({
  migrationId: z.string(),
  source: z.object({
    cluster: z.string(),
    namespace: z.string(),
    pod: z.string(),
    uid: z.string(),
    node: z.string(),
    /** The source is on a Liqo virtual node: its containers run in this pod of the provider (uid and node its own). */
    runsAt: OffloadedTo.extend({ uid: z.string(), node: z.string() }).optional(),
  }),
  target: PlanMigrationInput.shape.target.extend({
    /** The target node is a Liqo virtual node: the provider runs the pod; its node when only one can take it. */
    runsAt: OffloadedTo.optional(),
  }),
  /**
   * DeleteThenCreate when the target is the source's own cluster and namespace (the name must be freed);
   * AdoptByReplicaSet there for a ReplicaSet's pod (see replicaSetHandOver). A StatefulSet's pod, whose name
   * is its identity, is DeleteThenCreate with its name fenced (see statefulSet). A Deployment's or StatefulSet's pod
   * leaving its cluster or namespace is CreateThenDelete, handed from the source's owner to the target's (see
   * deploymentMove, statefulSetMove).
   */
  strategy: MigrationStrategy,
  /** Present exactly when the strategy is AdoptByReplicaSet. */
  replicaSetHandOver: ReplicaSetHandOver.optional(),
  /** Present when a StatefulSet's pod moves within its namespace (its strategy is DeleteThenCreate, its name fenced). */
  statefulSet: StatefulSetRecreate.optional(),
  /** Present when a Deployment's pod leaves its cluster or namespace (its strategy is CreateThenDelete). */
  deploymentMove: DeploymentMove.optional(),
  /** Present when a StatefulSet's pod leaves its cluster or namespace (its strategy is CreateThenDelete). */
  statefulSetMove: StatefulSetMove.optional(),
  /**
   * containerId: the runtime's id as the kubelet (of the node the source runs at) reports it (containerd://<id>); imageId: the image the
   * container runs, by digest (what a runtime needs at the target as the checkpoint's base image).
   */
  containers: z.array(z.object({ name: z.string(), image: z.string(), containerId: z.string(), imageId: z.string() })),
  sourcePod: PlannedSourcePod,
  /** ConfigMaps and Secrets the pod references (referencedConfig), copied to the target namespace if missing. */
  config: z.object({ configMaps: z.array(z.string()), secrets: z.array(z.string()) }),
  /**
   * Target nodes worth pre-pulling the base images on, in the cluster the target runs in (targetExecution):
   * the chosen node, or, when the scheduler chooses, the target's ready schedulable nodes if there are at most a few.
   */
  prepullNodes: z.array(z.string()),
  /** NoExecute taints of the chosen target node, tolerated by the target pod (see buildTargetPod). */
  targetNodeTaints: z.array(z.custom<V1Taint>()),
  /**
   * The Secret the target pod pulls its checkpoint images from the registry with (pullSecretName), when the
   * registry has a pull identity (registry.pull); made in the target namespace before the freeze and deleted
   * once the target pod is Ready. Absent: the kubelet pulls anonymously.
   */
  pullSecret: z.string().optional(),
  warnings: z.array(z.string()),
});
export type MigrationPlan = z.infer<typeof MigrationPlan>;

/** Where the source's containers run (node-local steps go there): its own node, or the provider's pod Liqo made from it. */
export function sourceExecution(plan: Pick<MigrationPlan, 'source'>): { cluster: string; namespace: string; pod: string; uid: string; node: string } {
  const { cluster, namespace, pod, uid, node, runsAt } = plan.source;
  return runsAt ? { cluster: runsAt.cluster, namespace: runsAt.namespace, pod, uid: runsAt.uid, node: runsAt.node } : { cluster, namespace, pod, uid, node };
}

/** Where the target's containers will run: the named node, or for a Liqo virtual node the provider's node when known. */
export function targetExecution(plan: Pick<MigrationPlan, 'target'>): { cluster: string; node?: string } {
  const { runsAt } = plan.target;
  return runsAt ? { cluster: runsAt.cluster, node: runsAt.node } : { cluster: plan.target.cluster, node: plan.target.node };
}
