// What every podferry subcommand shares: the configuration, the Temporal client, checks of a request, argument parsers.
import { Connection, type Client } from '@temporalio/client';
import { type Command, InvalidArgumentError } from 'commander';
import type { z } from 'zod';
import type { PodferryConfig } from '../api/config.js';
import { describeIssues } from '../api/migration.js';
import { loadConfig } from '../config/load.js';
import { createTemporalClient, temporalConnectionOptions } from '../client/connection.js';

/** The configuration named by the root command's --config (else $PODFERRY_CONFIG, else the lab's). */
export function loadCliConfig(program: Command): PodferryConfig {
  return loadConfig({ path: program.opts().config as string | undefined });
}

export async function connect(config: PodferryConfig): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), connectTimeout: '5s' });
  } catch (err) {
    throw new Error(
      `cannot reach Temporal at ${config.temporal.address} (${(err as Error).message}): start it (lab: make lab-up) or set temporal.address / PODFERRY_TEMPORAL_ADDRESS`,
    );
  }
  return createTemporalClient(connection, config);
}

/**
 * Validates a request before connecting, so bad input fails with the field and the value it got, and
 * nothing is started (the client API validates again for its other callers).
 */
export function checkRequest(schema: z.ZodType, request: unknown, what: string, InputError: new (message: string) => Error): void {
  const parsed = schema.safeParse(request);
  if (!parsed.success) throw new InputError(`invalid ${what} input: ${describeIssues(parsed.error, request)}`);
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive whole number, got "${value}"`);
  return n;
}
