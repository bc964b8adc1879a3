// The results folder: results.md (figures, ratios, downtime profile, targets), downtime.png (gnuplot),
// plot.dat/plot.gp (to redo the plot), written from raw.json so a report can be regenerated at any time.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MigrationPhase } from '../api/migration.js';
import type { RunRecord, Way } from './records.js';
import { MIGRATION_WAYS, WAYS } from './records.js';
import { cellKey, cells, measured, pairRatios, summarize, type Cell, type Summary } from './stats.js';
import { targetTimeline, type ContainerRestore } from './target-timeline.js';

const ms = (s: Summary | undefined) => (s ? `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})` : '—');
const ratio = (s: Summary | undefined) => (s ? `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : '—');
const mib = (s: Summary | undefined) => (s ? `${(s.median / 2 ** 20).toFixed(0)} MiB` : '—');
const pick = (records: RunRecord[], f: (r: RunRecord) => number | undefined) =>
  summarize(records.map(f).filter((x): x is number => x !== undefined));

const PHASES: MigrationPhase[] = ['Freezing', 'Checkpointing', 'Pushing', 'CreatingTarget', 'WaitingReady'];

export function markdown(records: RunRecord[], machine: string, command: string): string {
  const all = cells(records);
  const lines: string[] = [];
  lines.push('# podferry benchmark results', '');
  lines.push(`Command: \`${command}\``, '');
  lines.push('Figures are medians over the measured runs, with (min–max); times in ms. The warm-up run of every cell and way is left out.');
  lines.push('**Downtime** is the workload\'s own view in wall-clock time: for every counter of the pod, its first tick after the restore');
  lines.push('minus the last tick it reported before the freeze (read by the polling client; ≤ ~20 ms high), max over the counters.');
  lines.push('**Counter\'s longestGapMs** is what the sample reports itself, on CLOCK_MONOTONIC: kept for comparison (see bench/README.md).');
  lines.push('**Client gap**: a client asking counter 0 every 10 ms (fresh connection, 1 s timeout), from its last answer before the freeze');
  lines.push('to the first answer after (from the target pod\'s new IP). **Own downtime**: podferry\'s `result.downtimeMs` (source frozen →');
  lines.push('target Ready observed); for the floor, the wall time of `runc checkpoint` (all containers at once) + `runc restore` (all at once).', '');

  lines.push('## Downtime and totals', '');
  lines.push('| pod (containers × MiB) | way | downtime (workload) | client gap | own downtime | counter\'s longestGapMs | total | bytes pushed / written | runs |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const cell of all) {
    for (const way of WAYS) {
      const rs = measured(records, way, cell);
      const failed = records.filter((r) => !r.ok && !r.warmup && r.way === way && cellKey(r) === cellKey(cell)).length;
      if (rs.length === 0 && failed === 0) continue;
      lines.push(
        `| ${cell.containers} × ${cell.sizeMiB} | ${way} | ${ms(pick(rs, (r) => r.workloadGapMs))} | ${ms(pick(rs, (r) => r.clientGapMs))} | ` +
          `${ms(pick(rs, (r) => r.downtimeMs))} | ${ms(pick(rs, (r) => r.monotonicGapMs))} | ${ms(pick(rs, (r) => r.totalMs))} | ${mib(pick(rs, (r) => r.bytes))} | ${rs.length}${failed ? ` (+${failed} failed)` : ''} |`,
      );
    }
  }
  lines.push('');
  if (records.some((r) => r.way === 'postcopy')) lines.push(...postCopy(records, all));

  lines.push('## Ratios, per run pair', '');
  lines.push('Each ratio is computed within a run pair (the runs of one index in one cell, done back to back), then the median (min–max) is taken.', '');
  lines.push('`podferry − transfer`: the workload downtime minus the Pushing phase (sending the images, and pulling them on the target),');
  lines.push('i.e. podferry with an instant transfer: the kubelet\'s checkpoint, the target pod creation and the kubelet\'s restore.', '');
  lines.push('| pod | podferry / floor (workload downtime) | podferry / floor (own downtime) | (podferry − transfer) / floor | sequential / podferry (workload downtime) | sequential / podferry (own downtime) |');
  lines.push('|---|---|---|---|---|---|');
  for (const cell of all) {
    const r = (a: Way, b: Way, f: (x: RunRecord) => number | undefined) => ratio(summarize(pairRatios(records, cell, a, b, f)));
    lines.push(
      `| ${cell.containers} × ${cell.sizeMiB} | ${r('podferry', 'floor', (x) => x.workloadGapMs)} | ${r('podferry', 'floor', (x) => x.downtimeMs)} | ` +
        `${r('podferry', 'floor', withoutTransfer)} | ` +
        `${r('sequential', 'podferry', (x) => x.workloadGapMs)} | ${r('sequential', 'podferry', (x) => x.downtimeMs)} |`,
    );
  }
  lines.push('');
  const experiments = [
    ['direct', 'podferry with transfer=direct: each image sent node to node and imported into the target runtime, no registry'],
    ['kubelet-pull', 'podferry with pullOnTarget=false: the kubelet pulls each checkpoint image as it starts the containers, one at a time'],
    ['kubelet-checkpoint', 'podferry with checkpointVia=kubelet: each checkpoint through the API server\'s node proxy and the kubelet API'],
  ] as const;
  for (const [way, what] of experiments) {
    if (!records.some((r) => r.way === way)) continue;
    lines.push(`Way \`${way}\` (${what}), per run pair:`, '');
    lines.push(`| pod | ${way} / podferry (workload downtime) | ${way} / podferry (own downtime) |`);
    lines.push('|---|---|---|');
    for (const cell of all) {
      const a = summarize(pairRatios(records, cell, way, 'podferry', (x) => x.workloadGapMs));
      const b = summarize(pairRatios(records, cell, way, 'podferry', (x) => x.downtimeMs));
      if (a || b) lines.push(`| ${cell.containers} × ${cell.sizeMiB} | ${ratio(a)} | ${ratio(b)} |`);
    }
    lines.push('');
  }

  lines.push('## Where the downtime goes (the podferry ways)', '');
  lines.push('Phases are the workflow\'s wall clock per phase (medians). `ckpt max`/`push max`/`pull max`: the slowest container\'s checkpoint (kubelet call),');
  lines.push('push, and pull on the target node ahead of the kubelet (inside Pushing; — when the kubelet pulled).');
  lines.push('`restore→Ready`: own downtime minus the workload\'s gap, i.e. the time from the counters ticking again at the target until the');
  lines.push('workflow observed the pod Ready (readiness probe period, kubelet status, API polling). `orchestration`: time inside the');
  lines.push('downtime window (freezePod started → waitPodReady closed, from the workflow history) when no activity ran: workflow tasks and queue latency.', '');
  lines.push(`| pod | way | ${PHASES.join(' | ')} | ckpt max | push max | pull max | restore→Ready | orchestration (% of window) |`);
  lines.push(`|---|---|${PHASES.map(() => '---').join('|')}|---|---|---|---|---|`);
  for (const cell of all) {
    for (const way of MIGRATION_WAYS) {
      const rs = measured(records, way, cell).filter((r) => r.migration);
      if (rs.length === 0) continue;
      const phase = (p: MigrationPhase) => Math.round(pick(rs, (r) => r.migration!.result.phasesMs[p])?.median ?? NaN);
      const ckpt = pick(rs, (r) => Math.max(...Object.values(r.migration!.result.containers).map((c) => c.checkpointMs)));
      const push = pick(rs, (r) => Math.max(...Object.values(r.migration!.result.containers).map((c) => c.pushMs)));
      const pull = pick(rs, (r) => {
        const pulls = Object.values(r.migration!.result.containers).flatMap((c) => (c.pullMs === undefined ? [] : [c.pullMs]));
        return pulls.length ? Math.max(...pulls) : undefined;
      });
      const lag = pick(rs, (r) => (r.downtimeMs ?? NaN) - (r.workloadGapMs ?? NaN));
      const orch = pick(rs, (r) => r.migration!.history?.orchestrationMs);
      const share = pick(rs, (r) => (r.migration!.history?.windowMs ? (100 * r.migration!.history.orchestrationMs) / r.migration!.history.windowMs : undefined));
      lines.push(
        `| ${cell.containers} × ${cell.sizeMiB} | ${way} | ${PHASES.map(phase).join(' | ')} | ${Math.round(ckpt?.median ?? NaN)} | ${Math.round(push?.median ?? NaN)} | ${pull ? Math.round(pull.median) : '—'} | ` +
          `${Math.round(lag?.median ?? NaN)} | ${Math.round(orch?.median ?? NaN)} (${share ? share.median.toFixed(1) : '—'} %) |`,
      );
    }
  }
  lines.push('');

  lines.push(...targetSide(records, all));
  lines.push('## Targets of issue 4', '');
  lines.push(...targets(records, all), '');
  const failures = records.filter((r) => !r.ok);
  if (failures.length > 0) {
    lines.push('## Failed runs', '');
    for (const f of failures) lines.push(`- ${f.way} ${f.containers} × ${f.sizeMiB} run ${f.run}: ${f.error?.split('\n')[0]?.slice(0, 300)}`);
    lines.push('');
  }
  lines.push('## Machine', '', '```', machine.trim(), '```', '');
  lines.push('Raw data: `raw.json` (one record per run, warm-ups included, with every phase, container timing and the activity spans from the workflow history).');
  return lines.join('\n') + '\n';
}

