// The migration API: what a user asks for (MigratePodInput), what they can watch (MigrationProgress) and
// what they get back (MigrationResult). Zod schemas are the single source of these types; the workflow,
// the client, the CLI and the Web UI form all speak them. Pure: safe inside the workflow sandbox.
// No credential ever appears here: clusters and the registry are names that worker configuration resolves.
import { z } from 'zod';
import { DNS1123_LABEL, DNS1123_SUBDOMAIN } from './names.js';

const clusterName = z
  .string()
  .min(1, 'cluster name is empty')
  .regex(/^[A-Za-z0-9][-A-Za-z0-9_.]*$/, 'cluster names are the keys of `clusters` in the worker configuration');
const namespaceName = z.string().regex(DNS1123_LABEL, 'not a valid Kubernetes namespace name (DNS-1123 label)');
const objectName = z.string().regex(DNS1123_SUBDOMAIN, 'not a valid Kubernetes object name (DNS-1123 subdomain)');

export const CleanupPolicy = z.enum(['delete', 'keep']);

/** A migration id (its workflow id): printable ASCII, no spaces, as Temporal ids, label keys and logs take it. */
export const MigrationId = z
  .string()
  .min(1, 'the migration id is empty')
  .max(200, 'a migration id has at most 200 characters')
  .regex(/^[\x21-\x7e]+$/, 'a migration id has no spaces or control characters');

/** How a checkpoint image reaches the target node: through the registry, or node to node. */
export const CheckpointTransfer = z.enum(['direct', 'registry']);
export type CheckpointTransfer = z.infer<typeof CheckpointTransfer>;

/**
 * How the memory moves: `stop-and-copy`, all of it inside the downtime, in the checkpoint images; `postcopy`, the
 * target restores from checkpoint images without the memory (CRIU lazy pages) and pulls the pages from the frozen
 * source while it already runs (docs/postcopy.md).
 */
export const MigrationMode = z.enum(['stop-and-copy', 'postcopy']);
export type MigrationMode = z.infer<typeof MigrationMode>;

export const MigrationOptions = z
  .object({
    /**
     * `postcopy` shortens the downtime to about what restoring without the memory takes, whatever the pod's memory;
     * the cost: from the target's start until its last page arrived, the source's memory holds pages the target
     * lacks, so a failure there (source node, network) leaves neither copy running: the source is held frozen
     * (never resumed once the target ran) and the failure says so. Needs a named target node whose worker answers;
     * the images go node to node.
     */
    mode: MigrationMode.default('stop-and-copy'),
    /** Checkpoint and push all containers at once; false runs them one after another (the benchmark baseline). */
    parallel: z.boolean().default(true),
    /**
     * How checkpoint images reach the target: `registry`, pushed by the source node and pulled on the
     * target node (see pullOnTarget); `direct`, node to node (the target node's worker imports them into its runtime, the
     * registry is not used), when the target node is given and its worker answers, else (or if that fails)
     * through the registry. The default is `registry` because on the lab (registry on the same machine) it is
     * faster (bench/README.md); `direct` saves a network copy where the registry is remote.
     */
    transfer: CheckpointTransfer.default('registry'),
    /**
     * Pull each image pushed to the registry on the target node right after its push, through that node's
     * worker (CRI), before the target pod is created: the kubelet starts a pod's containers one at a time
     * and would otherwise pull each checkpoint image in turn inside the downtime. Needs a known target node
     * (given, or the target cluster's only schedulable node) whose worker answers; else the kubelet pulls.
     */
    pullOnTarget: z.boolean().default(true),
    /** Passed to the kubelet checkpoint API (`?timeout=`) per container. */
    checkpointTimeoutSeconds: z.number().int().min(1).max(3600).default(120),
    /** How long the target pod may take to become Ready before the migration rolls back. */
    readyTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
    /**
     * The longest the source may stay frozen before the commit: reaching it aborts the migration and the
     * source runs again. It bounds what clients of the workload see as an outage; a liveness probe that
     * would fail sooner is warned about at plan time.
     */
    maxFrozenSeconds: z.number().int().min(5).max(3600).default(180),
    cleanup: z
      .object({
        /** Checkpoint images after success (a failed migration always deletes them). */
        images: CleanupPolicy.default('delete'),
        /**
         * Checkpoint archives on the source node after success (a failed migration always deletes them). Kept
         * ones go once older than the node worker's node.orphanArchiveAgeSeconds (its archive sweeper).
         */
        archives: CleanupPolicy.default('delete'),
      })
      .strict()
      .prefault({}),
    /**
     * How each container is checkpointed: `runtime`, by the source node's worker through its runtime's CRI
     * (no `nodes/proxy` needed), or `kubelet`, through the kubelet checkpoint API via the API server's node
     * proxy (the reference design's way).
     */
    checkpointVia: z.enum(['runtime', 'kubelet']).default('runtime'),
    /**
     * With a target namespace other than the source's: copy the Secrets the pod references into it. Off by
     * default, so that moving a pod cannot be used to copy Secrets into a namespace the caller chooses.
     */
    allowSecretsToOtherNamespace: z.boolean().default(false),
    /**
     * Place the pod on a named target node even if it is cordoned, or has NoSchedule/NoExecute taints the pod
     * does not tolerate (it is then given tolerations for the NoExecute ones). Off by default.
     */
    allowUnschedulableTargetNode: z.boolean().default(false),
  })
  .strict();

