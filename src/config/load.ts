// Loads the configuration file (YAML), applies environment overrides, validates it with zod, and turns
// validation issues into messages that name the file, the field and what is wrong.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { z } from 'zod';
import { PodferryConfig } from '../api/config.js';
import { receivedValue } from '../api/migration.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The repository's lab configuration: the default when neither --config nor PODFERRY_CONFIG is given. */
export const DEFAULT_CONFIG_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/lab.yaml');

export interface LoadConfigOptions {
  /** Explicit path (e.g. --config); else env PODFERRY_CONFIG; else config/lab.yaml of the repository. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveConfigPath(options: LoadConfigOptions = {}): string {
  const env = options.env ?? process.env;
  return path.resolve(options.path ?? env.PODFERRY_CONFIG ?? DEFAULT_CONFIG_PATH);
}

export function loadConfig(options: LoadConfigOptions = {}): PodferryConfig {
  const file = resolveConfigPath(options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
        'pass --config <file> or set PODFERRY_CONFIG',
    );
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    throw new ConfigError(`config ${file}: not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, file, options.env ?? process.env);
}

/** Validates an already-parsed document (exported for tests and for callers that build config in code). */
export function parseConfig(raw: unknown, file: string, env: NodeJS.ProcessEnv = {}): PodferryConfig {
  const withEnv = applyEnvOverrides(raw, env);
  const parsed = PodferryConfig.safeParse(withEnv);
  if (!parsed.success) throw new ConfigError(formatConfigIssues(file, parsed.error, withEnv, env));
  return resolveRelativePaths(parsed.data, path.dirname(file));
}

/** Fields whose values never appear in a message. */
const SECRET_FIELDS = new Set(['password', 'apiKey']);

/**
 * `config <file>: field registry.url: must be an http:// or https:// URL` — one line per issue, naming the
 * environment variable that set the field if one did, then the value it got (secrets excepted) indented below.
 */
export function formatConfigIssues(file: string, error: z.ZodError, document: unknown, env: NodeJS.ProcessEnv = {}): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.map(String).join('.') || '(top level)';
      const variable = ENV_OVERRIDES.find(([name, fieldPath]) => env[name] && fieldPath.join('.') === field)?.[0];
      const value = SECRET_FIELDS.has(String(issue.path.at(-1))) ? undefined : receivedValue(issue, document);
      return `config ${file}: field ${field}${variable ? ` (set by ${variable})` : ''}: ${humanMessage(issue)}${value === undefined ? '' : `\n  got ${value}`}`;
    })
    .join('\n');
}

function humanMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) return 'Required';
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.join(', ')} (check the spelling)`;
  return issue.message;
}

/** Environment variables win over the file; secrets are best given this way. */
const ENV_OVERRIDES: Array<[string, string[], 'string' | 'number']> = [
  ['PODFERRY_TEMPORAL_ADDRESS', ['temporal', 'address'], 'string'],
  ['PODFERRY_TEMPORAL_NAMESPACE', ['temporal', 'namespace'], 'string'],
  ['PODFERRY_TASK_QUEUE', ['temporal', 'taskQueue'], 'string'],
  ['PODFERRY_TEMPORAL_API_KEY', ['temporal', 'apiKey'], 'string'],
  ['PODFERRY_REGISTRY_URL', ['registry', 'url'], 'string'],
  ['PODFERRY_REGISTRY_REPOSITORY', ['registry', 'repository'], 'string'],
  ['PODFERRY_REGISTRY_USERNAME', ['registry', 'username'], 'string'],
  ['PODFERRY_REGISTRY_PASSWORD', ['registry', 'password'], 'string'],
  ['PODFERRY_REGISTRY_PULL_USERNAME', ['registry', 'pull', 'username'], 'string'],
  ['PODFERRY_REGISTRY_PULL_PASSWORD', ['registry', 'pull', 'password'], 'string'],
  ['PODFERRY_NODE_CLUSTER', ['node', 'cluster'], 'string'],
  ['PODFERRY_NODE_NAME', ['node', 'nodeName'], 'string'],
  ['PODFERRY_CGROUP_FS_ROOT', ['node', 'cgroupFsRoot'], 'string'],
  ['PODFERRY_HOST_ROOT', ['node', 'hostRoot'], 'string'],
  ['PODFERRY_CHECKPOINT_DIR', ['node', 'checkpointDir'], 'string'],
  ['PODFERRY_CRI_ADDRESS', ['node', 'cri', 'address'], 'string'],
  ['PODFERRY_CRIO_RUNC', ['node', 'crio', 'runc'], 'string'],
  ['PODFERRY_CRIO_CRIU', ['node', 'crio', 'criu'], 'string'],
  ['PODFERRY_CONTAINERD_ADDRESS', ['node', 'containerd', 'address'], 'string'],
  ['PODFERRY_CONTAINERD_CTR', ['node', 'containerd', 'ctr'], 'string'],
  ['PODFERRY_NODE_TRANSFER_HOST', ['node', 'transfer', 'advertiseHost'], 'string'],
  ['PODFERRY_METRICS_PORT', ['metrics', 'port'], 'number'],
  ['PODFERRY_NODE_CALL_KEY_FILE', ['security', 'nodeCallKeyFile'], 'string'],
  ['PODFERRY_HISTORY_KEY_FILE', ['security', 'historyKeyFile'], 'string'],
];

export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const doc: Record<string, unknown> =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? structuredClone(raw as Record<string, unknown>) : {};
  for (const [name, fieldPath, kind] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let cursor = doc;
    for (const key of fieldPath.slice(0, -1)) {
      const next = cursor[key];
      if (next === null || typeof next !== 'object') cursor[key] = {};
      cursor = cursor[key] as Record<string, unknown>;
    }
    // Text that is not a whole number stays text, so validation quotes it as given (Number('abc') is NaN).
    cursor[fieldPath[fieldPath.length - 1]!] = kind === 'number' && /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return doc;
}

function resolveRelativePaths(config: PodferryConfig, baseDir: string): PodferryConfig {
  const resolve = (p: string | undefined) => (p === undefined ? undefined : path.resolve(baseDir, p));
  for (const cluster of Object.values(config.clusters)) cluster.kubeconfig = resolve(cluster.kubeconfig)!;
  if (config.node) {
    const { cluster, nodeName } = config.node;
    const expand = (text: string) => text.replaceAll('{cluster}', cluster).replaceAll('{node}', nodeName);
    config.node.checkpointDir = expand(config.node.checkpointDir);
    config.node.archiveDir = expand(config.node.archiveDir ?? path.posix.join(config.node.stateDir, 'checkpoints', cluster, nodeName));
    if (config.node.containerd) config.node.containerd.address = expand(config.node.containerd.address);
    if (config.node.cri) config.node.cri.address = expand(config.node.cri.address);
    else if (config.node.containerd) config.node.cri = { address: config.node.containerd.address };
  }
  config.security.nodeCallKeyFile = resolve(config.security.nodeCallKeyFile);
  config.security.historyKeyFile = resolve(config.security.historyKeyFile);
  const tls = config.temporal.tls;
  if (tls) {
    tls.cert = resolve(tls.cert);
    tls.key = resolve(tls.key);
    tls.ca = resolve(tls.ca);
  }
  return config;
}
