// Load on the lab: ten small stateful pods migrated concurrently from lab-a to lab-b and back, three rounds
// (60 migrations). Every migration must end committed or cleanly rolled back; after each leg every pod runs in
// exactly one cluster, in the same process as before (its counter's start time unchanged, its count higher),
// with its key kept. Prints the downtime distribution and the total time.
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { MigrationResult } from '../../src/api/migration.js';
import { describeFailure, startMigration } from '../../src/client/migrations.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { deploySample, isReady, putSampleKey, readSampleState, waitForPod, type SampleState } from '../../src/lab/sample-workload.js';
import { connectLab, type LabClient } from '../support/lab-daemons.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const PODS = Array.from({ length: 10 }, (_, i) => `load-${i}`);
const ROUNDS = 3;

let lab: LabClient;

beforeAll(async () => {
  lab = await connectLab(config);
}, 180_000);

afterAll(async () => {
  for (const name of PODS) {
    for (const cluster of ['lab-a', 'lab-b']) {
      await clusters.core(cluster).deleteNamespacedPod({ namespace: 'default', name, gracePeriodSeconds: 0 }).catch(() => undefined);
    }
  }
  await lab?.close();
});

/** Where a pod runs now, and its state. */
async function locate(name: string): Promise<{ cluster: string; state: SampleState }[]> {
  const found = [];
  for (const cluster of ['lab-a', 'lab-b']) {
    const pod = await clusters.core(cluster).readNamespacedPod({ namespace: 'default', name }).catch(() => undefined);
    if (!isReady(pod)) continue;
    const state = await readSampleState(pod!.status!.podIP!).catch(() => undefined);
    if (state) found.push({ cluster, state });
  }
  return found;
}

test(`${PODS.length} pods, concurrently from lab-a to lab-b and back, ${ROUNDS} rounds: none lost, none twice`, async () => {
  const started = Date.now();
  const pods = await Promise.all(PODS.map((name) => deploySample(clusters, 'lab-a', { name, ballastMiB: 4, removeFrom: ['lab-b'] })));
  await Promise.all(pods.map((pod) => putSampleKey(pod.status!.podIP!, 'load', pod.metadata!.name!)));
  const origin = new Map(await Promise.all(pods.map(async (pod) => [pod.metadata!.name!, await readSampleState(pod.status!.podIP!)] as const)));

  const downtimes: number[] = [];
  const outcomes: Record<string, number> = {};
  let where = new Map(PODS.map((name) => [name, 'lab-a']));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const leg of [['lab-a', 'lab-b'], ['lab-b', 'lab-a']] as const) {
      const [from, to] = leg;
      const movers = PODS.filter((name) => where.get(name) === from);
      const settled = await Promise.all(
        movers.map(async (name) => {
          const handle = await startMigration(
            lab.client,
            { source: { cluster: from, namespace: 'default', pod: name }, target: { cluster: to, node: `${to}-node` } },
            { taskQueue: config.temporal.taskQueue, migrationId: `load-${round}-${from}-${name}-${Date.now().toString(36)}` },
          );
          return handle.result().then(
            (result: MigrationResult) => ({ name, outcome: 'Succeeded', result }),
            (err: unknown) => ({ name, outcome: describeFailure(err).type ?? 'Error', message: describeFailure(err).message }),
          );
        }),
      );
      const next = new Map(where);
      for (const s of settled) {
        outcomes[s.outcome] = (outcomes[s.outcome] ?? 0) + 1;
        if ('result' in s && s.result) {
          downtimes.push(s.result.downtimeMs);
          next.set(s.name, to);
        } else {
          console.log(`round ${round} ${from}→${to} ${s.name}: ${s.outcome}: ${'message' in s ? s.message : ''}`);
        }
        expect(['Succeeded', 'MigrationRolledBack']).toContain(s.outcome);
      }
      where = next;
      // After the leg: each pod in exactly one cluster, the same process, its key kept, still counting.
      for (const name of PODS) {
        const copies = await locate(name);
        expect({ name, clusters: copies.map((c) => c.cluster) }).toEqual({ name, clusters: [where.get(name)] });
        const before = origin.get(name)!;
        expect({ name, startedAt: copies[0]!.state.startedAt, key: copies[0]!.state.keys.load }).toEqual({ name, startedAt: before.startedAt, key: name });
        expect(copies[0]!.state.count).toBeGreaterThan(before.count);
      }
      await Promise.all(PODS.map((name) => waitForPod(clusters.core(where.get(name) === 'lab-a' ? 'lab-b' : 'lab-a'), 'default', name, (p) => p === undefined, 60_000)));
    }
  }
  const sorted = [...downtimes].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  console.log(
    `load: ${PODS.length} pods x ${ROUNDS} rounds there and back in ${((Date.now() - started) / 1000).toFixed(0)} s; outcomes ${JSON.stringify(outcomes)}; ` +
      `downtime ms p50 ${pct(50)}, p90 ${pct(90)}, max ${sorted.at(-1) ?? 0} (n=${sorted.length}); script: ${path.basename(import.meta.filename)}`,
  );
}, 3_600_000);
