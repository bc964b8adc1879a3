// What this node decided about each pod it froze for a migration, one JSON file per pod uid, and the fencing
// rules that keep a late or retried call from undoing a later decision. The workflow numbers its decisions
// about a pod (freeze = 1, the thaw or kill after it = 2, …); the record keeps the highest number seen, so
// an older call arriving late (a timed-out attempt still running, a retry) is refused instead of acting.
// Fences count per migration: another migration of the same pod starts again at 1, so the fences of earlier
// migrations are kept beside the current one. The files survive a worker restart (the frozen-pod sweeper
// reads them); they need no fsync: a frozen pod does not survive the node's reboot either.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';

export type FrozenPodState = 'frozen' | 'thawed' | 'killed';

export interface FrozenPodRecord {
  /** The migration (= its workflow id) that made the last decision about the pod. */
  migrationId: string;
  podUid: string;
  containerIds: string[];
  state: FrozenPodState;
  /** The highest fence seen from that migration. */
  fence: number;
  /** Temporal attempt of the freezePod call that froze it (only its own failure path may thaw it again). */
  freezeAttempt?: number;
  /** When this node started freezing it (epoch ms), kept across retries of the same freeze. */
  frozenAt?: number;
  /** From when the sweeper asks the workflow whether the pod is still wanted frozen (epoch ms). */
  sweepAt?: number;
  /** Last change (epoch ms): thawed and killed records are forgotten a day after it. */
  updatedAt: number;
  /** Highest fences of earlier migrations of this pod, so their late calls stay refused. */
  earlierFences?: Record<string, number>;
}

export type FencedCallName = 'freezePod' | 'thawPod' | 'killFrozenPod';

export interface FencedCall {
  call: FencedCallName;
  migrationId: string;
  podUid: string;
  containerIds: string[];
  fence: number;
}

/** What a freeze adds to its record. */
export interface FreezeClaim {
  attempt: number;
  sweepAfterMs: number;
}

const STATE_AFTER: Record<FencedCallName, FrozenPodState> = { freezePod: 'frozen', thawPod: 'thawed', killFrozenPod: 'killed' };

/** Where a node worker keeps its records: per node, because the lab runs several node workers on one host. */
export function frozenPodsDir(stateDir: string, cluster: string, nodeName: string): string {
  return path.join(stateDir, 'frozen-pods', cluster, nodeName);
}

/**
 * The record after `call`, or a non-retryable ApplicationFailure refusing it: `Fenced` when the call's fence
 * is lower than one this node saw from the same migration, `PodFrozenByAnotherMigration` when another
 * migration holds the pod frozen. A freeze with the fence it already holds (a retry) is accepted again.
 */
export function recordAfter(current: FrozenPodRecord | undefined, call: FencedCall, now: number, claim?: FreezeClaim): FrozenPodRecord {
  const seen = current && (current.migrationId === call.migrationId ? current.fence : current.earlierFences?.[call.migrationId]);
  const who = `${call.call} of pod uid ${call.podUid} for migration ${call.migrationId} with fence ${call.fence}`;
  if (current && seen !== undefined && call.fence < seen) {
    const later = current.migrationId === call.migrationId ? `it is ${current.state} at fence ${seen} since ${iso(current.updatedAt)}` : `it decided fence ${seen} before`;
    throw ApplicationFailure.nonRetryable(
      `${who} refused: this node already saw a later decision of that migration (${later}); this call is late or retried and must not undo it`,
      'Fenced',
    );
  }
  if (current?.state === 'frozen' && current.migrationId !== call.migrationId) {
    throw ApplicationFailure.nonRetryable(
      `${who} refused: the pod is frozen by migration ${current.migrationId} (fence ${current.fence}, since ${iso(current.frozenAt ?? current.updatedAt)}); ` +
        'wait until that migration has ended (its workflow id is the migration id), then try again',
      'PodFrozenByAnotherMigration',
    );
  }
  const earlierFences = { ...current?.earlierFences };
  if (current && current.migrationId !== call.migrationId) earlierFences[current.migrationId] = current.fence;
  delete earlierFences[call.migrationId];
  const next: FrozenPodRecord = {
    migrationId: call.migrationId,
    podUid: call.podUid,
    containerIds: call.containerIds,
    state: STATE_AFTER[call.call],
    fence: call.fence,
    updatedAt: now,
    ...(Object.keys(earlierFences).length > 0 ? { earlierFences } : {}),
  };
  if (call.call === 'freezePod' && claim) {
    const retried = current?.state === 'frozen' && current.migrationId === call.migrationId && current.fence === call.fence;
    const frozenAt = retried && current.frozenAt !== undefined ? current.frozenAt : now;
    return { ...next, freezeAttempt: claim.attempt, frozenAt, sweepAt: frozenAt + claim.sweepAfterMs };
  }
  // A thaw or kill keeps when and by which attempt the pod was frozen (for the log, and the operator).
  if (current?.migrationId !== call.migrationId || current.frozenAt === undefined) return next;
  return { ...next, freezeAttempt: current.freezeAttempt, frozenAt: current.frozenAt };
}

