// What happens inside "WaitingReady", read from the target node's containerd log (the lab keeps one per
// node): the kubelet creates the sandbox, then for each container pulls the checkpoint image, creates the
// container (containerd unpacks the checkpoint) and starts it (CRIU restores it); then the readiness probe
// passes and the workflow observes the pod Ready. All times are epoch ms.
import { readFileSync } from 'node:fs';

export interface ContainerRestore {
  container: string;
  pullStart?: number;
  pullEnd?: number;
  createStart?: number;
  createEnd?: number;
  restoreStart?: number;
  restoreEnd?: number;
}

export interface TargetTimeline {
  sandboxStart?: number;
  sandboxEnd?: number;
  containers: ContainerRestore[];
}

const LOG = (node: string) => `/var/lib/podferry-lab/logs/${node}-containerd.log`;
const logCache = new Map<string, { size: number; lines: string[] }>();

function lines(node: string): string[] {
  const text = readFileSync(LOG(node), 'utf8');
  const cached = logCache.get(node);
  if (cached && cached.size === text.length) return cached.lines;
  const all = text.split('\n');
  logCache.set(node, { size: text.length, lines: all });
  return all;
}

const timeOf = (line: string) => Date.parse(/^time="([^"]+)"/.exec(line)?.[1] ?? '');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The target pod's restore steps from containerd's log; undefined when the log is not there (not the lab). */
export function targetTimeline(node: string | undefined, podUid: string, images: Array<{ container: string; ref: string }>): TargetTimeline | undefined {
  if (!node) return undefined;
  let log: string[];
  try {
    log = lines(node);
  } catch {
    return undefined;
  }
  const find = (re: RegExp, from = 0): { index: number; at: number; match: RegExpExecArray } | undefined => {
    for (let i = from; i < log.length; i++) {
      const match = re.exec(log[i]!);
      if (match) return { index: i, at: timeOf(log[i]!), match };
    }
    return undefined;
  };
  const sandboxStart = find(new RegExp(`RunPodSandbox for name:\\\\"[^\\\\]+\\\\"\\s+uid:\\\\"${esc(podUid)}\\\\"`));
  if (!sandboxStart) return undefined;
  const sandboxEnd = find(new RegExp(`uid:\\\\"${esc(podUid)}\\\\".*returns sandbox id \\\\"([0-9a-f]+)\\\\"`), sandboxStart.index);
  const sandbox = sandboxEnd?.match[1];
  const from = sandboxStart.index;
  const containers = images.map(({ container, ref }) => {
    const out: ContainerRestore = { container };
    const pullStart = find(new RegExp(`msg="PullImage \\\\"${esc(ref)}\\\\""`), from);
    const pullEnd = find(new RegExp(`msg="PullImage \\\\"${esc(ref)}\\\\" returns`), from);
    if (pullStart) out.pullStart = pullStart.at;
    if (pullEnd) out.pullEnd = pullEnd.at;
    if (!sandbox) return out;
    const createStart = find(new RegExp(`CreateContainer within sandbox \\\\"${sandbox}\\\\" for container name:\\\\"${esc(container)}\\\\"`), from);
    const createEnd = find(new RegExp(`CreateContainer within sandbox \\\\"${sandbox}\\\\" for name:\\\\"${esc(container)}\\\\" returns container id \\\\"([0-9a-f]+)\\\\"`), from);
    if (createStart) out.createStart = createStart.at;
    if (!createEnd) return out;
    out.createEnd = createEnd.at;
    const id = createEnd.match[1]!;
    const restoreStart = find(new RegExp(`msg="StartContainer for \\\\"${id}\\\\""`), createEnd.index);
    const restoreEnd = find(new RegExp(`msg="StartContainer for \\\\"${id}\\\\" returns successfully`), createEnd.index);
    if (restoreStart) out.restoreStart = restoreStart.at;
    if (restoreEnd) out.restoreEnd = restoreEnd.at;
    return out;
  });
  return {
    ...(Number.isFinite(sandboxStart.at) ? { sandboxStart: sandboxStart.at } : {}),
    ...(sandboxEnd ? { sandboxEnd: sandboxEnd.at } : {}),
    containers,
  };
}
