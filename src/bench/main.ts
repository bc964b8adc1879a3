// `npm run bench`: podferry's downtime against the CRIU floor and the sequential baseline, on the lab.
//
//   npm run bench -- [--runs 5] [--containers 1,2,4] [--sizes 16,64,256] [--ways podferry,sequential,floor[,direct,kubelet-pull,crio,liqo,postcopy]]
//                    [--out bench/results] [--config config/lab.yaml] [--task-queue <queue>]
//   crio (lab-c → lab-c, CRI-O) needs a configuration naming lab-c (config/lab-c.yaml) and lab-c-node's node worker;
//   liqo (lab-a-node → lab-a's virtual node for lab-b) needs Liqo peered (make lab-up does it).
//   postcopy moves the pod like direct (lab-a → lab-b-node, node to node) with options.mode: postcopy, the target starting
//   before its memory arrives: the downtime, when the last page arrived and how many bytes came lazily. It needs
//   fs.pipe-max-size ≥ 4 MiB on the nodes (make lab-up sets it).
//   --task-queue: migrations go to that queue, whose workers someone else runs; the bench then leaves the lab,
//   its workers and its registries alone (no workers.sh, no prune.sh), e.g. beside other work on the lab.
//   npm run bench -- --report bench/results/<timestamp>     (rebuild results.md and the plot from raw.json)
//   npm run bench -- --report <new dir> --merge <dir>,<dir>  (one report from several results folders)
//
// For every size S and container count N: a warm-up run, then --runs runs; within a run index the ways run
// back to back (a run pair), so ratios are taken between neighbours and the machine's drift cancels out.
// One progress line per run; raw.json is rewritten after every run, so an interrupted benchmark keeps its data.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Connection, type Client } from '@temporalio/client';
import { loadConfig } from '../config/load.js';
import type { PodferryConfig } from '../api/config.js';
import { Clusters } from '../kubernetes/clusters.js';
import { createTemporalClient, temporalConnectionOptions } from '../client/connection.js';
import { runFloor, sweepFloor } from './floor.js';
import { describeMachine } from './machine.js';
import { CONTAINERD_ROUTE, CRIO_ROUTE, LIQO_ROUTE, routePlaces, runMigration } from './podferry-way.js';
import { DEFAULT_WAYS, WAYS, type RunRecord, type Way } from './records.js';
import { enrich, markdown, plot } from './report.js';
import { removeBenchPod } from './workload.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LAB_UP_MARKER = '/run/podferry-lab/up';
const MAX_ATTEMPTS = 4;
const RETRY_PAUSE_MS = 15_000;
const MIGRATION_TIMEOUT_MS = 8 * 60_000;

