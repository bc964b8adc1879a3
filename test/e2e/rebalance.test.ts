// Scheduled rebalancing on the lab, through `podferry schedule`: a policy that prefers lab-b for the sample
// pod (its podferry.io/preferred-cluster annotation). A dry-run schedule (policy in a ConfigMap) changes nothing; the real schedule
// moves the sample once, with its state; the next runs leave it alone, even when the preference flips back
// within the cool-down (no flapping). Only pods with this test's label take part.
// The orchestration runs in a worker of this test on its own task queue (the schedule starts its runs there).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import type { RebalanceSummary } from '../../src/api/placement-policy.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { podferry } from '../support/lab-cli.js';
import { startLabOrchestrator, type LabOrchestrator } from '../support/lab-orchestrator.js';

const config = loadConfig();
const clusters = new Clusters(config.clusters);
const suffix = Date.now().toString(36);
const taskQueue = `podferry-e2e-rebalance-${suffix}`;
const schedules = { dry: `e2e-rebalance-dry-${suffix}`, real: `e2e-rebalance-${suffix}` };
const POLICY_CONFIGMAP = 'podferry-e2e-policy';

let orchestrator: LabOrchestrator | undefined;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: config.temporal.address });
  client = createTemporalClient(connection, config);
  orchestrator = await startLabOrchestrator(config, taskQueue);
}, 180_000);

afterAll(async () => {
  for (const id of Object.values(schedules)) await client?.schedule.getHandle(id).delete().catch(() => undefined);
  await clusters.core('lab-a').deleteNamespacedConfigMap({ namespace: 'default', name: POLICY_CONFIGMAP }).catch(() => undefined);
  await orchestrator?.stop();
  await connection?.close();
});

