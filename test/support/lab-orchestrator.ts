// An orchestrator worker of the test's own, on a private task queue, against the lab: the workflows from
// src/ and the real cluster-level activities (or some of them replaced, to inject a fault). The lab's node
// workers (deploy/lab/workers.sh, started here unless the test brings its own) serve the node-local
// activities. So an e2e test does not depend on the lab's orchestrator having been rebuilt, and can run beside it.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { PodferryConfig } from '../../src/api/config.js';
import { MigrationMetrics } from '../../src/worker/metrics.js';
import { createOrchestratorActivities, orchestratorDataConverter } from '../../src/worker/orchestrator.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LabOrchestrator {
  stop(): Promise<void>;
}

export async function startLabOrchestrator(
  config: PodferryConfig,
  taskQueue: string,
  overrides: Partial<ReturnType<typeof createOrchestratorActivities>> = {},
  options: { labWorkers?: boolean } = {},
): Promise<LabOrchestrator> {
  if (options.labWorkers ?? true) execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: path.join(root, 'src/workflows/index.ts'),
    activities: { ...createOrchestratorActivities(config), ...overrides },
    // Signed like the lab's own orchestrator, or the lab's node workers refuse its node calls.
    dataConverter: orchestratorDataConverter(config),
    sinks: new MigrationMetrics().sinks(),
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
