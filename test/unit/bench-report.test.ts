import { describe, expect, test } from '@jest/globals';
import type { RunRecord } from '../../src/bench/records.js';
import { markdown } from '../../src/bench/report.js';

const MiB = 2 ** 20;
const run = (way: RunRecord['way'], index: number, figures: Partial<RunRecord>): RunRecord => ({
  way,
  containers: 1,
  sizeMiB: 64,
  run: index,
  warmup: index === 0,
  startedAt: '2026-12-01T06:00:00.000Z',
  ok: true,
  attempts: 1,
  ...figures,
});
const postcopy = (index: number, workloadGapMs: number, pagesArrivedMs: number, lazyMiB: number) =>
  run('postcopy', index, { mode: 'postcopy', workloadGapMs, downtimeMs: workloadGapMs + 100, pagesArrivedMs, lazyPageBytes: lazyMiB * MiB });

describe('the bench report', () => {
  test('the postcopy way gets the median time until the pages arrived and the lazy bytes beside its downtime, and its ratio to direct per run pair', () => {
    const records = [
      postcopy(0, 9000, 99_000, 1), // the warm-up: left out
      run('direct', 1, { workloadGapMs: 4000 }),
      postcopy(1, 1000, 3000, 60),
      run('direct', 2, { workloadGapMs: 4000 }),
      postcopy(2, 1200, 3200, 64),
      run('direct', 3, { workloadGapMs: 5000 }),
      postcopy(3, 2000, 3500, 66),
    ];
    const report = markdown(records, 'machine', 'command');
    expect(report).toContain('## Post-copy: the pages after the start');
    expect(report).toContain('| 1 × 64 | 1200 (1000–2000) | 1300 (1100–2100) | 3200 (3000–3500) | 64 MiB | 0.30 (0.25–0.40) | 3 |');
  });

  test('without the postcopy way the report has no post-copy section', () => {
    const records = [run('direct', 1, { workloadGapMs: 4000 }), run('floor', 1, { workloadGapMs: 400 })];
    expect(markdown(records, 'machine', 'command')).not.toMatch(/post-copy/i);
  });
});
