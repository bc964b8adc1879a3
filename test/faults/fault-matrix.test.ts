// The safety invariants under real faults, on the lab: real Temporal, API servers, kubelets, containerd +
// runc + CRIU, the registry, and podferry's own workers as lab daemons (deploy/lab/workers.sh). Each cell
// migrates the stateful sample pod from lab-a to lab-b, injects one fault at one step (a process killed with
// SIGKILL and started again, a daemon stalled with SIGSTOP, a node cut off with iptables, a full disk, a
// corrupted blob, the workflow terminated, a second migration of the same pod) and a probe samples both
// copies' counters every 10 ms. Two cells move a Deployment's pod within lab-a instead (lab-a-node to lab-a-node2,
// AdoptByReplicaSet) with lab-a's controller manager stalled or killed at the hand-over. Three cells move it post-copy
// (options.mode: postcopy), with a worker killed before and while the pages stream, and the source's page servers
// killed while they do. Every cell checks:
//   1. never twice: the two copies never tick at the same time;
//   2. never lost: at the end one copy ticks, continuing from the value it was frozen at in the same process
//      (restored, not restarted); or, only when the target could not be proven stopped (or, post-copy, it ran),
//      the source is held frozen and the failure says so;
//   3. bounded freeze where the cell sets options.maxFrozenSeconds.
// The outcome table is written to docs/reliability.md. Run alone: npm run test:faults (the lab must be up).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, openSync, readSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure, CancelledFailure } from '@temporalio/common';
import type { DrainReport } from '../../src/api/drain.js';
import type { MigratePodRequest, MigrationPhase } from '../../src/api/migration.js';
import type { RebalanceRequest, RebalanceSummary } from '../../src/api/placement-policy.js';
import { checkpointImageTag } from '../../src/api/names.js';
import { controllingReplicaSet, replicaSetCopyName } from '../../src/planning/replicaset-handover.js';
import { describeFailure, resumeHeldSource, startMigration, type MigrationHandle } from '../../src/client/migrations.js';
import { startDrain } from '../../src/client/operations.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { deploySample, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { RegistryClient } from '../../src/registry/client.js';
import { childMigrationId } from '../../src/workflows/operations-definitions.js';
import { connectLab, cutOffNode, daemonPid, ensureWorkers, isDaemonRunning, killDaemon, resumeDaemon, stallDaemon, type KilledDaemon, type LabClient } from '../support/lab-daemons.js';
import { OwnedSample } from '../support/owned-workloads.js';
import { TwoCopiesProbe } from '../support/two-copies-probe.js';

const root = path.resolve(import.meta.dirname, '../..');
const config = loadConfig();
const clusters = new Clusters(config.clusters);
const CONTAINERS = ['counter', 'kv', 'ballast'];
const LAB_STATE = process.env.PODFERRY_LAB_STATE ?? '/var/lib/podferry-lab';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let lab: LabClient;

interface CellContext {
  handle: MigrationHandle;
  /** Resolves once the migration has entered the phase (memo, so no worker is needed to answer). */
  phase: (phase: MigrationPhase, timeoutMs?: number) => Promise<void>;
  /** Resolves once the source ticks again (after a rollback), or rejects after timeoutMs. */
  sourceRuns: (timeoutMs: number) => Promise<void>;
  sourceIp: string;
}

/** Undoes the fault (restarts what was killed, resumes what was stalled, ...). */
type Heal = () => void | Promise<void>;
/** Checks a cell's own promise once the migration has ended (and puts back what the cell changed): problems found. */
type Verify = () => Promise<string[]>;

interface Injected {
  heal?: Heal;
  healWhen?: 'at-once' | 'source-runs' | 'after-outcome';
  healAfterMs?: number;
  verify?: Verify;
}

interface Started {
  handle: MigrationHandle;
  verify: Verify;
}

interface Cell {
  name: string;
  options?: MigratePodRequest['options'];
  /** Waits for its moment, injects the fault, and says how and when to heal it. */
  inject: (ctx: CellContext) => Promise<Injected | void>;
  /** Starts the migration another way than one startMigration (through a drain and a rebalance run). */
  start?: (stamp: string) => Promise<Started>;
  /** Outcomes this cell may end with (the invariants hold for each). */
  outcomes: string[];
  /** The freeze the workload may see at most (ms), when the cell bounds it. */
  maxFrozenMs?: number;
  /** A second migration started beside the first (the lock cell). */
  rival?: boolean;
  /** The pod moved: the standalone sample to lab-b (default), or the pod of a Deployment of 1 to lab-a-node2. */
  workload?: 'deployment';
}

interface Row {
  cell: string;
  outcome: string;
  running: string;
  frozenMs: number;
  leftovers: string[];
  ok: boolean;
  detail: string;
}
const rows: Row[] = [];