export const MigratePodInput = z
  .object({
    source: z
      .object({ cluster: clusterName, namespace: namespaceName, pod: objectName })
      .strict(),
    target: z
      .object({
        cluster: clusterName,
        /** Default: the source namespace. */
        namespace: namespaceName.optional(),
        /** Bind the pod to this node (or Liqo virtual node); default: let the target scheduler choose. */
        node: objectName.optional(),
      })
      .strict(),
    options: MigrationOptions.prefault({}),
  })
  .strict();

/** The input after validation, with every default filled in. */
export type MigratePodInput = z.infer<typeof MigratePodInput>;
/** What a caller may send (defaults optional). */
export type MigratePodRequest = z.input<typeof MigratePodInput>;

export const MigrationPhase = z.enum([
  'Pending',
  'Planning',
  'Freezing',
  'Checkpointing',
  'Pushing',
  'CreatingTarget',
  'WaitingReady',
  /** Post-copy: the target runs; the pages it has not faulted in yet stream from the frozen source. */
  'StreamingPages',
  'DeletingSource',
  'Finalizing',
  'Succeeded',
  'Compensating',
  /** Rolled back as far as safety allows, but not all the way (the failure says what is left and where). */
  'Failed',
  'RolledBack',
]);
export type MigrationPhase = z.infer<typeof MigrationPhase>;

/**
 * The order of the cut-over. CreateThenDelete (another cluster or namespace): the frozen source stays until
 * the target is Ready, so a failure just thaws it. DeleteThenCreate (another node of the same cluster and
 * namespace): the target needs the source's name, so the frozen source is deleted first and, until the
 * target is Ready, the workload lives only in its checkpoint images; a failure restores it from them on
 * its source node. AdoptByReplicaSet (a ReplicaSet's pod to another node of its cluster): the restored copy
 * gets a name of its own and is created unselectable (no labels, no owner); once it is Ready its labels go
 * back, the ReplicaSet adopts it and deletes the frozen source, which the plan made its cheapest pod.
 */
export const MigrationStrategy = z.enum(['CreateThenDelete', 'DeleteThenCreate', 'AdoptByReplicaSet']);
export type MigrationStrategy = z.infer<typeof MigrationStrategy>;

export const ContainerState = z.enum([
  'Pending',
  'Checkpointing',
  'Checkpointed',
  'Pushing',
  'Pushed',
  'Restored',
  'Failed',
]);
export type ContainerState = z.infer<typeof ContainerState>;

export const ContainerProgress = z.object({
  state: ContainerState,
  archivePath: z.string().optional(),
  archiveBytes: z.number().optional(),
  image: z.string().optional(),
  error: z.string().optional(),
});
export type ContainerProgress = z.infer<typeof ContainerProgress>;

