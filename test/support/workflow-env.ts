// What every workflow test needs: a real Temporal dev server, the workflows bundled once, a worker
// connection and a client. (Runtime.install stays with each test: they configure telemetry differently.)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection } from '@temporalio/worker';
import { startTemporal, type TestTemporal } from './temporal.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface WorkflowTestEnv {
  temporal: TestTemporal;
  connection: NativeConnection;
  client: Client;
  workflowBundle: { code: string };
  stop(): Promise<void>;
}

/** Every workflow of this build, bundled as the workers bundle them. */
export function bundleWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath: path.join(repo, 'src/workflows/index.ts'), logger: new DefaultLogger('WARN') });
}

export async function startWorkflowTestEnv(): Promise<WorkflowTestEnv> {
  const temporal = await startTemporal();
  const workflowBundle = await bundleWorkflows();
  const connection = await NativeConnection.connect({ address: temporal.address });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
  return {
    temporal,
    connection,
    client,
    workflowBundle,
    async stop() {
      await client.connection.close();
      await connection.close();
      await temporal.stop();
    },
  };
}