const restart = (killed: KilledDaemon) => () => killed.restart();

/** One of podferry's lab workers killed with SIGKILL when the migration enters `phase`; workers.sh starts it again after `backAfterMs`. */
function workerKilled(who: string, worker: string, during: string, phase: MigrationPhase, backAfterMs: number, outcomes = ['Succeeded', 'MigrationRolledBack']): Cell {
  return {
    name: `${who} killed (SIGKILL) ${during}, back after ${backAfterMs / 1000} s`,
    inject: async ({ phase: entered }) => {
      await entered(phase);
      killDaemon(worker);
      return { heal: () => ensureWorkers(), healAfterMs: backAfterMs };
    },
    outcomes,
  };
}

/** The cell, moving the pod post-copy (options.mode: postcopy). */
function postCopy(cell: Cell): Cell {
  return { ...cell, name: `post-copy: ${cell.name}`, options: { ...cell.options, mode: 'postcopy' } };
}

const cells: Cell[] = [
  workerKilled('orchestrator worker', 'podferry-orchestrator', 'during freeze', 'Freezing', 5000),
  workerKilled('orchestrator worker', 'podferry-orchestrator', 'during checkpoint', 'Checkpointing', 5000),
  workerKilled('orchestrator worker', 'podferry-orchestrator', 'during push', 'Pushing', 5000),
  workerKilled('orchestrator worker', 'podferry-orchestrator', 'during wait-ready', 'WaitingReady', 5000),
  workerKilled('orchestrator worker', 'podferry-orchestrator', 'right after the commit', 'DeletingSource', 5000, ['Succeeded']),
  workerKilled('source node worker', 'podferry-node-lab-a-node', 'during freeze', 'Freezing', 2000),
  workerKilled('source node worker', 'podferry-node-lab-a-node', 'during checkpoint', 'Checkpointing', 2000),
  workerKilled('source node worker', 'podferry-node-lab-a-node', 'during push', 'Pushing', 2000),
  workerKilled('target node worker', 'podferry-node-lab-b-node', 'during the pull ahead', 'Pushing', 2000),
  {
    // Stalled before the copy is Ready, so the hand-over surely meets it: the ReplicaSet can choose neither pod.
    name: "lab-a's controller manager stalled (SIGSTOP) from wait-ready through a ReplicaSet hand-over, resumed after the outcome",
    workload: 'deployment',
    inject: async ({ phase }) => {
      await phase('WaitingReady');
      stallDaemon('lab-a-controller-manager');
      return { heal: () => resumeDaemon('lab-a-controller-manager'), healWhen: 'after-outcome' };
    },
    outcomes: ['MigrationRolledBack'],
  },
  {
    name: "lab-a's controller manager killed (SIGKILL) before a ReplicaSet hand-over, back after 5 s",
    workload: 'deployment',
    inject: async ({ phase }) => {
      await phase('WaitingReady');
      const killed = killDaemon('lab-a-controller-manager');
      return { heal: restart(killed), healAfterMs: 5000 };
    },
    outcomes: ['Succeeded', 'MigrationRolledBack'],
  },
  // Post-copy (options.mode: postcopy): the commit point is the target's creation, the pages stream after it.
  postCopy(workerKilled('source node worker', 'podferry-node-lab-a-node', 'during the lazy checkpoint', 'Checkpointing', 2000)),
  // The target's lazy-pages daemons outlive their worker: a new one learns how they ended.
  postCopy(workerKilled('target node worker', 'podferry-node-lab-b-node', 'while the pages stream', 'WaitingReady', 2000, ['Succeeded'])),
  postCopy({
    // The window in which a failure is worse: the target runs without the pages the source still holds.
    name: "the source's page servers killed (SIGKILL) while the pages stream",
    inject: async ({ phase }) => {
      await phase('WaitingReady');
      console.log(`page servers killed: ${killPageServers()}`);
    },
    // Every page may have arrived before the kill: committed. Otherwise the target dies, the source is held.
    outcomes: ['MigrationFailed', 'Succeeded'],
  }),
  {
    name: 'registry stalled (SIGSTOP) during push, maxFrozenSeconds 15',
    options: { maxFrozenSeconds: 15 },
    inject: async ({ phase }) => {
      await phase('Pushing');
      stallDaemon('checkpoint-registry');
      return { heal: () => resumeDaemon('checkpoint-registry'), healWhen: 'source-runs' };
    },
    outcomes: ['MigrationRolledBack', 'Succeeded'],
    maxFrozenMs: 15_000 + 10_000,
  },
  {
    name: 'registry killed during push, back once the source runs again',
    inject: async ({ phase }) => {
      await phase('Pushing');
      const killed = killDaemon('checkpoint-registry');
      return { heal: restart(killed), healWhen: 'source-runs' };
    },
    outcomes: ['MigrationRolledBack', 'Succeeded'],
  },
  {
    name: 'target API server killed during create, back after 10 s',
    inject: async ({ phase }) => {
      await phase('CreatingTarget');
      const killed = killDaemon('lab-b-apiserver');
      return { heal: restart(killed), healAfterMs: 10_000 };
    },
    outcomes: ['Succeeded', 'MigrationRolledBack'],
  },
  {
    name: 'target API server killed during wait-ready, back after 10 s',
    inject: async ({ phase }) => {
      await phase('WaitingReady');
      const killed = killDaemon('lab-b-apiserver');
      return { heal: restart(killed), healAfterMs: 10_000 };
    },
    outcomes: ['Succeeded', 'MigrationRolledBack'],
  },
  {
    name: 'target node cut off (iptables in its netns) during wait-ready, reconnected after the outcome',
    options: { maxFrozenSeconds: 20, readyTimeoutSeconds: 20 },
    inject: async ({ phase }) => {
      await phase('WaitingReady');
      return { heal: cutOffNode('lab-b-node'), healWhen: 'after-outcome' };
    },
    // Ready before the cut: committed. Otherwise the target cannot be proven stopped: the source is held frozen.
    outcomes: ['Succeeded', 'MigrationFailed', 'MigrationRolledBack'],
  },
  {
    name: 'source containerd stalled (SIGSTOP) during freeze, resumed after 25 s',
    inject: async ({ phase }) => {
      await phase('Freezing');
      stallDaemon('lab-a-node-containerd');
      return { heal: () => resumeDaemon('lab-a-node-containerd'), healAfterMs: 25_000 };
    },
    outcomes: ['Succeeded', 'MigrationRolledBack'],
  },
  {
    name: "checkpoint directory full (1 MiB tmpfs over the node worker's archive directory)",
    inject: async () => {
      // Where the runtime writes the archives the node worker asks for (node.archiveDir, config/lab.yaml).
      const dir = path.join(LAB_STATE, 'podferry-node/checkpoints/lab-a/lab-a-node');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'podferry-fault-full', dir]);
      return {
        heal: () => {
          execFileSync('umount', [dir]);
        },
        healWhen: 'after-outcome',
      };
    },
    outcomes: ['MigrationRolledBack'],
  },
  {
    name: 'corrupted checkpoint blob in the registry (kubelet pulls it)',
    options: { pullOnTarget: false },
    inject: async ({ phase }) => {
      await phase('CreatingTarget');
      corruptNewestBlob();
    },
    outcomes: ['MigrationRolledBack', 'Succeeded'],
  },
  {
    name: 'Temporal server killed during push, back after 3 s',
    inject: async ({ phase }) => {
      await phase('Pushing');
      const killed = killDaemon('temporal');
      return { heal: restart(killed), healAfterMs: 3000 };
    },
    outcomes: ['Succeeded', 'MigrationRolledBack'],
  },
  {
    name: 'workflow terminated while the source is frozen (maxFrozenSeconds 10: the node sweeps it 20 s after the freeze)',
    options: { maxFrozenSeconds: 10 },
    inject: async ({ phase, handle }) => {
      await phase('Pushing');
      await handle.terminate('fault matrix: terminated while the source is frozen');
    },
    outcomes: ['Terminated'],
    maxFrozenMs: 20_000 + 2 * 15_000,
  },
  {
    name: 'two starts of the same pod with different ids',
    rival: true,
    inject: async () => undefined,
    outcomes: ['Succeeded', 'MigrationRolledBack'],
  },
  {
    name: 'a drain of lab-a-node and a rebalance run pick the same pod',
    start: drainAndRebalance,
    inject: async () => undefined,
    outcomes: ['Succeeded'],
  },
  {
    name: 'orchestrator worker replaced during push by a newer build with changed workflow code (patched)',
    inject: async ({ phase, handle }) => {
      await phase('Pushing');
      const newer = newerBuild();
      const killed = killDaemon('podferry-orchestrator');
      return {
        heal: () => killed.restart((argv) => argv.map((arg) => arg.replace(`${root}/dist/`, `${newer}/`))),
        healAfterMs: 2000,
        verify: async () => {
          const memo = (await handle.describe()).memo as { build?: string } | undefined;
          // Back to the current build for the next cells (workers.sh keeps a running worker of the same build stamp).
          process.kill(daemonPid('podferry-orchestrator'), 'SIGTERM');
          for (let i = 0; i < 300 && isDaemonRunning('podferry-orchestrator'); i++) await sleep(100);
          return memo?.build === 'newer' ? [] : [`the newer build did not finish the migration (memo build: ${memo?.build ?? 'unset'})`];
        },
      };
    },
    outcomes: ['Succeeded'],
  },
];