/** The postcopy way beside its stop-and-copy twin (direct): the downtime, and how long the target still needed the source. */
function postCopy(records: RunRecord[], all: Cell[]): string[] {
  const out: string[] = [];
  out.push('## Post-copy: the pages after the start', '');
  out.push('Way `postcopy`: the `direct` move with options.mode=postcopy, the target restored without the memory, pulling the pages from the');
  out.push('frozen source while it runs. **Pages arrived**: freeze → the last page of every container at the target (until then the target');
  out.push('depends on the source). **Lazy pages**: the memory that reached the target after its start, all containers.');
  out.push('`postcopy / direct`: the workload downtime against the same move stop-and-copy, per run pair.', '');
  out.push('| pod | downtime (workload) | own downtime | pages arrived | lazy pages | postcopy / direct (workload downtime) | runs |');
  out.push('|---|---|---|---|---|---|---|');
  for (const cell of all) {
    const rs = measured(records, 'postcopy', cell);
    if (rs.length === 0) continue;
    const vsDirect = summarize(pairRatios(records, cell, 'postcopy', 'direct', (r) => r.workloadGapMs));
    out.push(
      `| ${cell.containers} × ${cell.sizeMiB} | ${ms(pick(rs, (r) => r.workloadGapMs))} | ${ms(pick(rs, (r) => r.downtimeMs))} | ` +
        `${ms(pick(rs, (r) => r.pagesArrivedMs))} | ${mib(pick(rs, (r) => r.lazyPageBytes))} | ${ratio(vsDirect)} | ${rs.length} |`,
    );
  }
  out.push('');
  return out;
}

