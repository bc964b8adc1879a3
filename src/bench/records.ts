// One benchmark run as stored in raw.json, whichever way it was done, with the figures every way shares (and
// post-copy's page stream).
import type { MigrationMode } from '../api/migration.js';
import type { FloorRun } from './floor.js';
import type { MigrationRun } from './podferry-way.js';

/**
 * `crio`: podferry as shipped on CRI-O, lab-c → lab-c (another namespace on lab-c-node: a move across
 * runtimes is refused, and lab-c has one node). `liqo`: podferry as shipped through Liqo, lab-a-node → lab-a's
 * virtual node for lab-b (the pod runs restored on lab-b-node). Experiments, not default ways: `direct` (node to node, no registry), `kubelet-pull` (podferry without
 * pulling the checkpoint images on the target node ahead of the kubelet, as before that change) and
 * `kubelet-checkpoint` (checkpoints through the kubelet API and the API server's node proxy, as before the
 * node worker asked its runtime). `postcopy`: the `direct` route with options.mode=postcopy (the target restores
 * without the memory and pulls the pages from the frozen source while it runs).
 */
export const WAYS = ['podferry', 'sequential', 'floor', 'direct', 'kubelet-pull', 'kubelet-checkpoint', 'crio', 'liqo', 'postcopy'] as const;
export const DEFAULT_WAYS: Way[] = ['podferry', 'sequential', 'floor'];
/** The ways that run podferry's workflow (all but the floor). */
export const MIGRATION_WAYS = ['podferry', 'sequential', 'direct', 'kubelet-pull', 'kubelet-checkpoint', 'crio', 'liqo', 'postcopy'] as const satisfies readonly Way[];
export type Way = (typeof WAYS)[number];

export interface RunRecord {
  way: Way;
  containers: number;
  sizeMiB: number;
  /** 0 is the warm-up (kept in raw.json, left out of the statistics). */
  run: number;
  warmup: boolean;
  startedAt: string;
  ok: boolean;
  error?: string;
  attempts: number;
  /** The way's own downtime: podferry's result.downtimeMs (freeze → target Ready); floor: checkpoint + restore wall time. */
  downtimeMs?: number;
  /** The workload's own view in wall-clock time: the longest time any counter of the pod saw no tick. */
  workloadGapMs?: number;
  /** The counters' own longestGapMs (CLOCK_MONOTONIC), max over the pod: what the sample reports itself. */
  monotonicGapMs?: number;
  /** A client polling counter 0 every 10 ms: last answer before → first answer after. */
  clientGapMs?: number;
  /** podferry: whole migration (plan → finalize); floor: same as downtime. */
  totalMs?: number;
  /** podferry: bytes pushed to the registry; floor: bytes of CRIU images written. */
  bytes?: number;
  /** podferry: how the memory moved (the result's mode). */
  mode?: MigrationMode;
  /** Post-copy: freeze → the last page of every container at the target (until then the target depends on the frozen source). */
  pagesArrivedMs?: number;
  /** Post-copy: the memory that reached the target after its start (lazy pages), all containers. */
  lazyPageBytes?: number;
  restored?: boolean;
  migration?: MigrationRun;
  floor?: FloorRun;
}