/** Whether the record says this very freeze (migration, fence, attempt) holds the pod frozen. */
export function frozenBy(record: FrozenPodRecord | undefined, call: FencedCall, attempt: number): boolean {
  return record?.state === 'frozen' && record.migrationId === call.migrationId && record.fence === call.fence && record.freezeAttempt === attempt;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The records of one node, in `dir`. Changes to one pod's record are serialized within this process. */
export class FrozenPodRecords {
  readonly dir: string;
  private readonly changing = new Map<string, Promise<unknown>>();

  constructor(dir: string) {
    this.dir = dir;
  }

  private file(podUid: string): string {
    if (!/^[0-9a-zA-Z_-]+$/.test(podUid)) throw new Error(`pod uid ${JSON.stringify(podUid)} is not a Kubernetes uid: no record file is named after it`);
    return path.join(this.dir, `${podUid}.json`);
  }

  async read(podUid: string): Promise<FrozenPodRecord | undefined> {
    const file = this.file(podUid);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as FrozenPodRecord;
    } catch (err) {
      throw new Error(`frozen-pod record ${file} is not valid JSON (${(err as Error).message}): move it away once you know the pod's state`);
    }
  }

  /** Pod uids that have a record. */
  async podUids(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // nothing frozen yet
      throw err;
    }
    return entries.filter((e) => e.endsWith('.json')).map((e) => e.slice(0, -'.json'.length));
  }

  /**
   * Reads the pod's record, lets `change` decide the next one (or undefined: leave it; or throw: refuse), and
   * writes it atomically (temporary file, then rename). Returns what was written.
   */
  update(podUid: string, change: (current: FrozenPodRecord | undefined) => FrozenPodRecord | undefined): Promise<FrozenPodRecord | undefined> {
    return this.oneAtATime(podUid, async () => {
      const next = change(await this.read(podUid));
      if (next) await this.write(next);
      return next;
    });
  }

  /** Deletes the pod's record if `condition` holds for it (checked in turn with the changes to it). */
  removeIf(podUid: string, condition: (current: FrozenPodRecord) => boolean): Promise<boolean> {
    return this.oneAtATime(podUid, async () => {
      const current = await this.read(podUid);
      if (!current || !condition(current)) return false;
      await rm(this.file(podUid), { force: true });
      return true;
    });
  }

  private oneAtATime<T>(podUid: string, work: () => Promise<T>): Promise<T> {
    const run = (this.changing.get(podUid) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    this.changing.set(podUid, settled);
    void settled.then(() => {
      if (this.changing.get(podUid) === settled) this.changing.delete(podUid);
    });
    return run;
  }

  private async write(record: FrozenPodRecord): Promise<void> {
    const file = this.file(record.podUid);
    await mkdir(this.dir, { recursive: true });
    const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
  }
}
