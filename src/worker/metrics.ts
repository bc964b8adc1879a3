// Prometheus metrics of a worker process: podferry's migration metrics (prom-client) and the Temporal SDK's
// own metrics (exported by the SDK core on a loopback port), served together on one `/metrics` endpoint.
import http from 'node:http';
import client from 'prom-client';
import type { InjectedSinks } from '@temporalio/worker';
import type { MigrationMetricsSinks } from '../workflows/definitions.js';

export class MigrationMetrics {
  readonly registry = new client.Registry();
  private readonly duration = new client.Histogram({
    name: 'podferry_migration_duration_seconds',
    help: 'Wall-clock duration of migrations, from start to success or rollback',
    labelNames: ['result'],
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  private readonly downtime = new client.Histogram({
    name: 'podferry_migration_downtime_seconds',
    help: 'Time the workload made no progress: from freezing the source pod until the target pod was Ready',
    buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly bytes = new client.Counter({
    name: 'podferry_migration_bytes_pushed_total',
    help: 'Checkpoint bytes pushed to the registry',
    registers: [this.registry],
  });
  private readonly total = new client.Counter({
    name: 'podferry_migrations_total',
    help: 'Migrations finished, by result (succeeded, rolled_back, failed, cancelled)',
    labelNames: ['result'],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'podferry_worker_' });
  }

  /** Sink the workflow reports to once per migration (not called again on replay). */
  sinks(): InjectedSinks<MigrationMetricsSinks> {
    return {
      migrationMetrics: {
        finished: {
          fn: (_info, report) => {
            this.total.inc({ result: report.outcome });
            this.duration.observe({ result: report.outcome }, report.durationMs / 1000);
            if (report.downtimeMs !== undefined) this.downtime.observe(report.downtimeMs / 1000);
            this.bytes.inc(report.bytesPushed);
          },
          callDuringReplay: false,
        },
      },
    };
  }
}

/** The node worker's count of the checkpoint archives its sweeper deleted (src/node/archive-sweeper.ts). */
export function deletedArchivesCounter(registry: client.Registry): client.Counter<'reason'> {
  return new client.Counter({
    name: 'podferry_node_orphan_archives_deleted_total',
    help: 'Checkpoint archives the node worker deleted because no migration needed them any more, by reason (migration_ended, too_old)',
    labelNames: ['reason'],
    registers: [registry],
  });
}

/**
 * Serves `/metrics`: ours, followed by the SDK's (fetched from its exporter, if one is running).
 * Returns a function that stops the server.
 */
export async function serveMetrics(options: {
  registry: client.Registry;
  host: string;
  port: number;
  sdkMetricsUrl?: string;
}): Promise<() => Promise<void>> {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    try {
      let body = await options.registry.metrics();
      if (options.sdkMetricsUrl) {
        const sdk = await fetch(options.sdkMetricsUrl).then((r) => r.text()).catch(() => '');
        body += `\n${sdk}`;
      }
      res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
