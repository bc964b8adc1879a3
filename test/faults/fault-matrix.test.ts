// The safety invariants under real faults, on the lab: real Temporal, API servers, kubelets, containerd +
// runc + CRIU, the registry, and podferry's own workers as lab daemons (deploy/lab/workers.sh). Each cell
// migrates the stateful sample pod from lab-a to lab-b, injects one fault at one step (a process killed with
// SIGKILL and started again, a daemon stalled with SIGSTOP, a node cut off with iptables, a full disk, a
// corrupted blob, the workflow terminated, a second migration of the same pod) and a probe samples both
// copies' counters every 10 ms. Every cell checks:
//   1. never twice: the two copies never tick at the same time;
//   2. never lost: at the end one copy ticks, continuing from the value it was frozen at in the same process
//      (restored, not restarted); or, only when the target could not be proven stopped, the source is held
//      frozen and the failure says so;
//   3. bounded freeze where the cell sets options.maxFrozenSeconds.
// The outcome table is written to docs/reliability.md. Run alone: npm run test:faults (the lab must be up).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync, openSync, readSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure, CancelledFailure } from '@temporalio/common';
import { createNodeActivities } from '../../src/activities/node.js';
import type { MigratePodRequest, MigrationPhase } from '../../src/api/migration.js';
import { ANNOTATIONS, checkpointImageTag } from '../../src/api/names.js';
import { describeFailure, startMigration, type MigrationHandle } from '../../src/client/migrations.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { deploySample, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { ContainerdTasks } from '../../src/node/containerd-tasks.js';
import { FrozenPodRecords, frozenPodsDir } from '../../src/node/frozen-pods.js';
import { RegistryClient } from '../../src/registry/client.js';
import { connectLab, cutOffNode, ensureWorkers, killDaemon, resumeDaemon, stallDaemon, type KilledDaemon, type LabClient } from '../support/lab-daemons.js';
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