/**
 * The migration the way a drain and a scheduled rebalance run start it, both at once, for the same pod: both
 * start their migratePod child under the pod's own id, so one of them moves it and the other leaves it to that
 * migration (MigrationInProgress), or finds it gone; the pod moves exactly once.
 */
async function drainAndRebalance(stamp: string): Promise<Started> {
  const label = { key: 'podferry.io/fault', value: 'drain-rebalance' };
  await clusters.core('lab-a').patchNamespacedPod({
    namespace: 'default',
    name: 'sample',
    body: [
      { op: 'add', path: `/metadata/labels/${label.key.replace('/', '~1')}`, value: label.value },
      { op: 'add', path: '/metadata/annotations/podferry.io~1preferred-cluster', value: 'lab-b' },
    ],
  });
  const migrationId = childMigrationId({ cluster: 'lab-a', namespace: 'default', name: 'sample' });
  const startedAt = Date.now();
  const drain = await startDrain(
    lab.client,
    { source: { cluster: 'lab-a', node: 'lab-a-node' }, target: { cluster: 'lab-b', node: 'lab-b-node' }, podSelector: `${label.key}=${label.value}` },
    { taskQueue: config.temporal.taskQueue, drainId: `fault-drain-${stamp}` },
  );
  const rebalanceRequest: RebalanceRequest = { policy: { inline: { selector: { matchLabels: { [label.key]: label.value } }, clusters: ['lab-a', 'lab-b'] } } };
  const rebalance = await lab.client.workflow.start('rebalance', { args: [rebalanceRequest], taskQueue: config.temporal.taskQueue, workflowId: `fault-rebalance-${stamp}` });

  // The first run of the pod's migration id that started after them (earlier cells' runs are closed).
  let handle: MigrationHandle | undefined;
  while (!handle) {
    const run = await lab.client.workflow.getHandle(migrationId).describe().catch(() => undefined);
    if (run && run.startTime.getTime() >= startedAt - 1000) handle = lab.client.workflow.getHandle(migrationId, run.runId);
    else if (Date.now() - startedAt > 60_000) throw new Error(`neither the drain nor the rebalance run started ${migrationId} within 60 s`);
    else await sleep(50);
  }

  return {
    handle,
    verify: async () => {
      const [report, summary] = [(await drain.result()) as DrainReport, (await rebalance.result()) as RebalanceSummary];
      await clusters.core('lab-a').patchNode({ name: 'lab-a-node', body: [{ op: 'add', path: '/spec/unschedulable', value: false }] });
      const moves = report.moved.filter((m) => m.name === 'sample').length + summary.moved.filter((m) => m.name === 'sample').length;
      const problems: string[] = [];
      if (moves !== 1) problems.push(`the pod was reported moved ${moves} times (drain: ${JSON.stringify(report.moved)}, rebalance: ${JSON.stringify(summary.moved)})`);
      // The one that did not move it left it to the other's migration, or found it locked or gone.
      const strays = [...report.failed, ...report.skipped, ...summary.failed, ...summary.skipped].filter((f) => !['MigrationInProgress', 'PodLocked', 'PodNotFound'].includes(f.type ?? ''));
      if (strays.length > 0) problems.push(`unexpected failures: ${JSON.stringify(strays)}`);
      console.log(`drain: moved ${report.moved.length}, skipped ${JSON.stringify(report.skipped)}, failed ${JSON.stringify(report.failed)}; rebalance: planned ${summary.planned.length}, moved ${summary.moved.length}, skipped ${JSON.stringify(summary.skipped)}, failed ${JSON.stringify(summary.failed)}`);
      return problems;
    },
  };
}

