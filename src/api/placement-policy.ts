// The placement policy of scheduled rebalancing: which pods take part, where each one should be, and the
// guards that keep rebalancing from doing harm. A user writes it (a file, or a ConfigMap read at every run);
// the rebalance workflow plans with it (src/planning/rebalance.ts). Zod is the single source of its type.
// Pure: safe inside the workflow sandbox.
import { z } from 'zod';
import { MigrationOptions } from './migration.js';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from './names.js';

const clusterName = z
  .string()
  .min(1, 'cluster name is empty')
  .regex(/^[A-Za-z0-9][-A-Za-z0-9_.]*$/, 'cluster names are the keys of `clusters` in the worker configuration');
/** Label/annotation keys: an optional DNS prefix and a name (Kubernetes' qualified names). */
const qualifiedName = z
  .string()
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'not a valid label/annotation key');
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, 'not a valid label value');

export const PREFERRED_CLUSTER_ANNOTATION = 'podferry.io/preferred-cluster';
export const USER_REGION_ANNOTATION = 'podferry.io/user-region';

export const PlacementPolicy = z
  .object({
    /** Which pods take part: every pod with all these labels, in these namespaces (default: all namespaces). */
    selector: z
      .object({
        matchLabels: z.record(z.string(), labelValue).superRefine((labels, ctx) => {
          if (Object.keys(labels).length === 0) ctx.addIssue({ code: 'custom', message: 'at least one label: a policy never takes every pod of a cluster' });
          for (const key of Object.keys(labels)) {
            // invalid_key: what was refused is the key, not the label value at that path
            if (!qualifiedName.safeParse(key).success) ctx.addIssue({ code: 'invalid_key', origin: 'record', issues: [], path: [key], message: 'not a valid label key' });
          }
        }),
        namespaces: z.array(z.string().regex(DNS1123_LABEL, 'not a valid namespace name')).optional(),
      })
      .strict(),
    /** The clusters that take part: pods are listed in all of them, and moved only between them. */
    clusters: z.array(clusterName).min(1, 'name at least one cluster'),
    /** Where each pod should be. The preferred-cluster annotation wins; else the lowest latency from the pod's user region. */
    placement: z
      .object({
        preferredClusterAnnotation: qualifiedName.default(PREFERRED_CLUSTER_ANNOTATION),
        userRegionAnnotation: qualifiedName.default(USER_REGION_ANNOTATION),
        /** Latency in ms from each user region to each cluster, e.g. { eu-west: { edge-paris: 8, core: 40 } }. */
        latencyMs: z.record(z.string().min(1), z.record(clusterName, z.number().min(0, 'a latency cannot be negative'))).default({}),
        /** Bind moved pods to this node in each target cluster (default: the target's scheduler chooses). */
        targetNodes: z.record(clusterName, z.string().regex(DNS1123_SUBDOMAIN, 'not a valid node name')).default({}),
      })
      .strict()
      .prefault({}),
    guards: z
      .object({
        /** Per run, each cluster takes part (as source or target) in at most this many migrations; the rest wait for the next run. */
        maxConcurrentPerCluster: z.number().int().min(1, 'at least 1').max(50, 'at most 50').default(1),
        /** A pod moved less than this long ago stays where it is (annotation podferry.io/last-migrated-at): nothing flaps. */
        coolDownMinutes: z.number().min(0, 'cannot be negative').default(30),
        /**
         * Move a pod only where a Ready, schedulable node of the target has its CPU and memory requests free
         * (allocatable minus the requests of the pods on it, as the API servers report them).
         */
        respectCapacity: z.boolean().default(true),
        /** Only report the plan; start nothing. */
        dryRun: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Passed to every migratePod child. */
    options: MigrationOptions.prefault({}),
  })
  .strict()
  .superRefine((policy, ctx) => {
    // Reported as refused record keys: the cluster name is what is wrong, not the value under it.
    const unknownCluster = (path: string[], cluster: string) =>
      ctx.addIssue({ code: 'invalid_key', origin: 'record', issues: [], path: [...path, cluster], message: `cluster ${cluster} is not in clusters (${policy.clusters.join(', ')})` });
    for (const [region, latencies] of Object.entries(policy.placement.latencyMs)) {
      for (const cluster of Object.keys(latencies)) {
        if (!policy.clusters.includes(cluster)) unknownCluster(['placement', 'latencyMs', region], cluster);
      }
    }
    for (const cluster of Object.keys(policy.placement.targetNodes)) {
      if (!policy.clusters.includes(cluster)) unknownCluster(['placement', 'targetNodes'], cluster);
    }
  });
export type PlacementPolicy = z.infer<typeof PlacementPolicy>;
export type PlacementPolicyDocument = z.input<typeof PlacementPolicy>;

/** Where a policy comes from: written into the schedule (from a file), or a ConfigMap read at every run. */
export const PolicySource = z.union([
  z.object({ inline: z.unknown() }).strict(),
  z
    .object({
      configMap: z
        .object({
          cluster: clusterName,
          namespace: z.string().regex(DNS1123_LABEL, 'not a valid namespace name'),
          name: z.string().regex(DNS1123_SUBDOMAIN, 'not a valid ConfigMap name'),
          key: z.string().min(1).default('policy.yaml'),
        })
        .strict(),
    })
    .strict(),
]);
export type PolicySource = z.infer<typeof PolicySource>;

export const RebalanceInput = z
  .object({
    policy: PolicySource,
    /** Overrides the policy's guards.dryRun when given (podferry schedule create --dry-run). */
    dryRun: z.boolean().optional(),
  })
  .strict();
export type RebalanceInput = z.infer<typeof RebalanceInput>;
export type RebalanceRequest = z.input<typeof RebalanceInput>;

export const PlannedMove = z.object({
  namespace: z.string(),
  name: z.string(),
  from: z.string(),
  to: z.string(),
  toNode: z.string().optional(),
  /** Why this cluster: the annotation, or the region and its latency. */
  why: z.string(),
});
export type PlannedMove = z.infer<typeof PlannedMove>;

export const SkippedCandidate = z.object({ cluster: z.string(), namespace: z.string(), name: z.string(), type: z.string(), reason: z.string() });
export type SkippedCandidate = z.infer<typeof SkippedCandidate>;

export const RebalanceSummary = z.object({
  runId: z.string(),
  dryRun: z.boolean(),
  policySource: z.string(),
  candidates: z.number(),
  /** What the run decided (in dry-run: what it would do). */
  planned: z.array(PlannedMove),
  moved: z.array(PlannedMove.extend({ migrationId: z.string(), downtimeMs: z.number() })),
  skipped: z.array(SkippedCandidate),
  failed: z.array(PlannedMove.extend({ migrationId: z.string(), type: z.string().optional(), reason: z.string() })),
});
export type RebalanceSummary = z.infer<typeof RebalanceSummary>;

/** The label selector string the API server takes (`app=web,tier=edge`). */
export function labelSelector(policy: PlacementPolicy): string {
  return Object.entries(policy.selector.matchLabels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}
