// Connection settings to Temporal from the configuration (plain, mTLS, or API key), shared by the workers
// (NativeConnection) and the CLI/client (Connection).
import { readFileSync } from 'node:fs';
import type { TemporalConfig } from '../api/config.js';

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
