// The benchmark's workload: a pod of N containers, each the sample's `counter` role holding S MiB of random
// memory (BALLAST_MIB) on its own port (8080+i). Every counter reports the longest time it saw no tick,
// which is the downtime as the workload itself lives it; the pod's figure is the maximum over its counters.
import type { ProbeResult } from './gap-probe.js';
import http from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { apiStatus, type Clusters } from '../kubernetes/clusters.js';
import { isReady, waitForPod } from '../lab/sample-workload.js';

export const SAMPLE_IMAGE = '10.231.0.1:5000/podferry/sample:lab';
export const BENCH_NAMESPACE = 'default';
export const BENCH_POD = 'bench';
export const FIRST_PORT = 8080;

export interface CounterState {
  count: number;
  lastTick: string;
  startedAt: string;
  longestGapMs: number;
  longestGapEnded: string;
  ballastMiB: number;
}

export function benchPod(containers: number, ballastMiB: number, name = BENCH_POD): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: BENCH_NAMESPACE, labels: { 'app.kubernetes.io/name': 'podferry-bench' } },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 1,
      containers: Array.from({ length: containers }, (_, i) => ({
        name: `c${i}`,
        image: SAMPLE_IMAGE,
        imagePullPolicy: 'IfNotPresent',
        args: ['counter'],
        env: [
          { name: 'BALLAST_MIB', value: String(ballastMiB) },
          { name: 'PORT', value: String(FIRST_PORT + i) },
        ],
        ports: [{ name: `counter-${i}`, containerPort: FIRST_PORT + i }],
        resources: { requests: { cpu: '10m', memory: `${ballastMiB + 16}Mi` } },
        readinessProbe: { httpGet: { path: '/', port: FIRST_PORT + i }, periodSeconds: 1 },
      })),
    },
  };
}

/** Where a bench pod lives (the source is always in BENCH_NAMESPACE; a target may be in another namespace). */
export interface BenchPlace {
  cluster: string;
  namespace: string;
}

/** Deletes the bench pod in every given place and waits until it is gone. */
export async function removeBenchPod(clusters: Clusters, from: BenchPlace[], name = BENCH_POD): Promise<void> {
  await Promise.all(
    from.map(async ({ cluster, namespace }) => {
      const core = clusters.core(cluster);
      await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch((err: unknown) => {
        if (apiStatus(err) !== 404) throw err;
      });
      await waitForPod(core, namespace, name, (p) => p === undefined, 90_000);
    }),
  );
}

/** A fresh bench pod in `cluster`'s BENCH_NAMESPACE (removed from `alsoRemoveFrom` first), returned once Ready. */
export async function deployBenchPod(clusters: Clusters, cluster: string, containers: number, ballastMiB: number, alsoRemoveFrom: BenchPlace[]): Promise<V1Pod> {
  await removeBenchPod(clusters, [{ cluster, namespace: BENCH_NAMESPACE }, ...alsoRemoveFrom]);
  const core = clusters.core(cluster);
  await core.createNamespacedPod({ namespace: BENCH_NAMESPACE, body: benchPod(containers, ballastMiB) });
  return (await waitForPod(core, BENCH_NAMESPACE, BENCH_POD, isReady, 180_000))!;
}

/** GET a counter with a fresh connection (no pooling: a frozen endpoint must not hold the client's pool). */
export function getCounter(host: string, port: number, timeoutMs = 2000): Promise<CounterState> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path: '/', agent: false, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`GET http://${host}:${port}/: HTTP ${response.statusCode}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as CounterState);
        } catch (err) {
          reject(err as Error);
        }
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET http://${host}:${port}/: no answer in ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

/** Every counter of a pod (ports FIRST_PORT..FIRST_PORT+n-1), retried briefly: right after a restore a port may lag. */
export async function readCounters(host: string, containers: number, firstPort = FIRST_PORT, attempts = 20): Promise<CounterState[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await Promise.all(Array.from({ length: containers }, (_, i) => getCounter(host, firstPort + i)));
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Whether every counter was restored (same process start, count went on), and each counter's own longestGapMs (CLOCK_MONOTONIC). */
/** What one run saw of the workload, whichever way it moved: the same fields in every way's record. */
export interface WorkloadObservation {
  /** Max over the counters of the wall-clock tick gap (see gap-probe.ts). */
  workloadGapMs: number;
  /** Each counter's own longestGapMs (CLOCK_MONOTONIC). */
  monotonicGapMs: number[];
  /** Every counter kept its process (start time) and went on counting. */
  restored: boolean;
  before: CounterState[];
  after: CounterState[];
  client: ProbeResult;
}

export function observeWorkload(before: CounterState[], after: CounterState[], client: ProbeResult): WorkloadObservation {
  return {
    workloadGapMs: Math.max(...client.counters.map((c) => c.wallGapMs)),
    monotonicGapMs: after.map((a) => a.longestGapMs),
    restored: after.every((a, i) => a.startedAt === before[i]?.startedAt && a.count >= (before[i]?.count ?? 0)),
    before,
    after,
    client,
  };
}