/** `podferry schedule trigger`, then the summary of the run it started. */
async function triggerAndWait(scheduleId: string): Promise<RebalanceSummary> {
  const handle = client.schedule.getHandle(scheduleId);
  const before = (await handle.describe()).info.recentActions.length;
  const cli = await podferry(['schedule', 'trigger', scheduleId], taskQueue);
  expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const actions = (await handle.describe()).info.recentActions;
    if (actions.length > before) return (await client.workflow.getHandle(actions.at(-1)!.action.workflow.workflowId).result()) as RebalanceSummary;
    if (Date.now() > deadline) throw new Error(`schedule ${scheduleId}: the triggered run did not start`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function annotate(cluster: string, key: string, value: string): Promise<void> {
  await clusters.core(cluster).patchNamespacedPod({ namespace: 'default', name: 'sample', body: [{ op: 'add', path: `/metadata/annotations/${key.replace('/', '~1')}`, value }] });
}

describe('scheduled rebalancing on the lab', () => {
  test('dry-run changes nothing; the schedule moves the sample to lab-b once with its state; later runs leave it alone', async () => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    await clusters.core('lab-a').patchNamespacedPod({ namespace: 'default', name: 'sample', body: [{ op: 'add', path: '/metadata/labels/podferry.io~1e2e', value: 'rebalance' }] });
    await annotate('lab-a', 'podferry.io/preferred-cluster', 'lab-b');
    await putSampleKey(source.status!.podIP!, 'e2e', 'survives the rebalance');
    const before = await readSampleState(source.status!.podIP!);

    const policyFile = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-e2e-policy-')), 'policy.yaml');
    writeFileSync(
      policyFile,
      ['selector:', '  matchLabels: { podferry.io/e2e: rebalance }', 'clusters: [lab-a, lab-b]', 'guards:', '  maxConcurrentPerCluster: 1', '  coolDownMinutes: 30', ''].join('\n'),
    );

    // 1. Dry-run, with the same policy in a ConfigMap (read at every run): the plan says it would move; nothing moves.
    await clusters.core('lab-a').deleteNamespacedConfigMap({ namespace: 'default', name: POLICY_CONFIGMAP }).catch(() => undefined);
    await clusters.core('lab-a').createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: POLICY_CONFIGMAP }, data: { 'policy.yaml': readFileSync(policyFile, 'utf8') } } });
    const dry = await podferry(['schedule', 'create', schedules.dry, '--policy', `configmap:lab-a/default/${POLICY_CONFIGMAP}`, '--every', '1h', '--dry-run'], taskQueue);
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
    expect(dry.stdout).toContain(`with configmap lab-a/default/${POLICY_CONFIGMAP}#policy.yaml (dry-run); overlap SKIP`);
    const plan = await triggerAndWait(schedules.dry);
    expect(plan).toMatchObject({ dryRun: true, policySource: `configmap lab-a/default/${POLICY_CONFIGMAP}#policy.yaml`, candidates: 1, planned: [{ name: 'sample', from: 'lab-a', to: 'lab-b' }], moved: [], failed: [] });
    const stillThere = await clusters.core('lab-a').readNamespacedPod({ namespace: 'default', name: 'sample' });
    expect(stillThere.metadata!.uid).toBe(source.metadata!.uid);
    await waitForPod(clusters.core('lab-b'), 'default', 'sample', (p) => p === undefined, 1_000);

    // 2. The schedule moves it, once.
    const created = await podferry(['schedule', 'create', schedules.real, '--policy', policyFile, '--every', '1h'], taskQueue);
    expect(created.code).toBe(0);
    const first = await triggerAndWait(schedules.real);
    expect(first.failed).toEqual([]);
    expect(first.moved).toEqual([expect.objectContaining({ name: 'sample', from: 'lab-a', to: 'lab-b', migrationId: 'podferry-lab-a-default-sample' })]);
    const target = await waitForPod(clusters.core('lab-b'), 'default', 'sample', isReady, 60_000);
    expect(compareSampleStates(before, await readSampleState(target!.status!.podIP!)).filter((check) => !check.ok)).toEqual([]);
    expect(target!.metadata!.annotations!['podferry.io/last-migrated-at']).toMatch(/^\d{4}-/);
    await waitForPod(clusters.core('lab-a'), 'default', 'sample', (p) => p === undefined, 30_000);

    // 3. The next run leaves it alone: it is where it should be.
    const second = await triggerAndWait(schedules.real);
    expect(second).toMatchObject({ planned: [], moved: [], failed: [], skipped: [expect.objectContaining({ cluster: 'lab-b', name: 'sample', type: 'AlreadyPlaced' })] });

    // 4. The preference flips back at once: the cool-down holds it (no flapping).
    await annotate('lab-b', 'podferry.io/preferred-cluster', 'lab-a');
    const third = await triggerAndWait(schedules.real);
    expect(third).toMatchObject({ planned: [], moved: [], skipped: [expect.objectContaining({ cluster: 'lab-b', name: 'sample', type: 'CoolingDown' })] });
    const unmoved = await clusters.core('lab-b').readNamespacedPod({ namespace: 'default', name: 'sample' });
    expect(unmoved.metadata!.uid).toBe(target!.metadata!.uid);

    const shown = await podferry(['schedule', 'show', schedules.real], taskQueue);
    expect(shown.stdout).toMatch(/lab-a\/default\/sample\s+moved\s+→ lab-b, downtime/);
    expect(shown.stdout).toMatch(/lab-b\/default\/sample\s+skipped \(CoolingDown\)/);
    console.log(`$ podferry schedule show ${schedules.real}\n${shown.stdout}`);
    const list = await podferry(['schedule', 'list'], taskQueue);
    expect(list.stdout).toContain(schedules.real);
    for (const id of Object.values(schedules)) expect((await podferry(['schedule', 'delete', id], taskQueue)).code).toBe(0);
    console.log(`rebalance moved the sample: downtime ${first.moved[0]!.downtimeMs} ms`);
  }, 420_000);
});