/**
 * A copy of dist/ whose migratePod differs as a newer release's would: a step added before the freeze (an
 * in-flight run has passed it, so patched() must keep it out of the replay) and a memo written before the
 * target is created (the new code path, taken by the run once the newer worker drives it).
 */
function newerBuild(): string {
  const dir = path.join(root, 'results/tmp/newer-build');
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(root, 'dist'), dir, { recursive: true });
  const file = path.join(dir, 'workflows/migrate-pod.js');
  const edits: [string, string][] = [
    ["import { ApplicationFailure,", 'import { upsertMemo, ApplicationFailure,'],
    ["progress.enter('Planning');", "progress.enter('Planning'); if (patched('fault-matrix-newer-build-plan')) { await sleep(1); }"],
    ["progress.enter('CreatingTarget');", "progress.enter('CreatingTarget'); if (patched('fault-matrix-newer-build-target')) { upsertMemo({ build: 'newer' }); }"],
  ];
  let code = readFileSync(file, 'utf8');
  // Both edits use patched(): migratePod imports it already (its own patches), so only upsertMemo is added.
  if (!/import \{[^}]*\bpatched\b[^}]*\} from '@temporalio\/workflow'/.test(code)) throw new Error(`newer build: ${file} no longer imports patched: update this cell`);
  for (const [from, to] of edits) {
    if (code.split(from).length !== 2) throw new Error(`newer build: "${from}" is not in ${file} exactly once (the workflow changed: update this cell)`);
    code = code.replace(from, to);
  }
  writeFileSync(file, code);
  return dir;
}