/** Fills in each migration's target timeline from the target node's containerd log when it is missing. */
export function enrich(records: RunRecord[]): void {
  for (const r of records) {
    const m = r.migration;
    if (!m || m.targetTimeline) continue;
    const t = targetTimeline(m.result.target.node, m.result.target.uid, m.result.images.map((i) => ({ container: i.container, ref: i.ref })));
    if (t) m.targetTimeline = t;
  }
}

function targetSide(records: RunRecord[], all: Cell[]): string[] {
  const out: string[] = [];
  out.push('## Inside WaitingReady: the target node (from its containerd log)', '');
  out.push('`created→sandbox`: target pod created (createTargetPod closed) until the kubelet asks for the sandbox. `pull`, `create`');
  out.push('(containerd unpacks the checkpoint), `restore` (StartContainer: CRIU restores): the slowest container\'s (pull: — when the image was');
  out.push('pulled ahead, before the pod existed). `restores span`: first pull (or create) started → last container restored. `serial`: sum of');
  out.push('per-container pull (or create)→restored times / that span (1.0 = one container after the');
  out.push('other, N = all at once). `→Ready`: last container restored until the workflow saw the pod Ready (readiness probe, status, polling).', '');
  out.push('| pod | way | created→sandbox | sandbox | pull | create | restore | restores span | serial | →Ready |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  const med = (rs: RunRecord[], f: (r: RunRecord) => number | undefined) => {
    const s = pick(rs, f);
    return s ? String(Math.round(s.median)) : '—';
  };
  for (const cell of all) {
    for (const way of MIGRATION_WAYS) {
      const rs = measured(records, way, cell).filter((r) => r.migration?.targetTimeline && r.migration.history);
      if (rs.length === 0) continue;
      const t = (r: RunRecord) => r.migration!.targetTimeline!;
      const act = (r: RunRecord, type: string) => [...r.migration!.history!.activities].reverse().find((a) => a.type === type);
      const maxOf = (r: RunRecord, f: (c: ContainerRestore) => number) => {
        const v = t(r).containers.map(f).filter((x) => Number.isFinite(x));
        return v.length ? Math.max(...v) : undefined;
      };
      const span = (r: RunRecord) => {
        const cs = t(r).containers;
        const a = Math.min(...cs.map((c) => c.pullStart ?? c.createStart ?? NaN));
        const b = Math.max(...cs.map((c) => c.restoreEnd ?? NaN));
        return Number.isFinite(b - a) ? b - a : undefined;
      };
      out.push(
        `| ${cell.containers} × ${cell.sizeMiB} | ${way} | ` +
          [
            med(rs, (r) => (t(r).sandboxStart ?? NaN) - (act(r, 'createTargetPod')?.closedAt ?? NaN)),
            med(rs, (r) => (t(r).sandboxEnd ?? NaN) - (t(r).sandboxStart ?? NaN)),
            med(rs, (r) => maxOf(r, (c) => (c.pullEnd ?? NaN) - (c.pullStart ?? NaN))),
            med(rs, (r) => maxOf(r, (c) => (c.createEnd ?? NaN) - (c.createStart ?? NaN))),
            med(rs, (r) => maxOf(r, (c) => (c.restoreEnd ?? NaN) - (c.restoreStart ?? NaN))),
            med(rs, span),
          ].join(' | ') +
          ` | ${(() => {
            const s = pick(rs, (r) => {
              const sp = span(r);
              const sum = t(r).containers.reduce((n, c) => n + ((c.restoreEnd ?? NaN) - (c.pullStart ?? c.createStart ?? NaN)), 0);
              return sp && Number.isFinite(sum) ? sum / sp : undefined;
            });
            return s ? s.median.toFixed(2) : '—';
          })()} | ${med(rs, (r) => (act(r, 'waitPodReady')?.closedAt ?? NaN) - Math.max(...t(r).containers.map((c) => c.restoreEnd ?? NaN)))} |`,
      );
    }
  }
  out.push('');
  return out;
}

