// Configuration of the workers and the CLI (loaded by src/config/load.ts): where Temporal is, which kubeconfig context each cluster name
// means, which registry holds checkpoint images, and (node worker only) which node this process serves.
// Credentials live here (or in the environment), never in a workflow input or history.
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './names.js';

export const TemporalConfig = z
  .object({
    address: z.string().min(1).default('127.0.0.1:7233'),
    namespace: z.string().min(1).default('default'),
    taskQueue: z.string().min(1).default(DEFAULT_TASK_QUEUE),
    /** mTLS to Temporal Cloud or a self-hosted frontend: paths to PEM files. */
    tls: z
      .object({
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        ca: z.string().min(1).optional(),
        serverName: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Temporal Cloud API key (prefer the env PODFERRY_TEMPORAL_API_KEY over writing it in a file). */
    apiKey: z.string().min(1).optional(),
  })
  .strict();

export const ClusterConfig = z
  .object({
    /** Path to a kubeconfig file; relative paths are resolved against the configuration file. */
    kubeconfig: z.string().min(1),
    /** Context in that kubeconfig; default: its current-context. */
    context: z.string().min(1).optional(),
    /**
     * The cluster's Liqo cluster id (`liqoctl install --cluster-id`), when it differs from the name here: a
     * virtual node names its provider by that id (label liqo.io/remote-cluster-id).
     */
    liqo: z.object({ clusterId: z.string().min(1) }).strict().optional(),
  })
  .strict();

/** An identity at the registry. */
export const RegistryCredentials = z.object({ username: z.string().min(1), password: z.string().min(1) }).strict();

export const RegistryConfig = z
  .object({
    /** Base URL, e.g. http://10.231.0.1:5000 (plain HTTP) or https://registry.example.com. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    /**
     * PEM file of the private CA that signed the registry's certificate: podferry's processes add it to the
     * CAs they trust. (The nodes' runtimes trust it through their own registry configuration, e.g. containerd's
     * `ca` in certs.d/<host>/hosts.toml.)
     */
    caFile: z.string().min(1).optional(),
    /** Repository under which checkpoint images are pushed, e.g. podferry/checkpoints. */
    repository: z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, 'not a valid OCI repository name'),
    /**
     * Host (and port) that kubelets use to pull the images, if it differs from the URL's (e.g. a registry
     * mirror name). Default: the URL's host.
     */
    pullHost: z.string().min(1).optional(),
    /** The push identity (node workers push, the orchestrator deletes); anonymous without it. */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /**
     * A read-only identity target nodes pull checkpoint images with: the kubelet through a Secret the
     * orchestrator makes per migration in the target namespace (deleted once the target pod is Ready), the
     * node worker in its pull ahead of the kubelet. Anonymous pulls without it. Apart from the push identity,
     * because it lands in target namespaces; that it can only pull is the registry's to enforce.
     */
    pull: RegistryCredentials.optional(),
  })
  .strict();

export const NodeWorkerConfig = z
  .object({
    cluster: z.string().min(1),
    nodeName: z.string().min(1),
    /** Where the cgroup filesystem is mounted (v1: contains freezer/; v2: contains cgroup.controllers). */
    cgroupFsRoot: z.string().min(1).default('/sys/fs/cgroup'),
    /** Prefix for host paths such as checkpoint archives: "/" for a host process, "/host" in a DaemonSet. */
    hostRoot: z.string().min(1).default('/'),
    /**
     * Where the kubelet writes checkpoint archives (<kubelet root>/checkpoints), as a host path. Scanned when
     * cleaning up, so archives of checkpoints whose answer was lost are found too. `{cluster}`/`{node}` are replaced.
     */
    checkpointDir: z.string().min(1).default('/var/lib/kubelet/checkpoints'),
    /**
     * Where this node worker keeps what it decided about the pods it froze (survives a restart; a DaemonSet
     * mounts it from the host). Records live under frozen-pods/<cluster>/<node>/.
     */
    stateDir: z.string().min(1).default('/var/lib/podferry'),
    /**
     * Where the node worker has the runtime write checkpoint archives (a host path; created 0700, archives
     * 0600). Default: <stateDir>/checkpoints/<cluster>/<node>. `{cluster}`/`{node}` are replaced.
     */
    archiveDir: z.string().min(1).optional(),
    /** How often the node worker checks pods it still holds frozen, and the checkpoint archives on its disk, against their migration's workflow. */
    sweepIntervalSeconds: z.number().int().positive().default(15),
    /**
     * Age (by modification time) past which the node worker deletes a checkpoint archive when nothing says
     * whether a migration still needs it: the kubelet's archives (no note of their migration), and those of a
     * migration Temporal no longer knows or that committed (it may have asked to keep them, cleanup.archives).
     * An archive of a running migration is kept, one of a migration that ended without committing and
     * without a target pod is deleted at once (src/node/archive-sweeper.ts). A day is far above the longest
     * a migration holds its archives, a few hours: the freeze up to maxFrozenSeconds (at most 1 h), a
     * rollback's restore up to readyTimeoutSeconds (at most 1 h), cleanups retried for 15 min, and after the
     * commit 15 min per source-removal step and 30 min per kept image's push.
     */
    orphanArchiveAgeSeconds: z.number().int().min(3600, 'at least an hour (3600): a younger archive may belong to a running migration').default(86_400),
    /**
     * The node's CRI socket, whatever the runtime (containerd, CRI-O): which containers a pod has, checkpoints,
     * image pulls; the worker asks it which runtime it is. `{cluster}` and `{node}` in the address are replaced.
     * Default: node.containerd.address.
     */
    cri: z.object({ address: z.string().min(1) }).strict().optional(),
    /**
     * The node's containerd, when it runs containerd: containers are then paused through it (see
     * src/node/containerd-tasks.ts for why), checkpoint images sent by another node imported into it.
     * `{cluster}` and `{node}` in the address are replaced; it is also the CRI socket unless node.cri says otherwise.
     */
    containerd: z
      .object({
        address: z.string().min(1),
        namespace: z.string().min(1).default('k8s.io'),
        /** containerd's `ctr` (same version as the daemon): imports checkpoint images sent by another node. */
        ctr: z.string().min(1).default('ctr'),
      })
      .strict()
      .optional(),
    /**
     * On a CRI-O node the worker pauses, resumes and checkpoints containers with the OCI runtime CRI-O runs
     * them with (runc; src/node/runc.ts). By default it reads that runtime's binary, root and PATH (where
     * CRIU is) for CRI-O's default handler from CRI-O's own info endpoint on the CRI socket (GET /config);
     * these override it.
     */
    crio: z
      .object({
        /** The runc binary CRI-O runs (its handler's runtime_path). */
        runc: z.string().min(1).optional(),
        /** runc's state directory for CRI-O's containers (its handler's runtime_root). */
        runtimeRoot: z.string().min(1).optional(),
        /** The CRIU binary runc runs for checkpoints; default: `criu` on the PATH CRI-O gives the handler. */
        criu: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /**
     * Node-to-node transfer of checkpoint images: this worker serves its checkpoints over mutual TLS to the
     * target node's worker (one unguessable URL per image, for that node only, served once), which imports
     * them into its runtime. Without `tls` this node neither serves nor receives (migrations go through the registry).
     */
    transfer: z
      .object({
        /**
         * The transfer CA (mount the Secret podferry-transfer-ca): the worker issues itself a certificate naming
         * its node, and trusts only peers the CA issued. An EC P-256/P-384 or RSA key, PEM.
         */
        tls: z.object({ caFile: z.string().min(1), caKeyFile: z.string().min(1) }).strict().optional(),
        host: z.string().min(1).default('0.0.0.0'),
        /** 0: any free port (the URL handed out names the real one). */
        port: z.number().int().min(0).max(65535).default(0),
        /** Address other nodes' workers reach this one at (a DaemonSet: the pod IP); default: the first non-loopback IPv4. */
        advertiseHost: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const SecurityConfig = z
  .object({
    /**
     * A file holding the key the orchestrator signs node calls with and node workers verify them with
     * (src/worker/node-call-signature.ts): mount it from a Secret. Required by node workers unless
     * allowUnsignedNodeCalls.
     */
    nodeCallKeyFile: z.string().min(1).optional(),
    /** Lets a node worker run without the key: any Temporal client could then drive the node. Tests only. */
    allowUnsignedNodeCalls: z.boolean().default(false),
    /**
     * A file holding the key payloads are encrypted with in workflow histories (src/client/history-encryption.ts):
     * mount it from a Secret. Every worker and client of the installation must have the same one, or none.
     */
    historyKeyFile: z.string().min(1).optional(),
  })
  .strict();

export const PodferryConfig = z
  .object({
    temporal: TemporalConfig.prefault({}),
    clusters: z.record(z.string(), ClusterConfig).default({}),
    security: SecurityConfig.prefault({}),
    /** Namespaces whose pods podferry never moves, nor moves pods into (system components live there). */
    protectedNamespaces: z.array(z.string().min(1)).default(['kube-system']),
    registry: RegistryConfig.optional(),
    node: NodeWorkerConfig.optional(),
    metrics: z
      .object({ port: z.number().int().min(0).max(65535).default(9464), host: z.string().default('0.0.0.0') })
      .strict()
      .prefault({}),
  })
  .strict();
export type PodferryConfig = z.infer<typeof PodferryConfig>;
export type ClusterConfig = z.infer<typeof ClusterConfig>;
export type RegistryConfig = z.infer<typeof RegistryConfig>;
export type RegistryCredentials = z.infer<typeof RegistryCredentials>;
export type NodeWorkerConfig = z.infer<typeof NodeWorkerConfig>;
export type TemporalConfig = z.infer<typeof TemporalConfig>;
export type SecurityConfig = z.infer<typeof SecurityConfig>;
