// The client's view of downtime, and the workload's own in wall-clock time.
//
// A client asks every counter of the pod for its state every 10 ms, each request on a fresh connection with
// its own timeout, never waiting for the previous one (a frozen endpoint must not slow the probing down);
// a migrated pod answers from a new IP, so every counter is asked at the source and, once known, the target.
// - client gap (counter 0): the longest time between two answers, i.e. the last answer before the freeze
//   to the first answer after the restore;
// - workload gap (per counter, wall clock): the counter's first tick after the restore (`longestGapEnded`,
//   else the `lastTick` of the first answer after) minus the last tick it reported before the freeze.
//   The counter's own `longestGapMs` is measured on CLOCK_MONOTONIC, which a CRIU restore does not always
//   carry across (see bench/README.md), so it is recorded but not used as the downtime.
import { performance } from 'node:perf_hooks';
import { getCounter, type CounterState } from './workload.js';

export interface CounterGap {
  port: number;
  /** Longest time between two answers from this counter, ms (client's view). */
  clientGapMs: number;
  /** Wall-clock time from the last tick reported before that gap to the first tick after it, ms. */
  wallGapMs: number;
  lastTickBefore?: string;
  firstTickAfter?: string;
  firstAnswerFrom?: string;
}

export interface ProbeResult {
  /** Client gap of counter 0 (the one a client of the pod would talk to). */
  gapMs: number;
  answers: number;
  failures: number;
  counters: CounterGap[];
}

interface Answer {
  at: number;
  host: string;
  state: CounterState;
}

export class GapProbe {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private failures = 0;
  private readonly answers = new Map<number, Answer[]>();
  private readonly pending = new Set<Promise<void>>();

  /** hosts() is read at every tick, so the target can join once its address is known. */
  private readonly hosts: () => string[];
  private readonly ports: number[];
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;

  constructor(hosts: () => string[], ports: number[], intervalMs = 10, timeoutMs = 1000, maxInFlight = 400) {
    this.hosts = hosts;
    this.ports = ports;
    this.intervalMs = intervalMs;
    this.timeoutMs = timeoutMs;
    this.maxInFlight = maxInFlight;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  private tick(): void {
    for (const host of this.hosts()) {
      for (const port of this.ports) {
        if (this.inFlight >= this.maxInFlight) return;
        this.inFlight++;
        const done = getCounter(host, port, this.timeoutMs)
          .then(
            (state) => {
              const list = this.answers.get(port) ?? [];
              list.push({ at: performance.timeOrigin + performance.now(), host, state });
              this.answers.set(port, list);
            },
            () => void this.failures++,
          )
          .finally(() => {
            this.inFlight--;
            this.pending.delete(done);
          });
        this.pending.add(done);
      }
    }
  }

  /** True once counter `port` answered from `host`. */
  answeredFrom(host: string, port: number): boolean {
    return (this.answers.get(port) ?? []).some((a) => a.host === host);
  }

  async stop(): Promise<ProbeResult> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.pending]);
    const counters = this.ports.map((port) => counterGap(port, (this.answers.get(port) ?? []).sort((a, b) => a.at - b.at)));
    const answers = [...this.answers.values()].reduce((n, l) => n + l.length, 0);
    return { gapMs: counters[0]?.clientGapMs ?? 0, answers, failures: this.failures, counters };
  }
}

function counterGap(port: number, answers: Answer[]): CounterGap {
  let best: { before: Answer; after: Answer } | undefined;
  for (let i = 1; i < answers.length; i++) {
    const [a, b] = [answers[i - 1]!, answers[i]!];
    if (!best || b.at - a.at > best.after.at - best.before.at) best = { before: a, after: b };
  }
  if (!best) return { port, clientGapMs: 0, wallGapMs: 0 };
  // The last tick before the freeze: the newest lastTick any answer up to the gap reported (answers can
  // arrive out of order).
  const lastBefore = Math.max(...answers.filter((a) => a.at <= best.before.at).map((a) => Date.parse(a.state.lastTick)));
  // The first tick after the restore. The first answers after the gap may come before the restored ticker
  // ran (they still report the last tick before the freeze), so: the earliest `longestGapEnded` after the
  // freeze that an answer reported (the tick that ended the gap), else the earliest `lastTick` clearly
  // after the freeze.
  const after = answers.filter((a) => a.at >= best.after.at);
  const ended = after.map((a) => Date.parse(a.state.longestGapEnded)).filter((t) => t > lastBefore);
  const ticks = after.map((a) => Date.parse(a.state.lastTick)).filter((t) => t > lastBefore + 20);
  const firstAfter = ended.length > 0 ? Math.min(...ended) : ticks.length > 0 ? Math.min(...ticks) : NaN;
  return {
    port,
    clientGapMs: best.after.at - best.before.at,
    wallGapMs: firstAfter - lastBefore,
    ...(Number.isFinite(lastBefore) ? { lastTickBefore: new Date(lastBefore).toISOString() } : {}),
    ...(Number.isFinite(firstAfter) ? { firstTickAfter: new Date(firstAfter).toISOString() } : {}),
    firstAnswerFrom: best.after.host,
  };
}
