// What the node worker needs to know of a CRI-O node's own configuration, read from CRI-O's info endpoint on
// its CRI socket (GET /config: the configuration it runs with, as TOML): the OCI runtime of its default
// handler (binary, state root, and the PATH it gives it, where runc finds CRIU). podferry pauses, resumes and checkpoints CRI-O's containers with that same
// runc (src/node/runc.ts), so it must be the runtime and root CRI-O itself uses.
import http from 'node:http';

export interface CrioSettings {
  /** CRI-O's default runtime handler (crio.runtime.default_runtime). */
  handler: string;
  /** That handler's runtime binary (runtime_path) and state root (runtime_root). */
  runtimePath: string;
  runtimeRoot: string;
  /** PATH from the handler's monitor_env, if it sets one (runc looks CRIU up there). */
  path?: string;
}

/** CRI-O's configuration as it runs, from its info endpoint on the CRI socket. */
export async function readCrioSettings(socketPath: string, timeoutMs = 10_000): Promise<CrioSettings> {
  return crioSettings(await readCrioConfig(socketPath, timeoutMs), socketPath);
}

/** CRI-O's running configuration (after its own checks: e.g. it turns CRIU support off when CRIU is not on its PATH), by table. */
export async function readCrioConfig(socketPath: string, timeoutMs = 10_000): Promise<Map<string, Record<string, unknown>>> {
  const text = await new Promise<string>((resolve, reject) => {
    const request = http.get({ socketPath, path: '/config', timeout: timeoutMs }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`CRI-O's info endpoint on ${socketPath} answered GET /config with HTTP ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let body = '';
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`CRI-O's info endpoint on ${socketPath}: no answer in ${timeoutMs} ms`)));
    request.on('error', (err) => reject(new Error(`reading CRI-O's configuration from ${socketPath} (GET /config): ${err.message}`)));
  });
  return parseTomlTables(text);
}

/** The settings podferry needs, from CRI-O's configuration tables. */
export function crioSettings(tables: Map<string, Record<string, unknown>>, where: string): CrioSettings {
  const runtime = tables.get('crio.runtime') ?? {};
  const handler = typeof runtime.default_runtime === 'string' && runtime.default_runtime ? runtime.default_runtime : 'runc';
  const table = tables.get(`crio.runtime.runtimes.${handler}`);
  if (!table || typeof table.runtime_path !== 'string' || typeof table.runtime_root !== 'string') {
    throw new Error(`CRI-O's configuration (${where}) names no runtime_path/runtime_root for its default handler ${handler}: set node.crio.runc and node.crio.runtimeRoot`);
  }
  const env = Array.isArray(table.monitor_env) ? (table.monitor_env as unknown[]).filter((e): e is string => typeof e === 'string') : [];
  const path = env.find((e) => e.startsWith('PATH='))?.slice('PATH='.length);
  return {
    handler,
    // CRI-O falls back to the handler's name on its PATH when runtime_path is empty.
    runtimePath: table.runtime_path || handler,
    runtimeRoot: table.runtime_root || `/run/${handler}`,
    ...(path ? { path } : {}),
  };
}

/**
 * The `key = value` lines of TOML as CRI-O writes its configuration, by table. Enough for the one-line
 * strings, booleans, numbers and string arrays read here (TOML's basic strings are JSON strings); anything
 * else is kept as its text. Not a TOML parser: podferry has none, and this output is CRI-O's own template.
 */
export function parseTomlTables(text: string): Map<string, Record<string, unknown>> {
  const tables = new Map<string, Record<string, unknown>>();
  let current: Record<string, unknown> = {};
  tables.set('', current);
  for (const line of text.split('\n')) {
    const header = /^\s*\[([^[\]]+)\]\s*$/.exec(line);
    if (header) {
      current = {};
      tables.set(header[1]!.trim(), current);
      continue;
    }
    const pair = /^\s*([A-Za-z0-9_-]+)\s*=\s*(.+?)\s*$/.exec(line);
    if (!pair) continue;
    try {
      current[pair[1]!] = JSON.parse(pair[2]!);
    } catch {
      current[pair[1]!] = pair[2]!;
    }
  }
  return tables;
}
