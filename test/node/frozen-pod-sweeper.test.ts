// The node's frozen-pod sweeper deciding about real frozen pods (real cgroup freezer), with a stand-in for
// Temporal's describe: the real Temporal path is exercised by the lab's e2e tests. Needs root.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { createNodeActivities } from '../../src/activities/node.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { createFrozenPodSweeper, sweepDecision, type WorkflowDescription } from '../../src/node/frozen-pod-sweeper.js';
import { FrozenPodRecords, recordAfter } from '../../src/node/frozen-pods.js';
import { HIERARCHIES, startCountingPod, type CountingPod } from './counting-pod.js';

const h = HIERARCHIES.find((candidate) => candidate.available);
const HOUR = 60 * 60 * 1000;

/** Stand-in for Temporal: the workflows it knows, and which ids it was asked about. */
function standInTemporal(workflows: Record<string, WorkflowDescription>) {
  const asked: string[] = [];
  return {
    asked,
    describeWorkflow: async (id: string) => {
      asked.push(id);
      return workflows[id];
    },
  };
}

describe('what the sweeper decides from the workflow', () => {
  test.each([
    [{ status: 'RUNNING' }, 'leave'],
    [{ status: 'COMPLETED' }, 'kill'],
    [{ status: 'TERMINATED', memo: { sourceOnAbort: 'thaw' } }, 'thaw'],
    [{ status: 'FAILED', memo: { sourceOnAbort: 'kill' } }, 'kill'],
    [{ status: 'TIMED_OUT', memo: { sourceOnAbort: 'hold' } }, 'hold'],
    [{ status: 'CANCELLED' }, 'hold'],
    [{ status: 'CONTINUED_AS_NEW', memo: { sourceOnAbort: 'thaw' } }, 'thaw'],
    [undefined, 'hold'],
  ] as Array<[WorkflowDescription | undefined, string]>)('%j → %s', (workflow, action) => {
    expect(sweepDecision(workflow).action).toBe(action);
  });
});

(h ? describe : describe.skip)(`sweeping frozen pods (real cgroup ${h?.version} freezer, stand-in Temporal)`, () => {
  const pods: CountingPod[] = [];
  const records = new FrozenPodRecords(mkdtempSync(path.join(tmpdir(), 'podferry-state-')));
  const activities = createNodeActivities({ cgroupFsRoot: h?.cgroupFsRoot ?? '/', archives: new CheckpointArchives({ hostRoot: '/', checkpointDir: '/nonexistent' }), nodeName: 'test-node', frozenPods: records });
  const logged: string[] = [];

  async function frozenPod(migrationId: string, sweepAfterMs = 0) {
    const pod = await startCountingPod(h!);
    pods.push(pod);
    await activities.freezePod({ podUid: pod.uid, containerIds: ['cri-o://container-1'], migrationId, fence: 1, sweepAfterMs });
    return pod;
  }

  afterAll(async () => {
    for (const pod of pods) await pod.remove();
  });

  test('thaws what an aborted workflow says to thaw, kills what a completed one committed, leaves held and running pods frozen', async () => {
    const terminated = await frozenPod('m-terminated');
    const completed = await frozenPod('m-completed');
    const held = await frozenPod('m-held');
    const running = await frozenPod('m-running');
    const forgotten = await frozenPod('m-not-found');
    const notDue = await frozenPod('m-not-due', HOUR);
    const temporal = standInTemporal({
      'm-terminated': { status: 'TERMINATED', memo: { sourceOnAbort: 'thaw' } },
      'm-completed': { status: 'COMPLETED', memo: { sourceOnAbort: 'kill' } },
      'm-held': { status: 'FAILED', memo: { sourceOnAbort: 'hold' } },
      'm-running': { status: 'RUNNING', memo: { sourceOnAbort: 'hold' } },
      'm-not-due': { status: 'TERMINATED', memo: { sourceOnAbort: 'thaw' } },
    });
    const sweeper = createFrozenPodSweeper({ records, ...activities, describeWorkflow: temporal.describeWorkflow, log: (line) => logged.push(line) });
    const completedExit = new Promise((r) => completed.worker.once('exit', (_code, signal) => r(signal)));

    const outcomes = await sweeper.sweepOnce();
    const actionOf = (pod: CountingPod) => outcomes.find((o) => o.podUid === pod.uid)?.action;
    expect([terminated, completed, held, running, forgotten, notDue].map(actionOf)).toEqual(['thaw', 'kill', 'hold', 'leave', 'hold', undefined]);
    expect(temporal.asked).not.toContain('m-not-due'); // its sweepAt has not come yet

    expect(await terminated.runs()).toBe(true);
    expect(await records.read(terminated.uid)).toMatchObject({ state: 'thawed', fence: 2 });
    expect(await completedExit).toBe('SIGKILL');
    expect(await records.read(completed.uid)).toMatchObject({ state: 'killed', fence: 2 });
    for (const pod of [held, running, forgotten, notDue]) expect(await pod.runs(100)).toBe(false);

    // One line per action, naming pod, migration, status and what was done; held pods once, not every round.
    expect(logged.find((l) => l.includes(terminated.uid))).toMatch(/migration m-terminated, workflow TERMINATED: .*: thawed it/);
    expect(logged.find((l) => l.includes(completed.uid))).toMatch(/migration m-completed, workflow COMPLETED: .*: killed it/);
    expect(logged.find((l) => l.includes(held.uid))).toMatch(/leaving the pod frozen because memo sourceOnAbort=hold.*whether that migration's target pod runs/);
    expect(logged.find((l) => l.includes(forgotten.uid))).toMatch(/workflow NOT_FOUND: leaving the pod frozen/);
    expect(logged.some((l) => l.includes(running.uid))).toBe(false);
    const lines = logged.length;
    await sweeper.sweepOnce();
    expect(logged.length).toBe(lines);

    // The workflow's own late call (its older fence) cannot undo what the sweeper did.
    await expect(activities.freezePod({ podUid: terminated.uid, containerIds: ['cri-o://container-1'], migrationId: 'm-terminated', fence: 1, sweepAfterMs: 0 })).rejects.toMatchObject({ type: 'Fenced' });
    expect(await terminated.runs()).toBe(true);
  });

  test('forgets thawed and killed records a day after their last change, keeps frozen ones', async () => {
    const store = new FrozenPodRecords(mkdtempSync(path.join(tmpdir(), 'podferry-state-')));
    const now = Date.now();
    const write = (podUid: string, call: 'thawPod' | 'freezePod', at: number) =>
      store.update(podUid, () => recordAfter(undefined, { call, podUid, containerIds: [], migrationId: 'm', fence: 1 }, at, { attempt: 1, sweepAfterMs: HOUR * 100 }));
    await write('old-thawed', 'thawPod', now - 25 * HOUR);
    await write('new-thawed', 'thawPod', now - HOUR);
    await write('old-frozen', 'freezePod', now - 25 * HOUR);
    const sweeper = createFrozenPodSweeper({ records: store, ...activities, describeWorkflow: standInTemporal({}).describeWorkflow, log: () => undefined });
    await sweeper.sweepOnce(now);
    expect((await store.podUids()).sort()).toEqual(['new-thawed', 'old-frozen']);
  });
});