beforeAll(async () => {
  lab = await connectLab(config);
}, 180_000);

afterAll(async () => {
  await lab?.close();
  writeReport();
});

describe('fault matrix on the lab', () => {
  test.each(cells.map((c) => [c.name, c] as const))('%s', async (_name, cell) => {
    const row = await runCell(cell);
    rows.push(row);
    console.log(`${cell.name}: ${row.outcome}, running ${row.running}, frozen ${row.frozenMs} ms, leftovers ${row.leftovers.join('; ') || 'none'}`);
    expect({ cell: cell.name, ok: row.ok, detail: row.detail }).toEqual({ cell: cell.name, ok: true, detail: '' });
  }, 600_000);
});

async function runCell(cell: Cell): Promise<Row> {
  ensureWorkers();
  const stamp = Date.now().toString(36);
  const migrationId = `fault-${stamp}`;
  const owner = cell.workload === 'deployment' ? new OwnedSample(clusters, 'lab-a', 'Deployment', 'fault-rs', { 'app.kubernetes.io/name': 'podferry-fault-rs' }) : undefined;
  const source = owner ? (await owner.create(1, 'lab-a-node'))[0]! : await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
  const sourceIp = source.status!.podIP!;
  const before = await readSampleState(sourceIp);
  // The copy of a Deployment's pod has a name of its own, in the source's cluster.
  const target = owner
    ? { cluster: 'lab-a', name: replicaSetCopyName(controllingReplicaSet(source)!.name, migrationId) }
    : { cluster: 'lab-b', name: 'sample' };
  const probe = new TwoCopiesProbe(sourceIp, { core: clusters.core(target.cluster), namespace: 'default', name: target.name });
  probe.start();
  await sleep(300);

  const request: MigratePodRequest = {
    source: { cluster: 'lab-a', namespace: 'default', pod: source.metadata!.name! },
    target: owner ? { cluster: 'lab-a', node: 'lab-a-node2' } : { cluster: 'lab-b', node: 'lab-b-node' },
    options: cell.options ?? {},
  };
  const started = cell.start ? await cell.start(stamp) : undefined;
  const handle = started?.handle ?? (await startMigration(lab.client, request, { taskQueue: config.temporal.taskQueue, migrationId }));
  const rival = cell.rival ? await startMigration(lab.client, request, { taskQueue: config.temporal.taskQueue, migrationId: `fault-rival-${stamp}` }) : undefined;
  const ctx: CellContext = {
    handle,
    sourceIp,
    phase: (phase, timeoutMs = 120_000) => waitForPhase(handle, phase, timeoutMs),
    sourceRuns: (timeoutMs) => waitForTicks(sourceIp, before.count, timeoutMs),
  };

  const problems: string[] = [];
  let healed = false;
  let heal: Heal | undefined;
  const healOnce = async () => {
    if (healed || !heal) return;
    healed = true;
    await heal();
  };
  const injected = (await cell.inject(ctx)) ?? {};
  heal = injected.heal;
  const healing = (async () => {
    if (!heal) return;
    if (injected.healAfterMs !== undefined) await sleep(injected.healAfterMs);
    else if (injected.healWhen === 'source-runs') await ctx.sourceRuns(300_000).catch((err: unknown) => problems.push(`the source never ran again: ${String(err)}`));
    else if (injected.healWhen === 'after-outcome') return;
    await healOnce();
  })();

  const outcome = await outcomeOf(handle);
  const rivalOutcome = rival ? await outcomeOf(rival) : undefined;
  await healOnce();
  await healing;
  for (const verify of [started?.verify, injected.verify]) if (verify) problems.push(...(await verify()));
  ensureWorkers();
  if (cell.name.startsWith('workflow terminated')) await ctx.sourceRuns(90_000).catch((err: unknown) => problems.push(`the node's safety net did not thaw the source: ${String(err)}`));
  await sleep(1500); // the survivor keeps ticking under the probe's eyes
  const verdict = await probe.stop();

  const held = outcome.type === 'MigrationFailed' && /stays frozen|is held frozen/.test(outcome.message);
  if (!cell.outcomes.includes(outcome.type)) problems.push(`outcome ${outcome.type} (${outcome.message}) not one of ${cell.outcomes.join(', ')}`);
  if (verdict.twice.length > 0) problems.push(`both copies ran at once: ${JSON.stringify(verdict.twice.slice(0, 3))}`);
  if (!held && !verdict.running) problems.push('no copy runs at the end');
  if (!held && !verdict.continuedFromFrozenValue) problems.push('the running copy did not continue from its frozen value in the same process');
  // Committed: the target runs the workload; rolled back or abandoned: the source does.
  // (Two migrations of one pod: whichever of them committed decides.)
  const committed = outcome.type === 'Succeeded' || rivalOutcome?.type === 'Succeeded';
  const expectedCopy = committed ? 'target' : ['MigrationRolledBack', 'Terminated', 'Cancelled'].includes(outcome.type) ? 'source' : undefined;
  if (!held && expectedCopy && verdict.running !== expectedCopy) problems.push(`${outcome.type}, but the ${verdict.running ?? 'no'} copy runs at the end`);
  if (cell.maxFrozenMs !== undefined && verdict.frozenMs > cell.maxFrozenMs) problems.push(`frozen ${verdict.frozenMs} ms > ${cell.maxFrozenMs} ms`);
  if (rival) {
    const loser = outcome.type === 'Succeeded' ? rivalOutcome! : outcome;
    if ([outcome.type, rivalOutcome!.type].filter((t) => t === 'Succeeded').length !== 1 || !/is being migrated by fault-/.test(loser.message)) {
      problems.push(`two migrations of one pod ended ${outcome.type} (${outcome.message}) and ${rivalOutcome!.type} (${rivalOutcome!.message}): expected one to succeed and the other to be refused (PodLocked)`);
    }
  }

  const leftovers = await findLeftovers(handle.workflowId, committed ? 'Succeeded' : outcome.type, held, target);
  if (held) problems.push(...(await resumeHeld(handle.workflowId, sourceIp, before.count)));
  if (owner) problems.push(...(await onlyMovedPods(owner, source.metadata!.name!, target.name)));
  await owner?.remove();
  return {
    cell: cell.name,
    outcome: rival ? `${outcome.type} + ${rivalOutcome!.type}` : outcome.type,
    running: held
      ? `none: source held frozen (${/post-copy/.test(outcome.message) ? 'the post-copy target ran' : 'target not provably stopped'}); source after \`podferry resume\``
      : (verdict.running ?? 'none'),
    frozenMs: verdict.frozenMs,
    leftovers,
    ok: problems.length === 0,
    detail: problems.join('; '),
  };
}

