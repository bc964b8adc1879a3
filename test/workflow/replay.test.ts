// Upgrades with migrations in flight: a migration started by an earlier build must finish on the workers
// of this one. Temporal replays the migration's history against the new workflow code, so every history
// an earlier build recorded (test/workflow/histories/, one per path through migratePod: committed, rolled
// back, cancelled, restored at the source) must replay here without a nondeterminism error. A change to
// the order or kind of commands (activities, timers, memo and search-attribute updates) goes behind
// `patched('<change>')`, keeping the old path for histories that lack the marker; this test catches one
// that does not. New histories: PODFERRY_RECORD_HISTORIES=1 npm run test:workflow.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@jest/globals';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows } from '../support/workflow-env.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');

test('every recorded migration history replays against this build', async () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  const workflowBundle = await bundleWorkflows();
  const histories = files.map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))) }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
}, 120_000);