const list = (text: string, what: string) =>
  text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what}: "${s}" is not a positive whole number`);
    return n;
  });

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      containers: { type: 'string', default: '1,2,4' },
      sizes: { type: 'string', default: '16,64,256' },
      ways: { type: 'string', default: DEFAULT_WAYS.join(',') },
      out: { type: 'string', default: path.join(REPO, 'bench/results') },
      config: { type: 'string' },
      'task-queue': { type: 'string' },
      report: { type: 'string' },
      merge: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(readHelp());
    return 0;
  }
  if (values.report && values.merge) return merge(values.report, values.merge.split(','));
  if (values.report) return regenerate(values.report);

  const runs = list(values.runs, 'runs')[0]!;
  const containers = list(values.containers, 'containers');
  const sizes = list(values.sizes, 'sizes');
  const ways = values.ways.split(',').map((w) => w.trim()) as Way[];
  for (const way of ways) if (!WAYS.includes(way)) throw new Error(`--ways: unknown way "${way}" (use ${WAYS.join(', ')})`);
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (runc containers for the floor, the lab)');

  const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
  const dir = path.resolve(values.out, stamp);
  await mkdir(dir, { recursive: true });
  const command =
    (process.env.PODFERRY_BENCH_PREPULL === 'ordered' ? 'PODFERRY_BENCH_PREPULL=ordered ' : '') +
    `npm run bench -- --runs ${runs} --containers ${containers.join(',')} --sizes ${sizes.join(',')} --ways ${ways.join(',')}` +
    (values.config ? ` --config ${values.config}` : '') +
    (values['task-queue'] ? ` --task-queue ${values['task-queue']}` : '');
  const machine = describeMachine(REPO);
  await writeFile(path.join(dir, 'machine.txt'), machine);
  console.log(`podferry bench → ${path.relative(process.cwd(), dir) || dir}`);
  console.log(machine.trim().split('\n').map((l) => `  ${l}`).join('\n'));

  const config = loadConfig(values.config ? { path: values.config } : {});
  // Someone else's workers serve a given task queue: the lab and its workers are theirs to keep up.
  const upkeep = values['task-queue'] === undefined;
  const taskQueue = values['task-queue'] ?? config.temporal.taskQueue;
  if (upkeep) ensureLab();
  const connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), connectTimeout: '10s' });
  const client = createTemporalClient(connection, config);
  if (ways.includes('floor')) await sweepFloor();

  const records: RunRecord[] = [];
  const total = sizes.length * containers.length * (runs + 1) * ways.length;
  const started = Date.now();
  const save = async () => {
    await writeFile(path.join(dir, 'raw.json'), JSON.stringify({ command, machine, records }, null, 1));
  };
  try {
    for (const sizeMiB of sizes) {
      for (const n of containers) {
        for (let run = 0; run <= runs; run++) {
          for (const way of ways) {
            const record = await measure(way, n, sizeMiB, run, client, config, taskQueue, upkeep);
            records.push(record);
            await save();
            console.log(progressLine(records.length, total, started, record));
            if (upkeep) pruneLab();
          }
        }
      }
    }
  } finally {
    const places = [...new Set(ways.filter((w) => w !== 'floor').map(routeOf))].flatMap(routePlaces);
    await removeBenchPod(new Clusters(config.clusters), places).catch(() => undefined);
    if (ways.includes('floor')) await sweepFloor().catch(() => undefined);
    await connection.close();
  }
  await writeFile(path.join(dir, 'machine.txt'), machine + `load average at end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  await writeReport(dir, records, machine, command);
  return records.every((r) => r.ok) ? 0 : 1;
}

/** Where a migration way moves the bench pod: crio on lab-c's CRI-O node, liqo onto lab-a's virtual node, the others lab-a → lab-b (containerd). */
function routeOf(way: Way) {
  return way === 'crio' ? CRIO_ROUTE : way === 'liqo' ? LIQO_ROUTE : CONTAINERD_ROUTE;
}

