// Watches both copies of the lab's sample workload during a migration: the source pod's counter and, once it
// exists, the target pod's, each sampled every 10 ms. The counter ticks every 10 ms and reports the wall-clock
// time of its last tick (same host clock as this process), so each answer proves the copy ran at that instant.
// From those instants: was there ever a moment when both copies ran (the workload twice), how long did no
// copy run (the frozen time the workload saw), and which copy continued from the value it was frozen at.
import type { CoreV1Api } from '@kubernetes/client-node';

export type Copy = 'source' | 'target';

interface Tick {
  copy: Copy;
  /** Wall-clock ms of the copy's last counter tick. */
  at: number;
  count: number;
  startedAt: string;
}

/** A stretch of time in which a copy ticked without a pause longer than SPAN_GAP_MS. */
interface RunningSpan {
  copy: Copy;
  from: number;
  to: number;
  firstCount: number;
  lastCount: number;
}

export interface ProbeVerdict {
  /** Both copies ran at once: the instants (ms) where their running spans overlap. */
  twice: Array<{ from: number; to: number }>;
  /** The longest time in which no copy ticked, from the first freeze on (ms); 0 if the workload never stopped. */
  frozenMs: number;
  /** The copy that ticked last, if any. */
  running?: Copy;
  /** That copy continued from the count it had before the longest pause, in the same process (restored, not restarted). */
  continuedFromFrozenValue: boolean;
  samples: number;
}

const SAMPLE_EVERY_MS = 10;
/** Ticks closer than this belong to one running stretch (the counter ticks every 10 ms; allow scheduling noise). */
const SPAN_GAP_MS = 150;

export class TwoCopiesProbe {
  private readonly ticks: Tick[] = [];
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];
  private targetIp: string | undefined;
  private readonly sourceIp: string;
  private readonly target: { core: CoreV1Api; namespace: string; name: string };

  constructor(sourceIp: string, target: { core: CoreV1Api; namespace: string; name: string }) {
    this.sourceIp = sourceIp;
    this.target = target;
  }

  start(): void {
    this.loops.push(this.sample('source', () => this.sourceIp));
    this.loops.push(this.sample('target', () => this.targetIp));
    this.loops.push(this.findTarget());
  }

  async stop(): Promise<ProbeVerdict> {
    this.stopped = true;
    await Promise.all(this.loops);
    return judge(this.ticks);
  }

  private async sample(copy: Copy, ip: () => string | undefined): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      const address = ip();
      if (address) {
        try {
          const response = await fetch(`http://${address}:8080/`, { signal: AbortSignal.timeout(200) });
          const body = (await response.json()) as { count: number; lastTick: string; startedAt: string };
          this.ticks.push({ copy, at: Date.parse(body.lastTick), count: body.count, startedAt: body.startedAt });
        } catch {
          // frozen (no answer), gone, or not there yet
        }
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, SAMPLE_EVERY_MS - (Date.now() - started))));
    }
  }

  /** The target pod's IP, once it has one (the pod is created during the migration). */
  private async findTarget(): Promise<void> {
    while (!this.stopped) {
      try {
        const pod = await this.target.core.readNamespacedPod({ namespace: this.target.namespace, name: this.target.name });
        this.targetIp = pod.status?.podIP || undefined;
      } catch {
        this.targetIp = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export function judge(ticks: Tick[]): ProbeVerdict {
  const spans = (['source', 'target'] as const).flatMap((copy) => runningSpans(ticks.filter((t) => t.copy === copy)));
  const twice: Array<{ from: number; to: number }> = [];
  for (const s of spans.filter((x) => x.copy === 'source')) {
    for (const t of spans.filter((x) => x.copy === 'target')) {
      const from = Math.max(s.from, t.from);
      const to = Math.min(s.to, t.to);
      if (from <= to) twice.push({ from, to });
    }
  }
  const ordered = [...spans].sort((a, b) => a.from - b.from);
  let frozenMs = 0;
  let before: RunningSpan | undefined;
  let after: RunningSpan | undefined;
  let coveredUntil = ordered[0]?.to ?? 0;
  let last = ordered[0];
  for (const span of ordered.slice(1)) {
    const gap = span.from - coveredUntil;
    if (gap > frozenMs) {
      frozenMs = gap;
      before = last;
      after = span;
    }
    if (span.to > coveredUntil) {
      coveredUntil = span.to;
      last = span;
    }
  }
  const latest = [...ticks].sort((a, b) => a.at - b.at).at(-1);
  const sameProcess = (a?: RunningSpan, b?: RunningSpan) =>
    !!a && !!b && ticks.find((t) => t.copy === a.copy && t.count === a.lastCount)?.startedAt === ticks.find((t) => t.copy === b.copy && t.count === b.firstCount)?.startedAt;
  return {
    twice,
    frozenMs,
    ...(latest ? { running: latest.copy } : {}),
    continuedFromFrozenValue: frozenMs === 0 || (!!before && !!after && after.firstCount >= before.lastCount && sameProcess(before, after)),
    samples: ticks.length,
  };
}

function runningSpans(ticks: Tick[]): RunningSpan[] {
  const distinct = [...new Map(ticks.map((t) => [t.count, t])).values()].sort((a, b) => a.at - b.at);
  const spans: RunningSpan[] = [];
  for (const tick of distinct) {
    const current = spans.at(-1);
    if (current && tick.at - current.to <= SPAN_GAP_MS) {
      current.to = tick.at;
      current.lastCount = tick.count;
    } else {
      spans.push({ copy: tick.copy, from: tick.at, to: tick.at, firstCount: tick.count, lastCount: tick.count });
    }
  }
  return spans;
}
