// Connection settings to Temporal from the configuration (plain, mTLS, or API key), shared by the workers
// (NativeConnection) and the CLI/client (Connection), and the client every podferry process makes of one.
import { readFileSync } from 'node:fs';
import { Client, type ConnectionLike } from '@temporalio/client';
import type { PodferryConfig, TemporalConfig } from '../api/config.js';
import { historyCodecs } from './history-encryption.js';

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  } | true;
  apiKey?: string;
}

export function temporalConnectionOptions(config: TemporalConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: config.address };
  const tls = config.tls;
  if (tls) {
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new Error('config temporal.tls: give both cert and key for mTLS, or neither');
    }
    options.tls = {
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      ...(tls.ca ? { serverRootCACertificate: readFileSync(tls.ca) } : {}),
      ...(tls.cert && tls.key ? { clientCertPair: { crt: readFileSync(tls.cert), key: readFileSync(tls.key) } } : {}),
    };
  }
  if (config.apiKey) {
    options.apiKey = config.apiKey;
    options.tls ??= true; // API keys are only accepted over TLS
  }
  return options;
}

/** A client of the configured namespace that reads and writes payloads as the workers do (history encryption). */
export function createTemporalClient(connection: ConnectionLike, config: PodferryConfig): Client {
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: { payloadCodecs: historyCodecs(config.security) } });
}