async function outcomeOf(handle: MigrationHandle): Promise<{ type: string; message: string }> {
  try {
    await Promise.race([handle.result(), sleep(540_000).then(async () => Promise.reject(new Error(`no outcome within 9 minutes; ${await stuckOn(handle)}`)))]);
    return { type: 'Succeeded', message: '' };
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TerminatedFailure) return { type: 'Terminated', message: err.cause.message };
    if (err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure) return { type: 'Cancelled', message: err.cause.message };
    const failure = describeFailure(err);
    // A refusal (e.g. PodLocked) comes wrapped as the activity's failure: report its own type.
    const inner = err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type ? err.cause.type : failure.type;
    return { type: inner ?? 'Error', message: failure.message };
  }
}

/** What a migration without an outcome waits for: its phase and pending activities with their last failures (for the CI log). */
async function stuckOn(handle: MigrationHandle): Promise<string> {
  const description = await handle.describe().catch(() => undefined);
  if (!description) return 'the workflow could not be described';
  const phase = (description.memo as { phase?: string } | undefined)?.phase;
  const pending = (description.raw.pendingActivities ?? []).map(
    (a) => `${a.activityType?.name} (attempt ${a.attempt}, state ${a.state}${a.lastFailure?.message ? `, last failure: ${a.lastFailure.message}` : ''})`,
  );
  return `phase ${phase ?? 'unknown'}, pending: ${pending.join('; ') || 'none'}`;
}

const FORWARD_PHASES: string[] = ['Pending', 'Planning', 'Freezing', 'Checkpointing', 'Pushing', 'CreatingTarget', 'WaitingReady', 'DeletingSource', 'Finalizing', 'Succeeded'];

async function waitForPhase(handle: MigrationHandle, phase: MigrationPhase, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const memo = (await handle.describe().catch(() => undefined))?.memo as { phase?: string } | undefined;
    // A short phase (Freezing lasts a few hundred ms) may be over before a poll sees it: inject in the next one then.
    if (memo?.phase && FORWARD_PHASES.indexOf(memo.phase) >= FORWARD_PHASES.indexOf(phase)) return;
    if (memo?.phase && ['Succeeded', 'RolledBack', 'Failed', 'Compensating'].includes(memo.phase)) throw new Error(`the migration reached ${memo.phase} before ${phase}`);
    await sleep(20);
  }
  throw new Error(`the migration did not reach ${phase} within ${timeoutMs} ms`);
}

