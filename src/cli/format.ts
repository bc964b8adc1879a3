// Human output of the CLI: timing tables and sizes. Pure.
import type { MigrationResult } from '../api/migration.js';

/** Columns after the first are right-aligned (figures) unless `align` is 'left' (text). */
export function table(headers: string[], rows: string[][], align: 'figures' | 'left' = 'figures'): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (c: string, i: number) => (i === 0 || align === 'left' ? c.padEnd(widths[i]!) : c.padStart(widths[i]!));
  const line = (cells: string[]) => cells.map(pad).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function resultReport(result: MigrationResult): string {
  const phases = table(
    ['phase', 'duration'],
    Object.entries(result.phasesMs).map(([phase, ms]) => [phase, seconds(ms ?? 0)]),
  );
  const containers = table(
    ['container', 'checkpoint', 'push', 'pull on target', 'archive', 'pushed'],
    Object.entries(result.containers).map(([name, t]) => [
      name,
      seconds(t.checkpointMs),
      seconds(t.pushMs),
      t.pullMs === undefined ? '—' : seconds(t.pullMs),
      bytes(t.archiveBytes),
      bytes(t.bytesPushed),
    ]),
  );
  return [
    `migrated ${result.source.cluster}/${result.source.namespace}/${result.source.name} → ${result.target.cluster}/${result.target.namespace}/${result.target.name}` +
      (result.target.node ? ` on node ${result.target.node}` : ''),
    '',
    phases,
    '',
    containers,
    '',
    `downtime      ${seconds(result.downtimeMs)}   (source frozen → target Ready)`,
    `total         ${seconds(result.totalMs)}   (${result.parallel ? 'parallel' : 'sequential'})`,
    `bytes pushed  ${bytes(result.bytesPushed)}`,
    ...(result.warnings.length ? ['', 'warnings:', ...result.warnings.map((w) => `  - ${w}`)] : []),
  ].join('\n');
}
