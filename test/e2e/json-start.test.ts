// A migration started with plain JSON, as the Temporal Web UI's "Start Workflow" form or
// `temporal workflow start --input` sends it, behaves exactly like one started from the typed client:
// the same validation, the same workflow, the same result. Real Temporal CLI, real lab, real workers.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { temporalBinary } from '../support/temporal.js';

const root = path.resolve(import.meta.dirname, '../..');
const config = loadConfig();
const clusters = new Clusters(config.clusters);

function startWithJson(workflowId: string, input: unknown): void {
  execFileSync(temporalBinary(), [
    'workflow', 'start', '--address', config.temporal.address, '--namespace', config.temporal.namespace,
    '--task-queue', config.temporal.taskQueue, '--type', 'migratePod', '--workflow-id', workflowId,
    '--input', JSON.stringify(input),
  ], { stdio: 'pipe' });
}

describe('starting migratePod with plain JSON (Web UI form, temporal CLI)', () => {
  let client: Client;
  beforeAll(async () => {
    execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' });
    client = createTemporalClient(await Connection.connect({ address: config.temporal.address }), config);
  }, 120_000);

  test('the README example moves the sample pod from lab-a to lab-b', async () => {
    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    const before = await readSampleState(source.status!.podIP!);
    const workflowId = `json-start-${Date.now().toString(36)}`;
    // The same document the README shows for the Web UI.
    startWithJson(workflowId, { source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-b' } });
    const result = (await client.workflow.getHandle(workflowId).result()) as { downtimeMs: number };
    expect(result.downtimeMs).toBeGreaterThan(0);
    const target = await waitForPod(clusters.core('lab-b'), 'default', 'sample', isReady, 60_000);
    const after = await readSampleState(target!.status!.podIP!);
    expect(compareSampleStates(before, after).filter((check) => !check.ok)).toEqual([]);
  }, 300_000);

  test('invalid JSON input fails as InvalidInput, naming the fields, before touching anything', async () => {
    const workflowId = `json-start-invalid-${Date.now().toString(36)}`;
    startWithJson(workflowId, { source: { cluster: 'lab-a', namespace: 'Not_A_Namespace', pod: 'sample' }, target: {} });
    const failure = await client.workflow.getHandle(workflowId).result().then(
      () => undefined,
      (err: unknown) => err as { cause?: { type?: string; message?: string } },
    );
    expect(failure?.cause?.type).toBe('InvalidInput');
    expect(failure?.cause?.message).toMatch(/source\.namespace/);
    expect(failure?.cause?.message).toMatch(/target\.cluster/);
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    expect(history.events?.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
  }, 60_000);
});