async function waitForTicks(ip: string, above: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    const count = await readSampleState(ip).then((s) => s.count, () => -1);
    if (count > above && last > 0 && count > last) return;
    last = count;
    await sleep(200);
  }
  throw new Error(`the source at ${ip} did not tick within ${timeoutMs} ms`);
}

/** A Deployment's pod moved (or not): its ReplicaSet runs the source or the copy, and started no fresh pod. */
async function onlyMovedPods(owner: OwnedSample, sourceName: string, copyName: string): Promise<string[]> {
  await sleep(2000); // a ReplicaSet that was stalled or restarted acts within this
  const pods = (await owner.pods()).filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name!);
  return pods.length === 1 && [sourceName, copyName].includes(pods[0]!) ? [] : [`the Deployment runs ${JSON.stringify(pods)}, not exactly one of the source and the copy`];
}

/** What a finished migration left behind: a target pod after a failure, the source after a success, checkpoint images. */
async function findLeftovers(migrationId: string, outcome: string, held: boolean, target: { cluster: string; name: string }): Promise<string[]> {
  const leftovers: string[] = [];
  const exists = async () => clusters.core(target.cluster).readNamespacedPod({ namespace: 'default', name: target.name }).then((p) => p, () => undefined);
  if (outcome !== 'Succeeded' && (await exists())) leftovers.push(`target pod ${target.name} in ${target.cluster}`);
  const registry = new RegistryClient(config.registry!);
  const images = [];
  for (const c of CONTAINERS) {
    const digest = await registry.headManifest(config.registry!.repository, checkpointImageTag(migrationId, c)).catch(() => undefined);
    if (digest) images.push(c);
  }
  if (images.length > 0) leftovers.push(`checkpoint images of ${images.join(', ')}${held ? ' (kept: the source is held)' : ''}`);
  return leftovers;
}

/**
 * After a cell that held the source frozen: resume it as an operator would (`podferry resume`), once the
 * target is gone (its node is back and its kubelet stopped it); the source must then tick again.
 */
async function resumeHeld(migrationId: string, sourceIp: string, frozenAt: number): Promise<string[]> {
  await waitForPod(clusters.core('lab-b'), 'default', 'sample', (p) => p === undefined, 120_000);
  const resumed = await resumeHeldSource(lab.client, migrationId, { taskQueue: config.temporal.taskQueue }).catch((err: unknown) => err as Error);
  if (resumed instanceof Error) return [`podferry resume failed: ${describeFailure(resumed).message}`];
  if (!resumed.thawed || !resumed.lockReleased) return [`podferry resume: thawed ${resumed.thawed}, lock released ${resumed.lockReleased}`];
  return waitForTicks(sourceIp, frozenAt, 30_000).then(() => [], (err: unknown) => [`after podferry resume: ${String(err)}`]);
}

