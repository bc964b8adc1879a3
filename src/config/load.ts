// Loads the configuration file (YAML), applies environment overrides, validates it with zod, and turns
// validation issues into messages that name the file, the field and what is wrong.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { z } from 'zod';
import { PodferryConfig } from '../api/config.js';

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
  if (!parsed.success) throw new ConfigError(formatConfigIssues(file, parsed.error));
  return resolveRelativePaths(parsed.data, path.dirname(file));
}

/** `config <file>: field clusters.lab-a.kubeconfig: Required` — one line per issue. */
export function formatConfigIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.map(String).join('.') || '(top level)';
      return `config ${file}: field ${field}: ${humanMessage(issue)}`;
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
  ['PODFERRY_NODE_CLUSTER', ['node', 'cluster'], 'string'],
  ['PODFERRY_NODE_NAME', ['node', 'nodeName'], 'string'],
  ['PODFERRY_CGROUP_FS_ROOT', ['node', 'cgroupFsRoot'], 'string'],
  ['PODFERRY_HOST_ROOT', ['node', 'hostRoot'], 'string'],
  ['PODFERRY_CHECKPOINT_DIR', ['node', 'checkpointDir'], 'string'],
  ['PODFERRY_CONTAINERD_ADDRESS', ['node', 'containerd', 'address'], 'string'],
  ['PODFERRY_CONTAINERD_CTR', ['node', 'containerd', 'ctr'], 'string'],
  ['PODFERRY_NODE_TRANSFER_HOST', ['node', 'transfer', 'advertiseHost'], 'string'],
  ['PODFERRY_METRICS_PORT', ['metrics', 'port'], 'number'],
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
    cursor[fieldPath[fieldPath.length - 1]!] = kind === 'number' ? Number(value) : value;
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
    if (config.node.containerd) config.node.containerd.address = expand(config.node.containerd.address);
  }
  const tls = config.temporal.tls;
  if (tls) {
    tls.cert = resolve(tls.cert);
    tls.key = resolve(tls.key);
    tls.ca = resolve(tls.ca);
  }
  return config;
}
