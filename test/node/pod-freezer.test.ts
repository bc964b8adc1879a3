// The node activities against this machine's real cgroup freezers (v1 and v2): a pod-shaped cgroup tree with
// a process that keeps counting; freezing must stop the count at once, thawing must let it continue from the
// same value, and killFrozenPod must end it without it running again. Needs root (skipped otherwise).
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createNodeActivities } from '../../src/activities/node.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { FrozenPodRecords } from '../../src/node/frozen-pods.js';
import { HIERARCHIES, sleep, startCountingPod, type CountingPod, type FreezerHierarchy } from './counting-pod.js';

const records = () => new FrozenPodRecords(mkdtempSync(path.join(tmpdir(), 'podferry-state-')));

function freezerSuite(h: FreezerHierarchy) {
  (h.available ? describe : describe.skip)(`freezing a pod through the cgroup ${h.version} freezer (real kernel)`, () => {
    let pod: CountingPod;
    let containerDir: string;
    // No containerd here: the container cgroup is frozen directly (the CRI-O path).
    const activities = createNodeActivities({ cgroupFsRoot: h.cgroupFsRoot, archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent' }), nodeName: 'test-node', frozenPods: records() });
    const migration = (migrationId: string) => ({ podUid: pod.uid, containerIds: ['cri-o://container-1'], migrationId });

    beforeAll(async () => {
      pod = await startCountingPod(h);
      containerDir = pod.containerDirs['container-1']!;
    });

    afterAll(async () => {
      await pod.remove();
    });

    test('freezePod stops every process of the pod at once, and thawPod lets it continue from where it was', async () => {
      expect(pod.count()).toBeGreaterThan(0);
      const freeze = { ...migration('m-thaw'), fence: 1, sweepAfterMs: 60_000 };
      const result = await activities.freezePod(freeze);
      expect(result.cgroup).toBe(pod.podDir);
      expect(result.version).toBe(h.version);
      // Handed over to the containers: CRIU can thaw a container cgroup to seize its tasks, not a frozen parent.
      expect(pod.frozen(containerDir)).toBe(true);
      expect(pod.selfFrozen(containerDir)).toBe(true);
      expect(pod.selfFrozen(pod.podDir)).toBe(false);
      const atFreeze = pod.count();
      await sleep(300);
      expect(pod.count()).toBe(atFreeze); // no progress while frozen
      expect(await activities.freezePod(freeze)).toMatchObject({ cgroup: pod.podDir }); // idempotent

      expect(await activities.thawPod({ ...migration('m-thaw'), fence: 2 })).toEqual({ thawed: true });
      await sleep(200);
      expect(pod.count()).toBeGreaterThan(atFreeze); // continues from the frozen value, not from 0
    });

    test('killFrozenPod ends the frozen processes without letting them run again', async () => {
      await activities.freezePod({ ...migration('m-kill'), fence: 1, sweepAfterMs: 60_000 });
      const atFreeze = pod.count();
      const exited = new Promise((r) => pod.worker.once('exit', (_code, signal) => r(signal)));
      expect((await activities.killFrozenPod({ ...migration('m-kill'), fence: 2 })).killed).toBeGreaterThanOrEqual(1);
      expect(await exited).toBe('SIGKILL');
      expect(pod.count()).toBe(atFreeze);
    });

    test('a pod cgroup that does not exist: thaw is a no-op, freeze says where it looked', async () => {
      expect(await activities.thawPod({ podUid: randomUUID(), containerIds: [], migrationId: 'm-none', fence: 2 })).toEqual({ thawed: false });
      await expect(
        activities.freezePod({ podUid: '00000000-0000-0000-0000-000000000000', containerIds: [], migrationId: 'm-none', fence: 1, sweepAfterMs: 60_000 }),
      ).rejects.toMatchObject({ type: 'PodCgroupNotFound' });
    });
  });
}

for (const h of HIERARCHIES) freezerSuite(h);

describe('deleting checkpoint archives', () => {
  test('deletes the given archives and any other archive of the same containers, and their digest memos; idempotent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podferry-archives-'));
    const file = (name: string) => path.join(dir, name);
    const reported = file('checkpoint-sample_default-counter-2026-11-28T12:00:00Z.tar');
    const retried = file('checkpoint-sample_default-counter-2026-11-28T12:00:05Z.tar');
    const other = file('checkpoint-sample_default-kv-2026-11-28T12:00:00Z.tar');
    const unrelated = file('checkpoint-web_default-counter-2026-11-28T12:00:00Z.tar');
    for (const f of [reported, retried, other, unrelated, `${reported}.podferry-sha256`]) writeFileSync(f, 'x');
    const activities = createNodeActivities({ cgroupFsRoot: '/nonexistent', nodeName: 'n', archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: dir }), frozenPods: records() });
    const input = { paths: [reported], pod: { namespace: 'default', name: 'sample', containers: ['counter', 'kv'] } };
    const { deleted } = await activities.deleteArchives(input);
    expect(deleted.sort()).toEqual([reported, retried, other].sort());
    expect(existsSync(`${reported}.podferry-sha256`)).toBe(false);
    expect(existsSync(unrelated)).toBe(true);
    expect(await activities.deleteArchives(input)).toEqual({ deleted: [] });
    // No reported path at all (every checkpoint answer was lost): the kubelet's directory is scanned anyway.
    const lost = file('checkpoint-sample_default-counter-2026-11-28T12:01:00Z.tar');
    writeFileSync(lost, 'x');
    expect(await activities.deleteArchives({ paths: [], pod: input.pod })).toEqual({ deleted: [lost] });
  });

  test('refuses, and deletes nothing, for any path that is not a kubelet archive in the checkpoint directory', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podferry-archives-'));
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'podferry-elsewhere-'));
    const precious = path.join(elsewhere, 'checkpoint-sample_default-counter-2026-11-28T12:00:00Z.tar');
    writeFileSync(precious, 'not yours');
    const linked = path.join(dir, 'checkpoint-sample_default-kv-2026-11-28T12:00:00Z.tar');
    symlinkSync(precious, linked);
    const notAnArchive = path.join(dir, 'kubelet.conf');
    writeFileSync(notAnArchive, 'x');
    const activities = createNodeActivities({ cgroupFsRoot: '/nonexistent', nodeName: 'n', archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: dir }), frozenPods: records() });
    for (const [paths, why] of [
      [[precious], /not directly in/],
      [[`${dir}/../${path.basename(elsewhere)}/${path.basename(precious)}`], /not directly in/],
      [[linked], /a symbolic link/],
      [[notAnArchive], /not named as the kubelet names checkpoint archives/],
      [['etc/shadow'], /not an absolute path/],
    ] as const) {
      await expect(activities.deleteArchives({ paths: [...paths] })).rejects.toMatchObject({ type: 'ArchiveRefused', message: expect.stringMatching(why) });
    }
    expect([existsSync(precious), existsSync(notAnArchive), lstatSync(linked).isSymbolicLink()]).toEqual([true, true, true]);
  });
});
