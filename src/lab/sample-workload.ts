// The lab's stateful sample pod (deploy/lab/manifests/sample-pod.yaml): deploy it, read its state from
// outside, and judge whether a move kept that state. Shared by `make demo` and the end-to-end tests.
// Every piece of the sample's state lives in memory, so a restart instead of a restore cannot hide:
// the counter's start time changes, the keys vanish, the ballast checksum changes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { apiStatus, type Clusters } from '../kubernetes/clusters.js';

export const SAMPLE_MANIFEST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/lab/manifests/sample-pod.yaml');

export interface SampleState {
  /** Counter ticks (one per 10 ms) and the wall-clock time of the last tick. */
  count: number;
  lastTick: string;
  /** When the counter process started: unchanged by a restore, new after a restart. */
  startedAt: string;
  /** Longest time between two ticks: the downtime as the workload itself saw it. */
  longestGapMs: number;
  keys: Record<string, string>;
  ballastMiB: number;
  checksum: string;
  /** The ballast memory still hashes to what it held at start. */
  ballastIntact: boolean;
}

export interface StateCheck {
  what: string;
  ok: boolean;
  detail: string;
}

async function getJson<T>(url: string, timeoutMs = 3000): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export async function readSampleState(podIp: string): Promise<SampleState> {
  const [counter, keys, ballast] = await Promise.all([
    getJson<{ count: number; lastTick: string; startedAt: string; longestGapMs: number }>(`http://${podIp}:8080/`),
    getJson<Record<string, string>>(`http://${podIp}:8081/`),
    getJson<{ mib: number; checksum: string; initialMatch: boolean }>(`http://${podIp}:8082/`),
  ]);
  return {
    count: counter.count,
    lastTick: counter.lastTick,
    startedAt: counter.startedAt,
    longestGapMs: counter.longestGapMs,
    keys,
    ballastMiB: ballast.mib,
    checksum: ballast.checksum,
    ballastIntact: ballast.initialMatch,
  };
}

export async function putSampleKey(podIp: string, key: string, value: string): Promise<void> {
  const response = await fetch(`http://${podIp}:8081/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
  if (!response.ok) throw new Error(`PUT key ${key} on ${podIp}: HTTP ${response.status}`);
}

/** What a restore must have kept, as checks a person can read. */
export function compareSampleStates(before: SampleState, after: SampleState): StateCheck[] {
  return [
    {
      what: 'counter continued',
      ok: after.startedAt === before.startedAt && after.count >= before.count,
      detail: `count ${before.count} -> ${after.count}, process started ${before.startedAt} (${after.startedAt === before.startedAt ? 'same' : `now ${after.startedAt}`})`,
    },
    {
      what: 'keys survived',
      ok: Object.entries(before.keys).every(([key, value]) => after.keys[key] === value),
      detail: `${JSON.stringify(before.keys)} -> ${JSON.stringify(after.keys)}`,
    },
    {
      what: 'memory checksum unchanged',
      ok: after.checksum === before.checksum && after.ballastIntact,
      detail: `${before.ballastMiB} MiB sha256 ${before.checksum.slice(0, 16)}… -> ${after.checksum.slice(0, 16)}…`,
    },
  ];
}

export async function sampleManifest(overrides: { ballastMiB?: number; name?: string } = {}): Promise<V1Pod> {
  const pod = parse(await readFile(SAMPLE_MANIFEST, 'utf8')) as V1Pod;
  if (overrides.name) pod.metadata!.name = overrides.name;
  if (overrides.ballastMiB !== undefined) {
    const ballast = pod.spec!.containers.find((c) => c.name === 'ballast')!;
    ballast.env = [{ name: 'BALLAST_MIB', value: String(overrides.ballastMiB) }];
  }
  return pod;
}

export async function waitForPod(
  core: CoreV1Api,
  namespace: string,
  name: string,
  until: (pod: V1Pod | undefined) => boolean,
  timeoutMs: number,
): Promise<V1Pod | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await core.readNamespacedPod({ namespace, name }).catch((err: unknown) => {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    });
    if (until(pod)) return pod;
    if (Date.now() > deadline) {
      throw new Error(`pod ${namespace}/${name}: condition not reached in ${timeoutMs / 1000}s; phase ${pod?.status?.phase ?? 'absent'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export const isReady = (pod: V1Pod | undefined) =>
  pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && !!pod.status?.podIP;

/**
 * Removes the sample from every given cluster, then runs a fresh one in `cluster`, on `node` (default: the
 * cluster's first lab node, `<cluster>-node`, so that tests know where it is); returns it once Ready.
 */
export async function deploySample(
  clusters: Clusters,
  cluster: string,
  options: { name?: string; ballastMiB?: number; removeFrom?: string[]; node?: string } = {},
): Promise<V1Pod> {
  const pod = await sampleManifest(options);
  pod.spec!.nodeName = options.node ?? `${cluster}-node`;
  const namespace = pod.metadata!.namespace ?? 'default';
  const name = pod.metadata!.name!;
  for (const c of new Set([cluster, ...(options.removeFrom ?? [])])) {
    const core = clusters.core(c);
    await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch((err: unknown) => {
      if (apiStatus(err) !== 404) throw err;
    });
    await waitForPod(core, namespace, name, (p) => p === undefined, 60_000);
  }
  const core = clusters.core(cluster);
  await core.createNamespacedPod({ namespace, body: pod });
  return (await waitForPod(core, namespace, name, isReady, 120_000))!;
}