/** Flips bytes in the middle of the newest large blob in the checkpoint registry's storage (a checkpoint image's layer). */
/** Post-copy's page servers on the source node, killed: each lazy dump's process group (runc and its CRIU). Returns how many. */
function killPageServers(): number {
  const found = spawnSync('pgrep', ['-f', '--', 'checkpoint --lazy-pages'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const groups = new Set(found.map((pid) => spawnSync('ps', ['-o', 'pgid=', '-p', pid], { encoding: 'utf8' }).stdout.trim()).filter(Boolean));
  for (const group of groups) process.kill(-Number(group), 'SIGKILL');
  return groups.size;
}

function corruptNewestBlob(): void {
  const blobs = path.join(LAB_STATE, 'checkpoint-registry/docker/registry/v2/blobs/sha256');
  let newest: { file: string; mtime: number; size: number } | undefined;
  for (const prefix of readdirSync(blobs)) {
    for (const digest of readdirSync(path.join(blobs, prefix))) {
      const file = path.join(blobs, prefix, digest, 'data');
      const s = statSync(file, { throwIfNoEntry: false });
      if (s && s.size > 1 << 20 && (!newest || s.mtimeMs > newest.mtime)) newest = { file, mtime: s.mtimeMs, size: s.size };
    }
  }
  if (!newest) throw new Error(`no blob over 1 MiB under ${blobs}`);
  const fd = openSync(newest.file, 'r+');
  const buffer = Buffer.alloc(4096);
  readSync(fd, buffer, 0, buffer.length, Math.floor(newest.size / 2));
  for (let i = 0; i < buffer.length; i++) buffer[i] = buffer[i]! ^ 0xff;
  writeSync(fd, buffer, 0, buffer.length, Math.floor(newest.size / 2));
  closeSync(fd);
}

function writeReport(): void {
  if (rows.length === 0) return;
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const lines = [
    '# Reliability: the fault matrix on the lab',
    '',
    `Generated by \`npm run test:faults\` (test/faults/fault-matrix.test.ts) on ${new Date().toISOString()} at commit ${commit}.`,
    'Each cell migrates the stateful sample pod (three containers) from lab-a to lab-b and injects one real fault;',
    'a probe samples both copies\' counters every 10 ms. "frozen" is the longest time in which neither copy ticked',
    '(the outage the workload itself saw). Invariants checked in every cell: never both copies at once, one copy',
    'running at the end that continued from its frozen value in the same process (or the source held frozen, named',
    'in the failure, when the target could not be proven stopped), and the freeze bound where the cell sets one.',
    '',
    '## Commit points',
    '',
    'The invariants (README, "Safety": at most one copy runs, at least one survives, bounded freeze) hold for every',
    'strategy; where a move commits differs:',
    '',
    '- CreateThenDelete (another cluster or namespace): the target pod observed Ready. Before it every failure stops',
    '  the target (proven) and thaws the source.',
    '- DeleteThenCreate (another node, same namespace): the target observed Ready; from the source\'s deletion until',
    '  then the workload is in its checkpoint images, and a failure restores it from them on its source node.',
    '- AdoptByReplicaSet (a ReplicaSet\'s pod to another node of its cluster): the ReplicaSet\'s deletion of the frozen',
    '  source, observed after the copy (created without labels or owner) got its labels back. Until then the ReplicaSet',
    '  may delete either pod. It deleting the copy (not Ready at that instant), or neither within 30 s or the freeze',
    '  bound, rolls back: the labels come off the copy, and only once the ReplicaSet has let go of it (no',
    '  ownerReference and the source not deleted, for 2 s) is the copy stopped and the source thawed. Had it deleted',
    '  the source meanwhile, the copy is the workload: it is handed back, the source killed, and the run fails as',
    '  `MigrationFailed` naming the copy. The source\'s lowest pod-deletion-cost is put back on every rollback. The',
    '  matrix stalls and kills lab-a\'s controller manager at the hand-over (the two cells on a Deployment\'s pod). The',
    '  copy runs from Ready until the hand-over resolves (no Service selects it: no labels); what it did meanwhile is',
    '  discarded by a rollback, as is any target\'s work between its restore and a failed commit.',
    '- A StatefulSet\'s pod (DeleteThenCreate within its namespace): as DeleteThenCreate; its name is fenced (deploy/admission)',
    '  from before the freeze until the move has ended, so the StatefulSet cannot start a fresh pod of it meanwhile; a',
    '  rollback restores the pod at its source through the fence, and a rollback that cannot restore it leaves the name',
    '  fenced (the failure says how to lift it).',
    '- A Deployment\'s pod to another cluster (CreateThenDelete with a Deployment hand-over): the copy, created without',
    '  labels or owner, observed Ready. After it, forward only: the target\'s Deployment scaled up by one behind the owner',
    '  fence, the copy relabelled and adopted, the fence lifted, the source\'s Deployment scaled down by one, the frozen',
    '  source killed; a step that fails leaves the source frozen (`SourceNotRemoved`) with the steps left as commands.',
    '- A StatefulSet\'s pod to another cluster: the copy, created under its ordinal\'s name without labels or owner,',
    '  observed Ready. After it, forward only: the target\'s range takes the ordinal in, the copy is relabelled and',
    '  adopted, the source\'s range gives it up, the frozen source is deleted; a step that fails leaves the source frozen',
    '  with the range patches left as commands.',
    '- Post-copy (options.mode: postcopy, a standalone pod to another cluster or namespace): the target pod\'s creation.',
    '  From it the target may run with pages only the frozen source holds, and once it ran, resuming the source would',
    '  run the workload from the freeze while the target\'s effects stand. Before it a failure rolls back as',
    '  CreateThenDelete does (the page servers stopped first); after it, until the target is Ready and every page has',
    '  arrived, a failure stops the target (proven) and holds the source frozen with all its memory, never resumed by',
    '  podferry: `MigrationFailed` says so, and `podferry resume` runs it from the freeze (the target\'s work since is',
    '  lost). The matrix kills the source\'s page servers while the pages stream ([docs/postcopy.md](postcopy.md)).',
    '',
    '| cell | outcome | which copy runs | frozen (ms) | leftovers | invariants |',
    '| --- | --- | --- | ---: | --- | --- |',
    ...rows.map((r) => `| ${r.cell} | ${r.outcome} | ${r.running} | ${r.frozenMs} | ${r.leftovers.join('; ') || 'none'} | ${r.ok ? 'hold' : `**broken**: ${r.detail}`} |`),
    '',
  ];
  writeFileSync(path.join(root, 'docs/reliability.md'), lines.join('\n'));
}