async function measure(
  way: Way,
  containers: number,
  sizeMiB: number,
  run: number,
  client: Client,
  config: PodferryConfig,
  taskQueue: string,
  upkeep: boolean,
): Promise<RunRecord> {
  const base = { way, containers, sizeMiB, run, warmup: run === 0, startedAt: new Date().toISOString() };
  let lastError = '';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    // Read the kubeconfig again at every attempt: a lab that was reset meanwhile has new certificates.
    const clusters = new Clusters(config.clusters);
    try {
      if (way === 'floor') {
        const floor = await runFloor(containers, sizeMiB, `${containers}x${sizeMiB}-r${run}-a${attempt}`);
        return {
          ...base,
          ok: true,
          attempts: attempt,
          downtimeMs: floor.downtimeMs,
          workloadGapMs: floor.workloadGapMs,
          monotonicGapMs: Math.max(...floor.monotonicGapMs),
          clientGapMs: floor.client.gapMs,
          totalMs: floor.downtimeMs,
          bytes: floor.imageBytes,
          restored: floor.restored,
          floor,
        };
      }
      const migration = await withTimeout(
        runMigration(
          client,
          clusters,
          routeOf(way),
          taskQueue,
          containers,
          sizeMiB,
          // podferry and sequential as shipped (through the registry, checkpoints through the node's runtime);
          // direct: node to node; kubelet-pull: no pulls ahead; kubelet-checkpoint: through the kubelet API;
          // postcopy: direct, the memory pulled after the target's start (post-copy sends the images node to node).
          {
            mode: way === 'postcopy' ? 'postcopy' : 'stop-and-copy',
            parallel: way !== 'sequential',
            transfer: way === 'direct' || way === 'postcopy' ? 'direct' : 'registry',
            pullOnTarget: way !== 'kubelet-pull',
            checkpointVia: way === 'kubelet-checkpoint' ? 'kubelet' : 'runtime',
          },
        ),
        MIGRATION_TIMEOUT_MS,
        'migration',
      );
      const { result } = migration;
      // A post-copy run that moved the memory another way would be measured under the wrong name.
      const error = !migration.restored
        ? 'a counter restarted instead of being restored (startedAt changed)'
        : way === 'postcopy' && result.mode !== 'postcopy'
          ? `asked for post-copy, the result says ${result.mode ? `mode ${result.mode}` : 'no mode'}`
          : undefined;
      return {
        ...base,
        ok: error === undefined,
        ...(error === undefined ? {} : { error }),
        attempts: attempt,
        downtimeMs: result.downtimeMs,
        workloadGapMs: migration.workloadGapMs,
        monotonicGapMs: Math.max(...migration.monotonicGapMs),
        clientGapMs: migration.client.gapMs,
        totalMs: result.totalMs,
        bytes: result.bytesPushed,
        mode: result.mode,
        pagesArrivedMs: result.pagesArrivedMs,
        lazyPageBytes: result.lazyPageBytes,
        restored: migration.restored,
        migration,
      };
    } catch (err) {
      lastError = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (cause: ${err.cause.message})` : ''}` : String(err);
      console.log(`  ! ${way} ${containers}×${sizeMiB} MiB run ${run} attempt ${attempt} failed: ${lastError.split('\n')[0]}`);
      if (attempt < MAX_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS)); // a lab going down or up takes a few seconds
        if (upkeep) ensureLab();
      }
    }
  }
  return { ...base, ok: false, attempts: MAX_ATTEMPTS, error: lastError };
}

/**
 * Between runs: drop the run's checkpoint images from the nodes and the registry's unreferenced blobs. The full
 * matrix moves about 100 GiB through them, more than this VM's disk holds (a sitting of 2026-11-28 filled it).
 */
