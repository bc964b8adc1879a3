// The podferry ways: one migration of the bench pod lab-a → lab-b, parallel through the registry (as it
// ships), sequential (options.parallel=false), node to node (direct), node to node post-copy (postcopy), or leaving
// the pulls to the kubelet (kubelet-pull); or on CRI-O, lab-c → lab-c into another namespace (crio); or through Liqo onto lab-a's virtual node (liqo); measured from outside (workload gap, client gap) and from inside (the result's
// downtime, phases and containers; the workflow history for the time no activity was running).
import type { Client } from '@temporalio/client';
import type { MigratePodInput, MigrationResult } from '../api/migration.js';
import { startMigration } from '../client/migrations.js';
import { apiStatus, type Clusters } from '../kubernetes/clusters.js';
import { offloadNamespace } from '../lab/liqo.js';
import { GapProbe } from './gap-probe.js';
import { targetTimeline, type TargetTimeline } from './target-timeline.js';
import { BENCH_NAMESPACE, BENCH_POD, deployBenchPod, FIRST_PORT, readCounters, removeBenchPod, observeWorkload, type BenchPlace, type WorkloadObservation } from './workload.js';

/** Where a way moves the bench pod: from the source cluster's BENCH_NAMESPACE to a node (and namespace) of the target. */
export interface BenchRoute {
  sourceCluster: string;
  target: BenchPlace & { node: string };
  /** The target namespace is offloaded by Liqo (the target node is a virtual node). */
  liqo?: boolean;
}

/** containerd → containerd: lab-a → lab-b. */
export const CONTAINERD_ROUTE: BenchRoute = { sourceCluster: 'lab-a', target: { cluster: 'lab-b', namespace: BENCH_NAMESPACE, node: 'lab-b-node' } };
/** CRI-O → CRI-O: lab-c has one node and a checkpoint restores only on the runtime that took it, so into another namespace. */
export const CRIO_ROUTE: BenchRoute = { sourceCluster: 'lab-c', target: { cluster: 'lab-c', namespace: 'podferry-bench-moved', node: 'lab-c-node' } };
/** Through Liqo: onto lab-a's virtual node for lab-b (deploy/lab/liqo.sh); the pod runs restored on lab-b-node. */
export const LIQO_ROUTE: BenchRoute = { sourceCluster: 'lab-a', target: { cluster: 'lab-a', namespace: 'podferry-bench-liqo', node: 'lab-b' }, liqo: true };

/** The places a route's bench pods live in (to remove them). */
export function routePlaces(route: BenchRoute): BenchPlace[] {
  return [{ cluster: route.sourceCluster, namespace: BENCH_NAMESPACE }, route.target];
}

export interface ActivitySpan {
  type: string;
  scheduledAt: number;
  startedAt: number;
  closedAt: number;
}

export interface HistoryProfile {
  /** Activities of the migration with their times (epoch ms). */
  activities: ActivitySpan[];
  /** The downtime window as the history sees it: freezePod started → waitPodReady closed. */
  windowMs: number;
  /** Time inside that window when no activity was running: workflow tasks, scheduling, queue latency. */
  orchestrationMs: number;
  /** Per activity type inside the window: summed queue latency (scheduled → started). */
  queueLatencyMs: number;
}

export interface MigrationRun extends WorkloadObservation {
  migrationId: string;
  result: MigrationResult;
  history?: HistoryProfile;
  /** The target node's restore steps, from its containerd log (lab only). */
  targetTimeline?: TargetTimeline;
  sourceIp: string;
  targetIp: string;
  deployMs: number;
}

