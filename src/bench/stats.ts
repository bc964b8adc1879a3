// Medians with min and max, and the ratios computed per run pair (same cell, same run index: the runs of a
// pair ran back to back, so the machine's drift cancels out).
import type { RunRecord, Way } from './records.js';

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: number[]): Summary | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}

export type Cell = { containers: number; sizeMiB: number };
export const cellKey = (c: Cell) => `${c.containers}x${c.sizeMiB}`;

export function measured(records: RunRecord[], way: Way, cell: Cell): RunRecord[] {
  return records.filter((r) => r.ok && !r.warmup && r.way === way && r.containers === cell.containers && r.sizeMiB === cell.sizeMiB);
}

/** numerator/denominator of a figure for every run index where both ways succeeded. */
export function pairRatios(records: RunRecord[], cell: Cell, numerator: Way, denominator: Way, figure: (r: RunRecord) => number | undefined): number[] {
  const byRun = new Map(measured(records, denominator, cell).map((r) => [r.run, r]));
  const out: number[] = [];
  for (const r of measured(records, numerator, cell)) {
    const d = byRun.get(r.run);
    const a = figure(r);
    const b = d ? figure(d) : undefined;
    if (a !== undefined && b !== undefined && b > 0) out.push(a / b);
  }
  return out;
}

export function cells(records: RunRecord[]): Cell[] {
  const seen = new Map<string, Cell>();
  for (const r of records) seen.set(cellKey(r), { containers: r.containers, sizeMiB: r.sizeMiB });
  return [...seen.values()].sort((a, b) => a.sizeMiB - b.sizeMiB || a.containers - b.containers);
}