export const MigrationProgress = z.object({
  migrationId: z.string(),
  phase: MigrationPhase,
  /** Known once planned. */
  strategy: MigrationStrategy.optional(),
  /** ISO time at which each phase was entered. */
  phaseStartedAt: z.partialRecord(MigrationPhase, z.string()),
  containers: z.record(z.string(), ContainerProgress),
  /** For progress bars: steps done out of total (total grows once the container count is known). */
  stepsDone: z.number(),
  stepsTotal: z.number(),
  /** Compensations run so far, in the order they ran. */
  compensations: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().optional() })),
  warnings: z.array(z.string()),
  error: z.string().optional(),
});
export type MigrationProgress = z.infer<typeof MigrationProgress>;

export const PodIdentity = z.object({
  cluster: z.string(),
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  node: z.string().optional(),
});
export type PodIdentity = z.infer<typeof PodIdentity>;

export const ContainerTiming = z.object({
  checkpointMs: z.number(),
  /** Time to get the image to the target: pushed to the registry, or sent node to node and imported. */
  pushMs: z.number(),
  archiveBytes: z.number(),
  /** Bytes sent to the registry or to the target node. */
  bytesPushed: z.number(),
  via: CheckpointTransfer,
  /** Time the target node's worker took to pull the pushed image ahead of the kubelet (options.pullOnTarget). */
  pullMs: z.number().optional(),
});

/** A checkpoint image a migration made, as its result reports it (the OCI image itself: src/oci/checkpoint-image.ts). */
export const MigratedImage = z.object({
  container: z.string(),
  /** Reference by digest, as written into the target pod. */
  ref: z.string(),
  tag: z.string(),
  manifestDigest: z.string(),
  originalImage: z.string(),
  deleted: z.boolean(),
});
export type MigratedImage = z.infer<typeof MigratedImage>;

export const MigrationResult = z.object({
  migrationId: z.string(),
  source: PodIdentity,
  target: PodIdentity,
  /** Duration of each phase in ms (wall clock of the workflow). */
  phasesMs: z.partialRecord(MigrationPhase, z.number()),
  containers: z.record(z.string(), ContainerTiming),
  totalMs: z.number(),
  /** From the moment the source pod was frozen (made no more progress) until the target pod was Ready. */
  downtimeMs: z.number(),
  mode: MigrationMode.optional(),
  /** Post-copy: from the freeze until the last page of every container had reached the target. */
  pagesArrivedMs: z.number().optional(),
  /** Post-copy: the memory that reached the target after its start (lazy pages), all containers. */
  lazyPageBytes: z.number().optional(),
  bytesPushed: z.number(),
  images: z.array(MigratedImage),
  parallel: z.boolean(),
  strategy: MigrationStrategy,
  warnings: z.array(z.string()),
});
export type MigrationResult = z.infer<typeof MigrationResult>;

/**
 * One line per zod issue: `source.pod: not a valid Kubernetes object name (got "Foo")`. Zod does not keep
 * the values it refuses, so they are quoted when the caller passes the input it validated.
 */
export function describeIssues(error: z.ZodError, input?: unknown): string {
  return error.issues
    .map((issue) => {
      const message =
        issue.code === 'invalid_type' && /received undefined/.test(issue.message)
          ? 'required'
          : issue.code === 'invalid_key' // zod's own text is "Invalid key in record": the key schema says why
            ? (issue.issues[0]?.message ?? issue.message)
            : issue.message;
      const value = input === undefined ? undefined : receivedValue(issue, input);
      return `${issue.path.length > 0 ? issue.path.join('.') : '(input)'}: ${message}${value === undefined ? '' : ` (got ${value})`}`;
    })
    .join('; ');
}

/**
 * The value an issue refused, within the input that was validated, as text for a message (for a refused
 * record key, the key). Undefined when there is none: a missing field, or unknown keys (the message names them).
 */
export function receivedValue(issue: z.core.$ZodIssue, input: unknown): string | undefined {
  if (issue.code === 'unrecognized_keys') return undefined;
  const value =
    issue.code === 'invalid_key'
      ? issue.path.at(-1)
      : issue.path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined), input);
  if (value === undefined) return undefined;
  const text = typeof value === 'string' || typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
