// What every podferry subcommand shares: the Temporal client from the configuration, and argument parsers.
import { Client, Connection } from '@temporalio/client';
import { InvalidArgumentError } from 'commander';
import type { PodferryConfig } from '../api/config.js';
import { loadConfig } from '../config/load.js';
import { temporalConnectionOptions } from '../worker/connection.js';

export async function connect(configPath: string | undefined): Promise<{ client: Client; config: PodferryConfig }> {
  const config = loadConfig({ path: configPath });
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), connectTimeout: '5s' });
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${config.temporal.address} (${(err as Error).message}): start it (lab: make lab-up) or set temporal.address / PODFERRY_TEMPORAL_ADDRESS`,
    );
  }
  return { client: new Client({ connection, namespace: config.temporal.namespace }), config };
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