function pruneLab(): void {
  const pruned = spawnSync(path.join(REPO, 'deploy/lab/prune.sh'), [], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (pruned.status !== 0) console.log(`  … deploy/lab/prune.sh: ${pruned.stderr.trim().split('\n').pop()}`);
}

/** The lab may be taken down by other work on this machine: bring it (and podferry's workers) back. */
function ensureLab(): void {
  if (!existsSync(LAB_UP_MARKER)) {
    console.log('  … the lab is down: make lab-up');
    spawnSync('make', ['-C', REPO, 'lab-up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const workers = spawnSync(path.join(REPO, 'deploy/lab/workers.sh'), [], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (workers.status !== 0) console.log(`  … deploy/lab/workers.sh: ${workers.stderr.trim().split('\n').pop()}`);
}

function progressLine(done: number, total: number, started: number, r: RunRecord): string {
  const elapsed = (Date.now() - started) / 1000;
  const eta = (elapsed / done) * (total - done);
  const head = `[${String(done).padStart(String(total).length)}/${total} ${fmtDuration(elapsed)} eta ${fmtDuration(eta)}] ${r.way.padEnd(10)} ${r.containers}×${String(r.sizeMiB).padStart(3)} MiB ${r.warmup ? 'warm-up' : `run ${r.run}  `}`;
  if (!r.ok) return `${head}  FAILED: ${r.error?.split('\n')[0]?.slice(0, 200)}`;
  const s = (x: number | undefined) => (x === undefined ? '—' : `${(x / 1000).toFixed(2)} s`);
  const mib = (bytes: number | undefined) => (bytes === undefined ? '—' : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
  const pages = r.mode === 'postcopy' ? `, pages arrived ${s(r.pagesArrivedMs)} (${mib(r.lazyPageBytes)} lazily)` : '';
  const phases = r.migration
    ? `  [${['Freezing', 'Checkpointing', 'Pushing', 'CreatingTarget', 'WaitingReady']
        .map((p) => `${p.slice(0, 5)} ${Math.round(r.migration!.result.phasesMs[p as 'Freezing'] ?? 0)}`)
        .join(' ')}]`
    : r.floor
      ? `  [checkpoint ${Math.round(r.floor.checkpointMs)} restore ${Math.round(r.floor.restoreMs)}]`
      : '';
  return `${head}  downtime ${s(r.workloadGapMs)} (client ${s(r.clientGapMs)}, own ${s(r.downtimeMs)}, monotonic ${s(r.monotonicGapMs)}), total ${s(r.totalMs)}, ${mib(r.bytes ?? 0)}${pages}${phases}`;
}

const fmtDuration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`);

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function writeReport(dir: string, records: RunRecord[], machine: string, command: string): Promise<void> {
  await writeFile(path.join(dir, 'results.md'), markdown(records, machine, command));
  const plotError = await plot(records, dir);
  if (plotError) console.error(plotError);
  console.log(`\nresults: ${path.join(dir, 'results.md')}${plotError ? '' : `, plot: ${path.join(dir, 'downtime.png')}`}`);
}

async function regenerate(dir: string): Promise<number> {
  const raw = JSON.parse(await readFile(path.join(dir, 'raw.json'), 'utf8')) as { command: string; machine: string; records: RunRecord[] };
  enrich(raw.records);
  await writeFile(path.join(dir, 'raw.json'), JSON.stringify(raw, null, 1));
  await writeReport(dir, raw.records, raw.machine, raw.command);
  return 0;
}

/**
 * One report from several results folders (e.g. a matrix finished in two sittings): their records side by
 * side; a pod shape (N × S) measured in several folders is taken from the last one that measured it.
 */
async function merge(dir: string, sources: string[]): Promise<number> {
  const raws = await Promise.all(
    sources.map(async (s) => JSON.parse(await readFile(path.join(s, 'raw.json'), 'utf8')) as { command: string; machine: string; records: RunRecord[] }),
  );
  // A cell (way × pod) measured in several folders is taken from the last folder that has a successful run of it
  // (run pairs must come from one sitting); a cell no folder measured successfully keeps its failed records.
  const key = (r: RunRecord) => `${r.containers}x${r.sizeMiB}`;
  const owner = new Map<string, number>();
  raws.forEach((raw, i) => raw.records.filter((r) => r.ok).forEach((r) => owner.set(key(r), i)));
  const records = raws.flatMap((raw, i) => raw.records.filter((r) => (owner.get(key(r)) ?? i) === i));
  const command = raws.map((raw, i) => `${raw.command}  (${path.basename(sources[i]!)})`).join('; then ');
  const machine = raws.map((raw, i) => `-- ${path.basename(sources[i]!)}\n${raw.machine.trim()}`).join('\n');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'raw.json'), JSON.stringify({ command, machine, sources, records }, null, 1));
  await writeReport(dir, records, machine, command);
  return 0;
}

function readHelp(): string {
  return execFileSync('sed', ['-n', '2,13p', fileURLToPath(import.meta.url).replace('/dist/', '/src/').replace(/\.js$/, '.ts')], { encoding: 'utf8' })
    .replace(/^\/\/ ?/gm, '');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
