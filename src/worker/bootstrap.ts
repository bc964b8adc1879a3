// What both worker processes share: configuration, the Temporal runtime with its metrics exporter, the
// connection, our /metrics endpoint, and graceful shutdown (the SDK stops pollers on SIGINT/SIGTERM, lets
// running activities finish for shutdownGraceTime, then exits).
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig } from '../config/load.js';
import type { PodferryConfig } from '../api/config.js';
import { temporalConnectionOptions } from '../client/connection.js';
import { MigrationMetrics, serveMetrics } from './metrics.js';

export const SHUTDOWN_GRACE_TIME = '20s';
/**
 * How often a running activity's heartbeats reach the server at most. A cancellation reaches an activity
 * only in the answer to a heartbeat, and the freeze deadline must stop a push within seconds: flush every
 * second (the SDK's default waits up to 80% of the heartbeat timeout).
 */
export const HEARTBEAT_FLUSH = '1s';

export interface WorkerProcess {
  config: PodferryConfig;
  connection: NativeConnection;
  metrics: MigrationMetrics;
  /** Runs the workers until a shutdown signal, then closes everything. */
  run(workers: Worker[]): Promise<void>;
}

export async function startWorkerProcess(options: { configPath?: string; metricsPort?: number }): Promise<WorkerProcess> {
  const config = loadConfig({ path: options.configPath });
  const port = options.metricsPort ?? config.metrics.port;
  const sdkPort = port > 0 ? port + 1 : 0;
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    ...(sdkPort > 0 ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}` } } } } : {}),
  });
  const metrics = new MigrationMetrics();
  const stopMetrics =
    port > 0
      ? await serveMetrics({ registry: metrics.registry, host: config.metrics.host, port, sdkMetricsUrl: `http://127.0.0.1:${sdkPort}/metrics` })
      : async () => undefined;
  if (port > 0) console.log(`metrics on http://${config.metrics.host}:${port}/metrics`);

  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  return {
    config,
    connection,
    metrics,
    async run(workers) {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await connection.close();
        await stopMetrics();
      }
    },
  };
}

/** `--name value` from argv (the workers take only a few flags; the CLI uses commander). */
export function flag(name: string, argv = process.argv): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