export async function runMigration(
  client: Client,
  clusters: Clusters,
  route: BenchRoute,
  taskQueue: string,
  containers: number,
  ballastMiB: number,
  options: Pick<MigratePodInput['options'], 'mode' | 'parallel' | 'transfer' | 'pullOnTarget' | 'checkpointVia'>,
): Promise<MigrationRun> {
  const deployStarted = Date.now();
  const { target } = route;
  if (route.liqo) await offloadNamespace(clusters, target.cluster, target.namespace);
  else if (target.namespace !== BENCH_NAMESPACE) {
    await clusters.core(target.cluster).createNamespace({ body: { metadata: { name: target.namespace } } }).catch((err: unknown) => {
      if (apiStatus(err) !== 409) throw err;
    });
  }
  const source = await deployBenchPod(clusters, route.sourceCluster, containers, ballastMiB, [target]);
  const deployMs = Date.now() - deployStarted;
  const sourceIp = source.status!.podIP!;
  const before = await readCounters(sourceIp, containers);

  // The target's address is known once its sandbox exists; watch for it so the probe can follow the pod.
  let targetIp: string | undefined;
  let watching = true;
  const targetCore = clusters.core(target.cluster);
  const watcher = (async () => {
    while (watching && !targetIp) {
      const pod = await targetCore.readNamespacedPod({ namespace: target.namespace, name: BENCH_POD }).catch(() => undefined);
      targetIp = pod?.status?.podIP || undefined;
      if (!targetIp) await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const ports = Array.from({ length: containers }, (_, i) => FIRST_PORT + i);
  const probe = new GapProbe(() => (targetIp ? [sourceIp, targetIp] : [sourceIp]), ports);
  probe.start();
  await new Promise((r) => setTimeout(r, 300)); // a few answers before the freeze

  let result: MigrationResult;
  const kind = options.mode === 'postcopy' ? 'pc' : !options.pullOnTarget ? 'kub' : !options.parallel ? 'seq' : options.transfer === 'direct' ? 'dir' : 'par';
  const migrationId = `bench-${kind}-${route.sourceCluster}-${containers}x${ballastMiB}-${Date.now().toString(36)}`;
  try {
    const handle = await startMigration(
      client,
      {
        source: { cluster: route.sourceCluster, namespace: BENCH_NAMESPACE, pod: BENCH_POD },
        target: { cluster: target.cluster, namespace: target.namespace, node: target.node },
        options,
      },
      { taskQueue, migrationId },
    );
    result = await handle.result();
    // The client gap ends at the first answer from the target: give it a moment after Ready.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(targetIp && ports.every((p) => probe.answeredFrom(targetIp!, p)))) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    watching = false;
    await watcher.catch(() => undefined);
  }
  const clientView = await probe.stop();
  if (!targetIp) throw new Error('the target pod has no IP after the migration');
  const after = await readCounters(targetIp, containers);
  let history: HistoryProfile | undefined;
  try {
    history = profileHistory(await client.workflow.getHandle(migrationId).fetchHistory());
  } catch {
    history = undefined;
  }
  const timeline = targetTimeline(result.target.node, result.target.uid, result.images.map((i) => ({ container: i.container, ref: i.ref })));
  await removeBenchPod(clusters, [target]);
  return {
    ...(timeline ? { targetTimeline: timeline } : {}),
    migrationId,
    result,
    ...observeWorkload(before, after, clientView),
    ...(history ? { history } : {}),
    sourceIp,
    targetIp,
    deployMs,
  };
}

type Timestamp = { seconds?: { toNumber(): number } | number | string | null; nanos?: number | null } | null | undefined;
const tsMs = (t: Timestamp): number => {
  if (!t) return 0;
  const s = t.seconds;
  const seconds = s == null ? 0 : typeof s === 'object' ? s.toNumber() : Number(s);
  return seconds * 1000 + (t.nanos ?? 0) / 1e6;
};
type EventId = { toString(): string } | number | null | undefined;
const idOf = (id: EventId): string => String(id ?? '');

/**
 * From the workflow history: every activity's scheduled/started/closed times, and how much of the downtime
 * window (freezePod started → waitPodReady closed) had no activity running. That remainder is what Temporal
 * itself costs inside the downtime: workflow tasks deciding the next step, and tasks waiting in queues.
 */
export function profileHistory(history: { events?: readonly object[] | null }): HistoryProfile {
  const scheduled = new Map<string, { type: string; at: number }>();
  const started = new Map<string, number>();
  const activities: ActivitySpan[] = [];
  for (const raw of history.events ?? []) {
    const event = raw as {
      eventId?: EventId;
      eventTime?: Timestamp;
      activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
      activityTaskStartedEventAttributes?: { scheduledEventId?: EventId } | null;
      activityTaskCompletedEventAttributes?: { scheduledEventId?: EventId } | null;
      activityTaskFailedEventAttributes?: { scheduledEventId?: EventId } | null;
      activityTaskTimedOutEventAttributes?: { scheduledEventId?: EventId } | null;
    };
    const at = tsMs(event.eventTime);
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(idOf(event.eventId), { type: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    } else if (event.activityTaskStartedEventAttributes) {
      started.set(idOf(event.activityTaskStartedEventAttributes.scheduledEventId), at);
    } else {
      const closed =
        event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
      if (!closed) continue;
      const id = idOf(closed.scheduledEventId);
      const s = scheduled.get(id);
      if (!s) continue;
      activities.push({ type: s.type, scheduledAt: s.at, startedAt: started.get(id) ?? s.at, closedAt: at });
    }
  }
  const freeze = activities.find((a) => a.type === 'freezePod');
  const ready = [...activities].reverse().find((a) => a.type === 'waitPodReady');
  if (!freeze || !ready) return { activities, windowMs: 0, orchestrationMs: 0, queueLatencyMs: 0 };
  const [from, to] = [freeze.startedAt, ready.closedAt];
  const inside = activities
    .filter((a) => a.closedAt > from && a.startedAt < to)
    .map((a) => [Math.max(a.startedAt, from), Math.min(a.closedAt, to)] as const)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let end = from;
  for (const [s, e] of inside) {
    if (e <= end) continue;
    covered += e - Math.max(s, end);
    end = e;
  }
  const queueLatencyMs = activities
    .filter((a) => a.scheduledAt >= from && a.scheduledAt < to)
    .reduce((sum, a) => sum + (a.startedAt - a.scheduledAt), 0);
  return { activities, windowMs: to - from, orchestrationMs: to - from - covered, queueLatencyMs };
}