/** A podferry run's workload downtime without its Pushing phase; the floor's downtime as it is. */
function withoutTransfer(r: RunRecord): number | undefined {
  if (!r.migration) return r.workloadGapMs;
  const pushing = r.migration.result.phasesMs.Pushing;
  return r.workloadGapMs === undefined || pushing === undefined ? undefined : r.workloadGapMs - pushing;
}

function targets(records: RunRecord[], all: Cell[]): string[] {
  const out: string[] = [];
  const gap = (r: RunRecord) => r.workloadGapMs;
  const three64 = all.find((c) => c.containers === 3 && c.sizeMiB === 64);
  const pf = three64 ? summarize(pairRatios(records, three64, 'podferry', 'floor', gap)) : undefined;
  const bare = three64 ? summarize(pairRatios(records, three64, 'podferry', 'floor', withoutTransfer)) : undefined;
  out.push(
    `- podferry ≤ 2× the floor for 3 × 64 MiB: ${pf ? `${pf.median.toFixed(2)}× (${pf.median <= 2 ? 'met' : 'not met'})` : 'not measured (no 3-container cell in this run; see the 2 × 64 and 4 × 64 rows)'}` +
      (bare ? `; with an instant transfer it would still be ${bare.median.toFixed(2)}× (the kubelet's checkpoint and restore alone)` : ''),
  );
  for (const cell of all.filter((c) => c.containers === 4)) {
    const s = summarize(pairRatios(records, cell, 'sequential', 'podferry', gap));
    if (s) out.push(`- sequential / podferry ≥ 3 for 4 × ${cell.sizeMiB} MiB: ${s.median.toFixed(2)}× (${s.median >= 3 ? 'met' : 'not met'})`);
  }
  for (const size of [...new Set(all.map((c) => c.sizeMiB))]) {
    const growth = (way: Way) => {
      const d1 = pick(measured(records, way, { containers: 1, sizeMiB: size }), gap);
      const d4 = pick(measured(records, way, { containers: 4, sizeMiB: size }), gap);
      return d1 && d4 ? d4.median / d1.median : undefined;
    };
    const podferry = growth('podferry');
    const floor = growth('floor');
    if (podferry !== undefined) {
      out.push(
        `- downtime(4) / downtime(1) ≤ 1.3 at ${size} MiB: ${podferry.toFixed(2)} (${podferry <= 1.3 ? 'met' : 'not met'}; medians)` +
          (floor !== undefined ? `; the floor's own: ${floor.toFixed(2)}` : ''),
      );
    }
  }
  const all_pf = records.filter((r) => r.ok && !r.warmup && r.way === 'podferry' && r.migration?.history?.windowMs);
  const share = summarize(all_pf.map((r) => (100 * r.migration!.history!.orchestrationMs) / r.migration!.history!.windowMs));
  if (share) out.push(`- Temporal overhead inside the downtime < 10 %: ${share.median.toFixed(1)} % median (${share.min.toFixed(1)}–${share.max.toFixed(1)} %) over all podferry runs (${share.median < 10 ? 'met' : 'not met'})`);
  return out;
}