interface Cell {
  name: string;
  options?: MigratePodRequest['options'];
  /** Waits for its moment, injects the fault, and says how and when to heal it. */
  inject: (ctx: CellContext) => Promise<{ heal?: Heal; healWhen?: 'at-once' | 'source-runs' | 'after-outcome'; healAfterMs?: number } | void>;
  /** Outcomes this cell may end with (the invariants hold for each). */
  outcomes: string[];
  /** The freeze the workload may see at most (ms), when the cell bounds it. */
  maxFrozenMs?: number;
  /** A second migration started beside the first (the lock cell). */
  rival?: boolean;
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
    name: 'registry stalled (SIGSTOP) during push, maxFrozenSeconds 15',
    options: { maxFrozenSeconds: 15 },
    inject: async ({ phase }) => {
      await phase('Pushing');
      stallDaemon('registry');
      return { heal: () => resumeDaemon('registry'), healWhen: 'source-runs' };
    },
    outcomes: ['MigrationRolledBack', 'Succeeded'],
    maxFrozenMs: 15_000 + 10_000,
  },
  {
    name: 'registry killed during push, back once the source runs again',
    inject: async ({ phase }) => {
      await phase('Pushing');
      const killed = killDaemon('registry');
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
    name: 'checkpoint directory full (1 MiB tmpfs over it)',
    inject: async () => {
      const dir = path.join(LAB_STATE, 'lab-a-node/kubelet/checkpoints');
      mkdirSync(dir, { recursive: true });
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
];

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
  const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
  const sourceIp = source.status!.podIP!;
  const before = await readSampleState(sourceIp);
  const probe = new TwoCopiesProbe(sourceIp, { core: clusters.core('lab-b'), namespace: 'default', name: 'sample' });
  probe.start();
  await sleep(300);

  const stamp = Date.now().toString(36);
  const request: MigratePodRequest = {
    source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
    target: { cluster: 'lab-b', node: 'lab-b-node' },
    options: cell.options ?? {},
  };
  const handle = await startMigration(lab.client, request, { taskQueue: config.temporal.taskQueue, migrationId: `fault-${stamp}` });
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
  ensureWorkers();
  if (cell.name.startsWith('workflow terminated')) await ctx.sourceRuns(90_000).catch((err: unknown) => problems.push(`the node's safety net did not thaw the source: ${String(err)}`));
  await sleep(1500); // the survivor keeps ticking under the probe's eyes
  const verdict = await probe.stop();

  const held = outcome.type === 'MigrationFailed' && /stays frozen/.test(outcome.message);
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

  const leftovers = await findLeftovers(handle.workflowId, committed ? 'Succeeded' : outcome.type, held);
  if (held) await releaseHeldSource(source.metadata!.uid!, handle.workflowId, source);
  return {
    cell: cell.name,
    outcome: rival ? `${outcome.type} + ${rivalOutcome!.type}` : outcome.type,
    running: held ? 'none: source held frozen (target not provably stopped)' : (verdict.running ?? 'none'),
    frozenMs: verdict.frozenMs,
    leftovers,
    ok: problems.length === 0,
    detail: problems.join('; '),
  };
}

async function outcomeOf(handle: MigrationHandle): Promise<{ type: string; message: string }> {
  try {
    await Promise.race([handle.result(), sleep(540_000).then(() => Promise.reject(new Error('no outcome within 9 minutes')))]);
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

/** What a finished migration left behind: a target pod after a failure, the source after a success, checkpoint images. */
async function findLeftovers(migrationId: string, outcome: string, held: boolean): Promise<string[]> {
  const leftovers: string[] = [];
  const exists = async (cluster: string) =>
    clusters.core(cluster).readNamespacedPod({ namespace: 'default', name: 'sample' }).then((p) => p, () => undefined);
  if (outcome !== 'Succeeded' && (await exists('lab-b'))) leftovers.push('target pod in lab-b');
  const registry = new RegistryClient(config.registry!);
  const images = [];
  for (const c of CONTAINERS) {
    const digest = await registry.headManifest(config.registry!.repository, checkpointImageTag(migrationId, c)).catch(() => undefined);
    if (digest) images.push(c);
  }
  if (images.length > 0) leftovers.push(`checkpoint images of ${images.join(', ')}${held ? ' (kept: the source is held)' : ''}`);
  return leftovers;
}

/** After a cell that held the source frozen: thaw it as an operator would, once the target is gone. */
async function releaseHeldSource(podUid: string, migrationId: string, pod: Awaited<ReturnType<typeof deploySample>>): Promise<void> {
  const containerd = new ContainerdTasks({ address: '/run/podferry-lab/lab-a-node/containerd.sock' });
  const activities = createNodeActivities({
    cgroupFsRoot: '/sys/fs/cgroup',
    hostRoot: '/',
    nodeName: 'lab-a-node',
    containerd,
    frozenPods: new FrozenPodRecords(frozenPodsDir(config.node!.stateDir, 'lab-a', 'lab-a-node')),
  });
  const containerIds = (pod.status?.containerStatuses ?? []).map((s) => s.containerID ?? '');
  // Only once the target is gone (its node is back and its kubelet stopped it): never two copies.
  await waitForPod(clusters.core('lab-b'), 'default', 'sample', (p) => p === undefined, 120_000);
  await activities.thawPod({ podUid, containerIds, migrationId, fence: 1000 });
  containerd.close();
  await clusters
    .core('lab-a')
    .patchNamespacedPod({ namespace: 'default', name: 'sample', body: [{ op: 'remove', path: `/metadata/annotations/${ANNOTATIONS.lock.replace('/', '~1')}` }] })
    .catch(() => undefined);
}

/** Flips bytes in the middle of the newest large blob in the registry's storage (a checkpoint image's layer). */
function corruptNewestBlob(): void {
  const blobs = path.join(LAB_STATE, 'registry/docker/registry/v2/blobs/sha256');
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
    '| cell | outcome | which copy runs | frozen (ms) | leftovers | invariants |',
    '| --- | --- | --- | ---: | --- | --- |',
    ...rows.map((r) => `| ${r.cell} | ${r.outcome} | ${r.running} | ${r.frozenMs} | ${r.leftovers.join('; ') || 'none'} | ${r.ok ? 'hold' : `**broken**: ${r.detail}`} |`),
    '',
  ];
  writeFileSync(path.join(root, 'docs/reliability.md'), lines.join('\n'));
}
