// The node activities against this machine's real cgroup freezers (v1 and v2): a pod-shaped cgroup tree with
// a process that keeps counting; freezing must stop the count at once, thawing must let it continue from the
// same value, and killFrozenPod must end it without it running again. Needs root (skipped otherwise).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createNodeActivities } from '../../src/activities/node.js';

const FREEZER = '/sys/fs/cgroup/freezer';
const UNIFIED = '/sys/fs/cgroup/unified'; // cgroup v2 beside the v1 hierarchies (hybrid mode) on the lab machines
const isRoot = process.getuid?.() === 0;

/**
 * One pod-shaped cgroup tree in the hierarchy at `hierarchy`; `cgroupFsRoot` is what the node worker is
 * configured with (for v1 the parent of freezer/, for v2 the unified mount itself).
 */
function freezerSuite(version: 'v1' | 'v2', hierarchy: string, cgroupFsRoot: string, available: boolean) {
  (available ? describe : describe.skip)(`freezing a pod through the cgroup ${version} freezer (real kernel)`, () => {
    const root = path.join(hierarchy, `podferry-test-${version}-${process.pid}`);
    const uid = randomUUID();
    const podDir = path.join(root, 'kubepods', 'besteffort', `pod${uid}`);
    const containerDir = path.join(podDir, 'container-1');
    const work = mkdtempSync(path.join(tmpdir(), 'podferry-freezer-'));
    const counterFile = path.join(work, 'count');
    let worker: ChildProcess;
    // No containerd here: the container cgroup is frozen directly (the CRI-O path).
    const activities = createNodeActivities({ cgroupFsRoot, hostRoot: '/', nodeName: 'test-node' });
    const pod = { podUid: uid, containerIds: ['cri-o://container-1'] };
    const count = () => Number(readFileSync(counterFile, 'utf8') || '0');
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const selfFrozen = (dir: string) =>
      version === 'v1'
        ? readFileSync(path.join(dir, 'freezer.self_freezing'), 'utf8').trim() === '1'
        : readFileSync(path.join(dir, 'cgroup.freeze'), 'utf8').trim() === '1';
    const frozen = (dir: string) =>
      version === 'v1'
        ? readFileSync(path.join(dir, 'freezer.state'), 'utf8').trim() === 'FROZEN'
        : /^frozen 1$/m.test(readFileSync(path.join(dir, 'cgroup.events'), 'utf8'));

    beforeAll(async () => {
      mkdirSync(containerDir, { recursive: true });
      // A "container" that counts as fast as it can write.
      worker = spawn('sh', ['-c', `i=0; while :; do i=$((i+1)); echo $i > ${counterFile}.tmp && mv ${counterFile}.tmp ${counterFile}; done`], { stdio: 'ignore' });
      writeFileSync(path.join(containerDir, 'cgroup.procs'), String(worker.pid));
      await sleep(200);
    });

    afterAll(async () => {
      if (worker.exitCode === null && worker.signalCode === null) {
        await activities.thawPod(pod).catch(() => undefined);
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
      }
      for (const dir of [containerDir, podDir, path.dirname(podDir), path.dirname(path.dirname(podDir)), root]) {
        for (let i = 0; i < 50 && existsSync(dir); i++) {
          try {
            rmdirSync(dir);
          } catch {
            await sleep(50); // tasks leave a cgroup asynchronously
          }
        }
      }
    });

    test('freezePod stops every process of the pod at once, and thawPod lets it continue from where it was', async () => {
      expect(count()).toBeGreaterThan(0);
      const result = await activities.freezePod(pod);
      expect(result.cgroup).toBe(podDir);
      expect(result.version).toBe(version);
      // Handed over to the containers: CRIU can thaw a container cgroup to seize its tasks, not a frozen parent.
      expect(frozen(containerDir)).toBe(true);
      expect(selfFrozen(containerDir)).toBe(true);
      expect(selfFrozen(podDir)).toBe(false);
      const atFreeze = count();
      await sleep(300);
      expect(count()).toBe(atFreeze); // no progress while frozen
      expect(await activities.freezePod(pod)).toMatchObject({ cgroup: podDir }); // idempotent

      expect(await activities.thawPod(pod)).toEqual({ thawed: true });
      await sleep(200);
      expect(count()).toBeGreaterThan(atFreeze); // continues from the frozen value, not from 0
    });

    test('killFrozenPod ends the frozen processes without letting them run again', async () => {
      await activities.freezePod(pod);
      const atFreeze = count();
      const exited = new Promise((r) => worker.once('exit', (_code, signal) => r(signal)));
      expect((await activities.killFrozenPod(pod)).killed).toBeGreaterThanOrEqual(1);
      expect(await exited).toBe('SIGKILL');
      expect(count()).toBe(atFreeze);
    });

    test('a pod cgroup that does not exist: thaw is a no-op, freeze says where it looked', async () => {
      expect(await activities.thawPod({ podUid: randomUUID(), containerIds: [] })).toEqual({ thawed: false });
      await expect(activities.freezePod({ podUid: '00000000-0000-0000-0000-000000000000', containerIds: [] })).rejects.toMatchObject({ type: 'PodCgroupNotFound' });
    });
  });
}

freezerSuite('v1', FREEZER, '/sys/fs/cgroup', isRoot && existsSync(path.join(FREEZER, 'cgroup.procs')));
freezerSuite('v2', UNIFIED, UNIFIED, isRoot && existsSync(path.join(UNIFIED, 'cgroup.controllers')));

describe('deleting checkpoint archives', () => {
  test('deletes the given archives and any other archive of the same containers, and their digest memos; idempotent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podferry-archives-'));
    const file = (name: string) => path.join(dir, name);
    const reported = file('checkpoint-sample_default-counter-2026-11-28T12:00:00Z.tar');
    const retried = file('checkpoint-sample_default-counter-2026-11-28T12:00:05Z.tar');
    const other = file('checkpoint-sample_default-kv-2026-11-28T12:00:00Z.tar');
    const unrelated = file('checkpoint-web_default-counter-2026-11-28T12:00:00Z.tar');
    for (const f of [reported, retried, other, unrelated, `${reported}.podferry-sha256`]) writeFileSync(f, 'x');
    const activities = createNodeActivities({ cgroupFsRoot: '/nonexistent', hostRoot: '/', nodeName: 'n', checkpointDir: dir });
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
});
