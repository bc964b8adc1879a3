// Whether this node can take part in a post-copy move (docs/postcopy.md), and if not, what to change. Checked when
// the node worker starts (it says so in its first line), asked before a move freezes anything (describeRuntime),
// and again by each post-copy activity. The judgement is pure (unit-tested); the readers beside it read the node.
import { readFile } from 'node:fs/promises';
import { compareVersions } from '../planning/restore-support.js';

/**
 * fs.pipe-max-size a node needs: CRIU's lazy page server asks for pipes of about 3.2 MiB and, without
 * CAP_SYS_RESOURCE, fails above the limit (1 MiB by default) while carrying on: the restored process dies
 * (measured on this machine class, issue 15).
 */
export const POSTCOPY_PIPE_BYTES = 4 * 1024 * 1024;
/** The oldest CRIU post-copy ran with here (4.2.1); older ones do not restore on these kernels at all. */
export const POSTCOPY_MIN_CRIU = '4.2';
/** The annotation naming a container's CRIU configuration file, which runc reads from the spec. */
export const CRIU_CONFIG_ANNOTATION = 'org.criu.config';

export interface PostCopyFacts {
  runtime: string;
  /** fs.pipe-max-size; undefined when it could not be read. */
  pipeMaxSize: number | undefined;
  /** The CRIU version runc runs, as `criu --version` says it; undefined when it could not be run. */
  criuVersion: string | undefined;
  /** The annotations containerd passes from a container's (checkpoint's) annotations to its spec; undefined: its configuration could not be read. */
  containerAnnotations: string[] | undefined;
  /** The node worker has a transfer identity (node.transfer.tls): the page stream is mutual TLS with it. */
  transferIdentity: boolean;
  /** The node worker knows the node's containerd (node.containerd): it reads the checkpoint images from there. */
  containerdConfigured: boolean;
}

export interface PostCopySupport {
  available: boolean;
  /** Why not, and what to change. */
  reason?: string;
}

export function postCopySupport(facts: PostCopyFacts): PostCopySupport {
  const reasons: string[] = [];
  if (facts.runtime !== 'containerd') reasons.push(`it runs ${facts.runtime}; post-copy is built for containerd nodes only`);
  if (facts.pipeMaxSize === undefined) reasons.push('fs.pipe-max-size could not be read');
  else if (facts.pipeMaxSize < POSTCOPY_PIPE_BYTES) {
    reasons.push(
      `fs.pipe-max-size is ${facts.pipeMaxSize}, below the ${POSTCOPY_PIPE_BYTES} CRIU's lazy page server needs: ` +
        `sysctl -w fs.pipe-max-size=${POSTCOPY_PIPE_BYTES} on the node (and keep it in /etc/sysctl.d)`,
    );
  }
  if (facts.criuVersion === undefined) reasons.push('CRIU could not be run');
  else if (compareVersions(facts.criuVersion, POSTCOPY_MIN_CRIU).patch < 0) reasons.push(`CRIU ${facts.criuVersion} is older than ${POSTCOPY_MIN_CRIU}`);
  if (facts.runtime === 'containerd' && facts.containerAnnotations === undefined) reasons.push("containerd's CRI configuration (its verbose status) could not be read");
  else if (facts.runtime === 'containerd' && !facts.containerAnnotations!.includes(CRIU_CONFIG_ANNOTATION)) {
    reasons.push(
      `containerd does not pass the annotation ${CRIU_CONFIG_ANNOTATION} to runc, which makes a restore lazy: add container_annotations = ["${CRIU_CONFIG_ANNOTATION}"] ` +
        'to its runc runtime ([plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]) and restart it',
    );
  }
  if (!facts.transferIdentity) reasons.push('the node worker has no transfer identity (node.transfer.tls), which the page stream is authenticated with');
  if (facts.runtime === 'containerd' && !facts.containerdConfigured) reasons.push('the node worker has no node.containerd settings (it reads the checkpoint images from containerd)');
  return reasons.length === 0 ? { available: true } : { available: false, reason: reasons.join('; ') };
}

/** fs.pipe-max-size as this process sees it (the host's: the setting is not namespaced). */
export async function readPipeMaxSize(): Promise<number | undefined> {
  const text = await readFile('/proc/sys/fs/pipe-max-size', 'utf8').catch(() => undefined);
  const value = Number(text?.trim());
  return text !== undefined && Number.isInteger(value) ? value : undefined;
}

/** containerd's runc for its default runtime, and the annotations it passes, from its CRI configuration (CRI Status verbose `config`). */
export interface ContainerdRunc {
  binary: string;
  /** runc's state root for the namespace's containers. */
  root: string;
  containerAnnotations: string[];
}

export function containerdRunc(info: Record<string, string>, namespace: string): ContainerdRunc | undefined {
  let config: { containerd?: { defaultRuntimeName?: string; runtimes?: Record<string, RuntimeConfig> } } | null;
  try {
    config = JSON.parse(info.config ?? '') as typeof config;
  } catch {
    return undefined;
  }
  const runtime = config?.containerd?.runtimes?.[config.containerd.defaultRuntimeName ?? 'runc'];
  if (!runtime) return undefined;
  // The runc shim's defaults (containerd v2.3.7, cmd/containerd-shim-runc-v2/process/init.go): runc, root /run/containerd/runc.
  const root = runtime.options?.Root || '/run/containerd/runc';
  return { binary: runtime.options?.BinaryName || 'runc', root: `${root}/${namespace}`, containerAnnotations: runtime.ContainerAnnotations ?? [] };
}

interface RuntimeConfig {
  ContainerAnnotations?: string[] | null;
  options?: { BinaryName?: string; Root?: string };
}
