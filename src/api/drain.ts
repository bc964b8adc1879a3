// The drain API: what a user asks for (DrainNodeInput) and what they get back (DrainReport). Zod schemas are
// the single source of these types; the drainNode workflow, the CLI and the Web UI form speak them.
// Pure: safe inside the workflow sandbox.
import { z } from 'zod';
import { MigrationOptions } from './migration.js';
import { DNS1123_SUBDOMAIN } from './names.js';

const clusterName = z
  .string()
  .min(1, 'cluster name is empty')
  .regex(/^[A-Za-z0-9][-A-Za-z0-9_.]*$/, 'cluster names are the keys of `clusters` in the worker configuration');
const nodeName = z.string().regex(DNS1123_SUBDOMAIN, 'not a valid Kubernetes node name (DNS-1123 subdomain)');

export const DrainNodeInput = z
  .object({
    /** The node to empty. */
    source: z.object({ cluster: clusterName, node: nodeName }).strict(),
    /** Where its pods go. Default cluster: the source cluster (moves within a cluster, see DrainReport). */
    target: z
      .object({
        cluster: clusterName.optional(),
        /** Bind every moved pod to this node; default: the target scheduler chooses per pod. */
        node: nodeName.optional(),
      })
      .strict()
      .prefault({}),
    /**
     * Only pods with these labels take part (a Kubernetes label selector, as `kubectl drain --pod-selector`);
     * the node's other pods are neither moved nor reported. Default: every pod on the node.
     */
    podSelector: z.string().min(1, 'empty selector: omit it to take every pod').max(1024).optional(),
    /** How many pods migrate at the same time. */
    concurrency: z.number().int().min(1, 'at least 1 migration at a time').max(20, 'at most 20 migrations at a time').default(2),
    /** Passed to every migratePod child. */
    options: MigrationOptions.prefault({}),
  })
  .strict()
  .refine((input) => !(input.target.node === input.source.node && (input.target.cluster ?? input.source.cluster) === input.source.cluster), {
    message: 'the target node is the node being drained',
    path: ['target', 'node'],
  });
export type DrainNodeInput = z.infer<typeof DrainNodeInput>;
export type DrainNodeRequest = z.input<typeof DrainNodeInput>;

export const PodRef = z.object({ namespace: z.string(), name: z.string() });
export type PodRef = z.infer<typeof PodRef>;

/** A pod left where it is, and why (a stable type for scripts, a message for people). */
export const SkippedPod = PodRef.extend({ type: z.string(), reason: z.string() });
export type SkippedPod = z.infer<typeof SkippedPod>;

export const MovedPod = PodRef.extend({
  migrationId: z.string(),
  targetCluster: z.string(),
  /** The moved pod's name when it is not the source's: a ReplicaSet's restored copy has its own. */
  targetName: z.string().optional(),
  targetNode: z.string().optional(),
  downtimeMs: z.number(),
});
export type MovedPod = z.infer<typeof MovedPod>;

export const FailedPod = PodRef.extend({ migrationId: z.string(), type: z.string().optional(), reason: z.string() });
export type FailedPod = z.infer<typeof FailedPod>;

export const DrainReport = z.object({
  drainId: z.string(),
  cluster: z.string(),
  node: z.string(),
  targetCluster: z.string(),
  /** True when podferry cordoned the node (false: it was cordoned already). */
  cordonedByDrain: z.boolean(),
  /** The node's state when the drain ended. */
  cordoned: z.boolean(),
  /** Every pod that had to leave the node did (moved), or there was none. */
  complete: z.boolean(),
  moved: z.array(MovedPod),
  skipped: z.array(SkippedPod),
  failed: z.array(FailedPod),
  warnings: z.array(z.string()),
});
export type DrainReport = z.infer<typeof DrainReport>;

export const DrainProgress = z.object({
  phase: z.enum(['Validating', 'Cordoning', 'Listing', 'Migrating', 'Uncordoning', 'Done']),
  pending: z.array(PodRef),
  running: z.array(PodRef.extend({ migrationId: z.string() })),
  moved: z.array(MovedPod),
  skipped: z.array(SkippedPod),
  failed: z.array(FailedPod),
});
export type DrainProgress = z.infer<typeof DrainProgress>;

/** Annotation podferry writes on a pod it moved (drain or rebalance): the cool-down clock of rebalancing. */
export const LAST_MIGRATED_AT_ANNOTATION = 'podferry.io/last-migrated-at';