/** plot.dat (one block per way and size) + plot.gp, then downtime.png through gnuplot (installed if missing). */
export async function plot(records: RunRecord[], dir: string): Promise<string | undefined> {
  const all = cells(records);
  const series: Array<{ title: string; rows: string[] }> = [];
  for (const way of WAYS) {
    for (const size of [...new Set(all.map((c) => c.sizeMiB))]) {
      const rows: string[] = [];
      for (const cell of all.filter((c) => c.sizeMiB === size).sort((a, b) => a.containers - b.containers)) {
        const s = pick(measured(records, way, cell), (r) => r.workloadGapMs);
        if (s) rows.push(`${cell.containers} ${(s.median / 1000).toFixed(4)} ${(s.min / 1000).toFixed(4)} ${(s.max / 1000).toFixed(4)}`);
      }
      if (rows.length > 0) series.push({ title: `${way} ${size} MiB`, rows });
    }
  }
  if (series.length === 0) return 'nothing to plot';
  await writeFile(path.join(dir, 'plot.dat'), series.map((s) => `# ${s.title}\n${s.rows.join('\n')}`).join('\n\n\n') + '\n');
  const style = (title: string) => {
    const way = title.split(' ')[0];
    const dt = way === 'podferry' ? 1 : way === 'sequential' ? 2 : 3;
    const size = Number(title.split(' ')[1]);
    const color = size <= 16 ? '#1b9e77' : size <= 64 ? '#d95f02' : '#7570b3';
    return `dt ${dt} lw 2 lc rgb '${color}' pt ${dt + 4}`;
  };
  const gp = [
    "set terminal pngcairo size 1000,650 font 'sans,11'",
    "set output 'downtime.png'",
    "set title 'podferry benchmark: downtime as the workload sees it (median, bars: min–max)'",
    "set xlabel 'containers in the pod'",
    "set ylabel 'downtime (s)'",
    'set logscale y',
    'set grid',
    'set key outside right',
    `set xrange [0.5:${Math.max(...all.map((c) => c.containers)) + 0.5}]`,
    `set xtics (${[...new Set(all.map((c) => c.containers))].sort((a, b) => a - b).join(', ')})`,
    'plot ' + series.map((s, i) => `'plot.dat' index ${i} using 1:2:3:4 with yerrorlines title '${s.title}' ${style(s.title)}`).join(', \\\n     '),
  ].join('\n');
  await writeFile(path.join(dir, 'plot.gp'), gp + '\n');
  if (spawnSync('sh', ['-c', 'command -v gnuplot']).status !== 0) {
    console.error('gnuplot is missing: installing gnuplot-nox (Debian)');
    spawnSync('apt-get', ['install', '-y', '-q', 'gnuplot-nox'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const result = spawnSync('gnuplot', ['plot.gp'], { cwd: dir, encoding: 'utf8' });
  return result.status === 0 ? undefined : `gnuplot failed: ${result.stderr || result.error?.message}`;
}
