// Which node can restore a checkpoint taken where: decided before anything is frozen, from what each node's
// kubelet reports (status.nodeInfo.containerRuntimeVersion, e.g. containerd://2.3.7, cri-o://1.34.0) and the
// source containers' runtime ids (containerd://…, cri-o://…), then from what the target node's worker says of
// its runtime (describeRuntime: restore switched on, CRIU). Pure: unit-tested.
//
// A checkpoint restores only on the runtime that took it (read in containerd v2.3.7's
// internal/cri/server/container_checkpoint_linux.go and CRI-O v1.34.0's server/container_restore.go; not
// run on the lab): containerd's restore requires the archive's status.dump (the CRI container status
// containerd writes at checkpoint), which CRI-O's archives do not have; CRI-O's restore requires config.dump's
// rootfsImageRef to be a bare 64-hex image id, where containerd writes the image's repo digest (name@sha256:…).
import type { V1Node } from '@kubernetes/client-node';
import type { RuntimeDescription } from '../api/runtime-description.js';
import type { Refusal } from '../kubernetes/eligibility.js';
import { runtimeOf } from '../node/runtime-id.js';

export interface NodeRuntime {
  name: string;
  version: string;
}

/** The runtime a node's kubelet reports, undefined when it reports none (a Liqo virtual node, a test fixture). */
export function nodeRuntime(node: V1Node): NodeRuntime | undefined {
  const match = /^([a-z0-9-]+):\/\/v?(.+)$/.exec(node.status?.nodeInfo?.containerRuntimeVersion ?? '');
  return match ? { name: match[1]!, version: match[2]! } : undefined;
}

/** The runtime the source's containers run on, from their ids ('' when they name none). */
export function sourceRuntime(containerIds: string[]): string {
  return runtimeOf(containerIds.find(Boolean) ?? '');
}

/**
 * Why a node cannot restore a checkpoint taken by `source`, or undefined when it can (or when it says
 * nothing of its runtime: then the restore itself decides).
 */
export function cannotRestoreBecause(node: V1Node, source: string): string | undefined {
  const runtime = nodeRuntime(node);
  return runtime && source ? runtimeCannotRestore(node.metadata?.name ?? '', runtime, source) : undefined;
}

/** Why a node running `runtime` cannot restore what `source` checkpointed (another runtime, a containerd outside 2.1-2.3). */
function runtimeCannotRestore(name: string, runtime: NodeRuntime, source: string): string | undefined {
  if (runtime.name !== source) {
    return (
      `node ${name} runs ${runtime.name} ${runtime.version} and the pod runs on ${source}: a checkpoint restores only on the runtime that took it ` +
      `(${runtime.name === 'containerd' ? "containerd's restore needs status.dump, which CRI-O's archives do not have" : "CRI-O's restore needs config.dump's rootfsImageRef as a bare image id, containerd writes a repo digest"})`
    );
  }
  if (runtime.name === 'containerd') {
    const [major, minor] = runtime.version.split('.').map(Number);
    const supported = major === 2 && minor !== undefined && minor >= 1 && minor <= 3;
    if (!supported) {
      return (
        `node ${name} runs containerd ${runtime.version}, which cannot restore containers from checkpoint images ` +
        '(only containerd 2.1 to 2.3 can, with enable_experimental_restore_via_create; 2.4 removed it)'
      );
    }
  }
  return undefined;
}

/**
 * What the target node's worker says of its runtime, judged before anything is frozen: another runtime than
 * the source's, a containerd outside 2.1-2.3 or restore switched off are refused (TargetCannotRestore, naming
 * the setting to change). CRIU: a target whose CRIU is an older release (major.minor) than the source's is
 * refused too: CRIU restores the images of its own and earlier releases, while a newer one may dump what an
 * older one does not know, and a failed restore costs the whole downtime before the rollback. An older patch
 * level only warns (patch releases fix, they do not change the image format); an unknown version warns.
 */
export function describedRestoreCheck(
  target: RuntimeDescription,
  source: RuntimeDescription | undefined,
  sourceRuntimeName: string,
): { refusal?: Refusal; warnings: string[] } {
  const where = `node ${target.node} (${target.runtime} ${target.version})`;
  const runtimeWhy = sourceRuntimeName ? runtimeCannotRestore(target.node, { name: target.runtime, version: target.version }, sourceRuntimeName) : undefined;
  if (runtimeWhy) return { refusal: { type: 'TargetCannotRestore', message: `${runtimeWhy}: choose a node of the same runtime` }, warnings: [] };
  if (!target.restore.enabled) {
    return {
      refusal: {
        type: 'TargetCannotRestore',
        message: `${where} cannot restore containers from checkpoint images${target.restore.reason ? ` (${target.restore.reason})` : ''}: set ${target.restore.setting} on that node and restart its runtime, or choose another node`,
      },
      warnings: [],
    };
  }
  const targetCriu = target.criu.version;
  const sourceCriu = source?.criu.version;
  if (!targetCriu || !sourceCriu) {
    const unknown = !targetCriu ? `${where}: ${target.criu.error ?? 'not reported'}` : `source node ${source?.node ?? '(no answer)'}: ${source?.criu.error ?? 'not reported'}`;
    return { warnings: [`CRIU versions not compared (${unknown})`] };
  }
  const order = compareVersions(targetCriu, sourceCriu);
  if (order.minor < 0) {
    return {
      refusal: {
        type: 'TargetCannotRestore',
        message:
          `${where} has CRIU ${targetCriu}, an older release than CRIU ${sourceCriu} on the source node ${source!.node}: CRIU restores the images of its own and earlier releases, ` +
          `not necessarily of later ones: install CRIU ${sourceCriu} or later on node ${target.node} (${target.criu.binary}), or choose another node`,
      },
      warnings: [],
    };
  }
  return order.patch < 0 ? { warnings: [`${where} has CRIU ${targetCriu}, an older patch level than ${sourceCriu} on the source node ${source!.node}`] } : { warnings: [] };
}

/** Sign of a vs b by major.minor, and by the whole version (numeric parts). */
export function compareVersions(a: string, b: string): { minor: number; patch: number } {
  const parts = (v: string) => v.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  const [pa, pb] = [parts(a), parts(b)];
  const sign = (n: number) => Math.sign(n);
  const upTo = (count: number) => {
    for (let i = 0; i < count; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return sign((pa[i] ?? 0) - (pb[i] ?? 0));
    return 0;
  };
  return { minor: upTo(2), patch: upTo(Math.max(pa.length, pb.length)) };
}

/** The refusal of a move whose target cannot restore (named node, or every node the scheduler may choose). */
export function restoreRefusal(source: string, named: V1Node | undefined, candidates: V1Node[]): Refusal | undefined {
  if (named) {
    const why = cannotRestoreBecause(named, source);
    return why ? { type: 'TargetCannotRestore', message: `${why}: choose a node of the same runtime` } : undefined;
  }
  const unable = candidates.map((n) => ({ node: n.metadata?.name ?? '', why: cannotRestoreBecause(n, source) })).filter((c) => c.why);
  if (unable.length === 0) return undefined;
  const able = candidates.filter((n) => !cannotRestoreBecause(n, source)).map((n) => n.metadata?.name ?? '');
  return {
    type: 'TargetCannotRestore',
    message:
      `${unable.map((u) => u.why).join('; ')}: ` +
      (able.length > 0 ? `pass a target node that can (${able.join(', ')}), so the scheduler does not choose one that cannot` : 'no node of the target cluster can restore this pod'),
  };
}
