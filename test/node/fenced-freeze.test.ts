// Fenced freeze, thaw and kill on this machine's real cgroup freezer: a late or retried call must never undo
// a later decision about the pod. Attempts are told apart by a stand-in activity context (attempt number,
// cancellation); a stand-in containerd (it freezes the container cgroup, as containerd's pause does) lets a
// test hold one attempt in the middle of its freeze while another call overtakes it. Needs root.
import { statSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from '@jest/globals';
import { CancelledFailure } from '@temporalio/common';
import { createNodeActivities } from '../../src/activities/node.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { FrozenPodRecords } from '../../src/node/frozen-pods.js';
import { asActivityAttempt, HIERARCHIES, startCountingPod, standInContainerd, type CountingPod } from './counting-pod.js';

const h = HIERARCHIES.find((candidate) => candidate.available);

(h ? describe : describe.skip)(`fenced freeze, thaw and kill (real cgroup ${h?.version} freezer)`, () => {
  const hierarchy = h!;
  let pod: CountingPod;
  const containerd = standInContainerd(() => pod, hierarchy);
  let records: FrozenPodRecords;
  let activities: ReturnType<typeof createNodeActivities>;
  const containerIds = ['containerd://container-1'];
  const call = (migrationId: string, fence: number) => ({ podUid: pod.uid, containerIds, migrationId, fence });
  const freezeCall = (migrationId: string, fence = 1) => ({ ...call(migrationId, fence), sweepAfterMs: 60_000 });

  async function newPod() {
    pod = await startCountingPod(hierarchy);
    records = new FrozenPodRecords(mkdtempSync(path.join(tmpdir(), 'podferry-state-')));
    activities = createNodeActivities({ cgroupFsRoot: hierarchy.cgroupFsRoot, archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent' }), nodeName: 'test-node', containerd: containerd.tasks, frozenPods: records });
  }

  afterEach(async () => {
    await pod.remove();
  });

  test('a late freeze after the thaw is refused as Fenced, and the pod stays thawed', async () => {
    await newPod();
    await activities.freezePod(freezeCall('m1'));
    expect(await pod.runs()).toBe(false);
    await activities.thawPod(call('m1', 2));
    await expect(asActivityAttempt(2, () => activities.freezePod(freezeCall('m1')))).rejects.toMatchObject({
      type: 'Fenced',
      nonRetryable: true,
      message: expect.stringContaining('freezePod of pod uid'),
    });
    expect(await pod.runs()).toBe(true);
    expect(await records.read(pod.uid)).toMatchObject({ migrationId: 'm1', state: 'thawed', fence: 2 });
  });

  test('a thaw that comes before its freeze started (compensation of a lost freeze) fences that freeze off', async () => {
    await newPod();
    expect(await activities.thawPod(call('m1', 2))).toEqual({ thawed: true });
    await expect(activities.freezePod(freezeCall('m1'))).rejects.toMatchObject({ type: 'Fenced' });
    expect(await pod.runs()).toBe(true);
  });

  test("a retry's freeze stands: the first attempt, failing late, does not thaw it", async () => {
    await newPod();
    const held = containerd.holdNextPause();
    const first = asActivityAttempt(1, () => activities.freezePod(freezeCall('m1')));
    await held.reached; // attempt 1 froze the pod cgroup and waits in containerd (timed out, from Temporal's view)
    await asActivityAttempt(2, () => activities.freezePod(freezeCall('m1')));
    expect(await records.read(pod.uid)).toMatchObject({ state: 'frozen', fence: 1, freezeAttempt: 2 });
    held.release(new Error('containerd pause of task container-1 failed: deadline exceeded'));
    await expect(first).rejects.toMatchObject({ type: 'FreezeFailed', message: expect.stringContaining('not thawed') });
    expect(await pod.runs()).toBe(false);
    expect(await records.read(pod.uid)).toMatchObject({ state: 'frozen', freezeAttempt: 2 });
  });

  test('the first attempt, succeeding late after a retry froze the pod, stops without thawing it', async () => {
    await newPod();
    const held = containerd.holdNextPause();
    const first = asActivityAttempt(1, () => activities.freezePod(freezeCall('m1')));
    await held.reached;
    await asActivityAttempt(2, () => activities.freezePod(freezeCall('m1')));
    held.release();
    await expect(first).rejects.toMatchObject({ type: 'Fenced', message: expect.stringContaining('freeze attempt 2') });
    expect(await pod.runs()).toBe(false);
  });

  test('a freeze still under way when the thaw comes does not leave the pod frozen', async () => {
    await newPod();
    const held = containerd.holdNextPause();
    const late = asActivityAttempt(1, () => activities.freezePod(freezeCall('m1')));
    await held.reached;
    await activities.thawPod(call('m1', 2));
    held.release(); // the late attempt now pauses the container, after the thaw
    await expect(late).rejects.toMatchObject({ type: 'Fenced' });
    expect(pod.frozen(pod.containerDirs['container-1']!)).toBe(false);
    expect(await pod.runs()).toBe(true);
  });

  test('a cancelled freeze stops between its steps and thaws what it froze', async () => {
    await newPod();
    const cancellation = new AbortController();
    const held = containerd.holdNextPause();
    const freezing = asActivityAttempt(1, () => activities.freezePod(freezeCall('m1')), cancellation.signal);
    await held.reached;
    cancellation.abort(new CancelledFailure('CANCELLED'));
    held.release();
    await expect(freezing).rejects.toBeInstanceOf(CancelledFailure);
    expect(await pod.runs()).toBe(true);
    expect(await records.read(pod.uid)).toMatchObject({ state: 'thawed', fence: 1 });
  });

  test('a kill for a migration that never froze the pod on this node is refused, and the pod runs on', async () => {
    await newPod();
    await expect(activities.killFrozenPod(call('never-froze-it', 7))).rejects.toMatchObject({ type: 'NotFrozenByThisMigration' });
    await activities.freezePod(freezeCall('m1'));
    await expect(activities.killFrozenPod(call('another-migration', 9))).rejects.toMatchObject({ type: 'NotFrozenByThisMigration' });
    await activities.thawPod(call('m1', 2));
    expect(await pod.runs()).toBe(true);
  });

  test('kill after the thaw with a higher fence kills; a lower fence is refused and changes nothing', async () => {
    await newPod();
    await activities.freezePod(freezeCall('m1'));
    await activities.thawPod(call('m1', 2));
    await expect(activities.killFrozenPod(call('m1', 1))).rejects.toMatchObject({ type: 'Fenced', message: expect.stringContaining('thawed at fence 2') });
    expect(await pod.runs()).toBe(true);
    const exited = new Promise((r) => pod.worker.once('exit', (_code, signal) => r(signal)));
    expect((await activities.killFrozenPod(call('m1', 3))).killed).toBeGreaterThanOrEqual(1);
    expect(await exited).toBe('SIGKILL');
    expect(await records.read(pod.uid)).toMatchObject({ state: 'killed', fence: 3 });
    await expect(activities.thawPod(call('m1', 2))).rejects.toMatchObject({ type: 'Fenced' });
  });

  test("another migration can neither freeze nor thaw a pod frozen by the first; later, the first one's late calls stay fenced", async () => {
    await newPod();
    await activities.freezePod(freezeCall('m1'));
    await expect(activities.freezePod(freezeCall('m2'))).rejects.toMatchObject({ type: 'PodFrozenByAnotherMigration', message: expect.stringContaining('frozen by migration m1') });
    await expect(activities.thawPod(call('m2', 2))).rejects.toMatchObject({ type: 'PodFrozenByAnotherMigration' });
    expect(await pod.runs()).toBe(false);
    await activities.thawPod(call('m1', 2));
    await activities.freezePod(freezeCall('m2')); // m2's fences start at 1 again
    await expect(activities.freezePod(freezeCall('m1'))).rejects.toMatchObject({ type: 'Fenced' }); // m1 had decided fence 2
    await activities.thawPod(call('m2', 2));
    expect(await records.read(pod.uid)).toMatchObject({ migrationId: 'm2', state: 'thawed', fence: 2, earlierFences: { m1: 2 } });
    expect(await pod.runs()).toBe(true);
  });

  test('the record on disk: one 0600 JSON file per pod uid, written whole', async () => {
    await newPod();
    const before = Date.now();
    await asActivityAttempt(3, () => activities.freezePod({ ...freezeCall('m1'), sweepAfterMs: 5_000 }));
    const file = path.join(records.dir, `${pod.uid}.json`);
    expect(readdirSync(records.dir)).toEqual([`${pod.uid}.json`]); // no temporary file left behind
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const record = (await records.read(pod.uid))!;
    expect(record).toMatchObject({ migrationId: 'm1', podUid: pod.uid, containerIds, state: 'frozen', fence: 1, freezeAttempt: 3 });
    expect(record.frozenAt).toBeGreaterThanOrEqual(before);
    expect(record.sweepAt).toBe(record.frozenAt! + 5_000);
    await activities.thawPod(call('m1', 2));
    expect(await records.read(pod.uid)).toMatchObject({ state: 'thawed', fence: 2, frozenAt: record.frozenAt, freezeAttempt: 3 });
  });
});
