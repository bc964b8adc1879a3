// Bad input, one table: each malformed workflow input, command line, configuration or placement policy is
// refused with a message that names the field (or flag) and the value it got, and changes nothing.
// Workflow inputs, configurations and policies go through pure parsers: nothing can change, by construction.
// Command lines run in-process against a Temporal address where nothing listens: failing with the input
// error, not "cannot reach Temporal", shows they were refused before any connection, so nothing started.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { z } from 'zod';
import { DrainNodeInput } from '../../src/api/drain.js';
import { describeIssues, MigratePodInput } from '../../src/api/migration.js';
import { PlacementPolicy, RebalanceInput } from '../../src/api/placement-policy.js';
import { runPodferry } from '../../src/cli/podferry.js';
import { loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'podferry-bad-input-'));
function writeFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Port 1: nothing listens there, so a command that connected would fail with "cannot reach Temporal". */
const CLI_CONFIG = writeFile(
  'podferry.yaml',
  'temporal:\n  address: 127.0.0.1:1\nclusters:\n  lab-a:\n    kubeconfig: kube.yaml\n  lab-b:\n    kubeconfig: kube.yaml\n',
);
const GOOD_POLICY = writeFile('policy.yaml', 'selector:\n  matchLabels: { app: web }\nclusters: [lab-a, lab-b]\n');

/** The message a schema gives for a document, with the values it refused (a document it accepts fails the case). */
function refusal(schema: z.ZodType, document: unknown): string {
  const parsed = schema.safeParse(document);
  if (parsed.success) throw new Error(`accepted: ${JSON.stringify(document)}`);
  return describeIssues(parsed.error, document);
}

const pod = { source: { cluster: 'lab-a', namespace: 'default', pod: 'web' }, target: { cluster: 'lab-b' } };
const migration = (change: Record<string, unknown>) => refusal(MigratePodInput, { ...pod, ...change });
const migrationOptions = (options: Record<string, unknown>) => migration({ options });
const drain = (change: Record<string, unknown>) => refusal(DrainNodeInput, { source: { cluster: 'lab-a', node: 'n1' }, ...change });
const rebalance = (input: Record<string, unknown>) => refusal(RebalanceInput, { policy: { inline: {} }, ...input });

const policyDocument = { selector: { matchLabels: { app: 'web' } }, clusters: ['edge', 'core'] };
const policy = (change: Record<string, unknown>) => refusal(PlacementPolicy, { ...policyDocument, ...change });

/** The configuration error for a file's text (and environment), or a failure if it loads. */
function config(text: string, env: NodeJS.ProcessEnv = {}): string {
  const file = writeFile(`config-${Math.random().toString(36).slice(2)}.yaml`, text);
  try {
    loadConfig({ path: file, env });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`accepted: ${text}`);
}

/** Runs `podferry <args>` in-process; returns what it printed on stderr once it has failed without connecting. */
async function podferry(...args: string[]): Promise<string> {
  const printed: string[] = [];
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => printed.push(String(chunk)) > 0);
  jest.spyOn(console, 'error').mockImplementation((...parts) => void printed.push(parts.join(' ')));
  const code = await runPodferry(['node', 'podferry', '--config', CLI_CONFIG, ...args]);
  const stderr = printed.join('');
  expect(code).toBeGreaterThan(0);
  expect(stderr).not.toContain('cannot reach Temporal');
  return stderr;
}
afterEach(() => {
  jest.restoreAllMocks();
});

const migrate = (...flags: string[]) => podferry('migrate', 'default/web', '--from', 'lab-a', '--to', 'lab-b', ...flags);

interface BadInput {
  kind: 'workflow' | 'cli' | 'config' | 'policy';
  what: string;
  refuse: () => string | Promise<string>;
  field: string;
  value: string;
}

const cases: BadInput[] = [
  // Workflow inputs (migratePod, drainNode, rebalance), as JSON reaches them
  { kind: 'workflow', what: 'empty pod name', refuse: () => migration({ source: { ...pod.source, pod: '' } }), field: 'source.pod:', value: 'got ""' },
  { kind: 'workflow', what: 'pod name not DNS-1123', refuse: () => migration({ source: { ...pod.source, pod: 'Web_1' } }), field: 'source.pod:', value: 'got "Web_1"' },
  { kind: 'workflow', what: 'namespace in capitals', refuse: () => migration({ source: { ...pod.source, namespace: 'Default' } }), field: 'source.namespace:', value: 'got "Default"' },
  { kind: 'workflow', what: 'cluster name with a space', refuse: () => migration({ source: { ...pod.source, cluster: 'lab a' } }), field: 'source.cluster:', value: 'got "lab a"' },
  { kind: 'workflow', what: 'target node not DNS-1123', refuse: () => migration({ target: { cluster: 'lab-b', node: 'Node_1' } }), field: 'target.node:', value: 'got "Node_1"' },
  { kind: 'workflow', what: 'target given as a string', refuse: () => migration({ target: 'lab-b' }), field: 'target:', value: 'got "lab-b"' },
  { kind: 'workflow', what: 'unknown field (a credential)', refuse: () => migration({ source: { ...pod.source, kubeconfig: '/root/.kube/config' } }), field: 'source:', value: '"kubeconfig"' },
  { kind: 'workflow', what: "transfer 'ftp'", refuse: () => migrationOptions({ transfer: 'ftp' }), field: 'options.transfer:', value: 'got "ftp"' },
  { kind: 'workflow', what: 'zero checkpoint timeout', refuse: () => migrationOptions({ checkpointTimeoutSeconds: 0 }), field: 'options.checkpointTimeoutSeconds:', value: 'got 0' },
  { kind: 'workflow', what: 'negative checkpoint timeout', refuse: () => migrationOptions({ checkpointTimeoutSeconds: -30 }), field: 'options.checkpointTimeoutSeconds:', value: 'got -30' },
  { kind: 'workflow', what: 'fractional ready timeout', refuse: () => migrationOptions({ readyTimeoutSeconds: 1.5 }), field: 'options.readyTimeoutSeconds:', value: 'got 1.5' },
  { kind: 'workflow', what: 'ready timeout as text', refuse: () => migrationOptions({ readyTimeoutSeconds: '300' }), field: 'options.readyTimeoutSeconds:', value: 'got "300"' },
  { kind: 'workflow', what: "cleanup of images 'shred'", refuse: () => migrationOptions({ cleanup: { images: 'shred' } }), field: 'options.cleanup.images:', value: 'got "shred"' },
  { kind: 'workflow', what: 'parallel as text', refuse: () => migrationOptions({ parallel: 'yes' }), field: 'options.parallel:', value: 'got "yes"' },
  // The checkpoint repository is configuration: a caller cannot send a workload's memory to another repository.
  { kind: 'workflow', what: 'registry repository chosen by the caller', refuse: () => migrationOptions({ registryRepository: 'attacker/loot' }), field: 'options: Unrecognized key', value: '"registryRepository"' },
  { kind: 'workflow', what: 'drain node not DNS-1123', refuse: () => drain({ source: { cluster: 'lab-a', node: 'Lab_A' } }), field: 'source.node:', value: 'got "Lab_A"' },
  { kind: 'workflow', what: 'drain concurrency 0', refuse: () => drain({ concurrency: 0 }), field: 'concurrency:', value: 'got 0' },
  { kind: 'workflow', what: 'drain to the drained node', refuse: () => drain({ target: { node: 'n1' } }), field: 'target.node:', value: 'got "n1"' },
  { kind: 'workflow', what: 'drain with transfer ftp', refuse: () => drain({ options: { transfer: 'ftp' } }), field: 'options.transfer:', value: 'got "ftp"' },
  { kind: 'workflow', what: 'rebalance policy source unknown', refuse: () => rebalance({ policy: { file: 'policy.yaml' } }), field: 'policy:', value: 'got {"file":"policy.yaml"}' },
  { kind: 'workflow', what: 'rebalance dryRun as text', refuse: () => rebalance({ dryRun: 'yes' }), field: 'dryRun:', value: 'got "yes"' },

  // Command lines
  { kind: 'cli', what: 'checkpoint timeout not a number', refuse: () => migrate('--checkpoint-timeout', 'abc'), field: '--checkpoint-timeout', value: "'abc'" },
  { kind: 'cli', what: 'ready timeout 0', refuse: () => migrate('--ready-timeout', '0'), field: '--ready-timeout', value: "'0'" },
  { kind: 'cli', what: 'checkpoint timeout above the limit', refuse: () => migrate('--checkpoint-timeout', '7200'), field: 'options.checkpointTimeoutSeconds:', value: 'got 7200' },
  { kind: 'cli', what: 'cluster named constructor (an Object.prototype member)', refuse: () => podferry('migrate', 'default/web', '--from', 'constructor', '--to', 'lab-b'), field: 'cluster "constructor"', value: 'is not in the configuration' },
  { kind: 'cli', what: 'migration id with a space', refuse: () => migrate('--id', 'my move'), field: 'invalid migration id "my move"', value: 'no spaces' },
  { kind: 'cli', what: 'resume with an id that cannot be one', refuse: () => podferry('resume', 'a\tb'), field: 'invalid migration id "a\\tb"', value: 'no spaces or control characters' },
  { kind: 'cli', what: "transfer 'ftp'", refuse: () => migrate('--transfer', 'ftp'), field: '--transfer', value: "'ftp'" },
  { kind: 'cli', what: 'pod reference with two slashes', refuse: () => podferry('migrate', 'a/b/c', '--from', 'lab-a', '--to', 'lab-b'), field: "argument 'pod'", value: "'a/b/c'" },
  { kind: 'cli', what: 'namespace in capitals', refuse: () => podferry('migrate', 'Default/web', '--from', 'lab-a', '--to', 'lab-b'), field: 'source.namespace:', value: 'got "Default"' },
  { kind: 'cli', what: 'node not DNS-1123', refuse: () => migrate('--node', 'Node_1'), field: 'target.node:', value: 'got "Node_1"' },
  { kind: 'cli', what: 'empty --node', refuse: () => migrate('--node', ''), field: 'target.node:', value: 'got ""' },
  { kind: 'cli', what: 'cluster not in the configuration', refuse: () => podferry('migrate', 'default/web', '--from', 'mars', '--to', 'lab-b'), field: '--from', value: '"mars"' },
  { kind: 'cli', what: 'drain without a cluster', refuse: () => podferry('drain', 'lab-a'), field: "argument 'node'", value: "'lab-a'" },
  { kind: 'cli', what: 'drain concurrency above the limit', refuse: () => podferry('drain', 'lab-a/n1', '--concurrency', '50'), field: 'concurrency:', value: 'got 50' },
  { kind: 'cli', what: 'drain concurrency not a number', refuse: () => podferry('drain', 'lab-a/n1', '--concurrency', 'abc'), field: '--concurrency', value: "'abc'" },
  { kind: 'cli', what: 'empty drain pod selector', refuse: () => podferry('drain', 'lab-a/n1', '--pod-selector', ''), field: 'podSelector:', value: 'got ""' },
  { kind: 'cli', what: 'drain to the drained node', refuse: () => podferry('drain', 'lab-a/n1', '--to-node', 'n1'), field: 'target.node:', value: 'got "n1"' },
  { kind: 'cli', what: 'schedule every 30s', refuse: () => podferry('schedule', 'create', 'nightly', '--policy', GOOD_POLICY, '--every', '30s'), field: '--every', value: '30s' },
  { kind: 'cli', what: 'ConfigMap policy in a bad namespace', refuse: () => podferry('schedule', 'create', 'nightly', '--policy', 'configmap:lab-a/Bad_NS/policy', '--every', '10m'), field: 'configMap.namespace:', value: 'got "Bad_NS"' },
  { kind: 'cli', what: 'list limit 0', refuse: () => podferry('list', '--limit', '0'), field: '--limit', value: "'0'" },

  // Configuration files and environment
  { kind: 'config', what: 'registry URL not http(s)', refuse: () => config('registry:\n  url: ftp://registry\n  repository: a/b\n'), field: 'field registry.url:', value: 'got "ftp://registry"' },
  { kind: 'config', what: 'registry URL from the environment without a scheme', refuse: () => config('registry:\n  url: http://r:5000\n  repository: a/b\n', { PODFERRY_REGISTRY_URL: 'registry:5000' }), field: 'field registry.url (set by PODFERRY_REGISTRY_URL):', value: 'got "registry:5000"' },
  { kind: 'config', what: 'registry repository in capitals', refuse: () => config('registry:\n  url: http://r:5000\n  repository: Podferry/Checkpoints\n'), field: 'field registry.repository:', value: 'got "Podferry/Checkpoints"' },
  { kind: 'config', what: 'metrics port out of range', refuse: () => config('metrics:\n  port: 70000\n'), field: 'field metrics.port:', value: 'got 70000' },
  { kind: 'config', what: 'metrics port as text', refuse: () => config('metrics:\n  port: "9464"\n'), field: 'field metrics.port:', value: 'got "9464"' },
  { kind: 'config', what: 'metrics port from the environment not a number', refuse: () => config('{}', { PODFERRY_METRICS_PORT: 'abc' }), field: 'field metrics.port (set by PODFERRY_METRICS_PORT):', value: 'got "abc"' },
  { kind: 'config', what: 'negative node transfer port', refuse: () => config('node:\n  cluster: lab-a\n  nodeName: n1\n  transfer:\n    port: -1\n'), field: 'field node.transfer.port:', value: 'got -1' },
  { kind: 'config', what: 'cluster kubeconfig path not a string', refuse: () => config('clusters:\n  lab-a:\n    kubeconfig: 42\n'), field: 'field clusters.lab-a.kubeconfig:', value: 'got 42' },
  { kind: 'config', what: 'clusters as a list', refuse: () => config('clusters: [lab-a]\n'), field: 'field clusters:', value: 'got ["lab-a"]' },
  { kind: 'config', what: 'misspelt key', refuse: () => config('temporal:\n  adress: 127.0.0.1:7233\n'), field: 'field temporal:', value: 'adress' },

  // Placement policies
  { kind: 'policy', what: 'no label in the selector', refuse: () => policy({ selector: { matchLabels: {} } }), field: 'selector.matchLabels:', value: 'got {}' },
  { kind: 'policy', what: 'selector as a string', refuse: () => policy({ selector: 'app=web' }), field: 'selector:', value: 'got "app=web"' },
  { kind: 'policy', what: 'label key with a space', refuse: () => policy({ selector: { matchLabels: { 'bad key!': 'web' } } }), field: 'selector.matchLabels.bad key!:', value: 'got "bad key!"' },
  { kind: 'policy', what: 'label value with a space', refuse: () => policy({ selector: { matchLabels: { app: 'web app' } } }), field: 'selector.matchLabels.app:', value: 'got "web app"' },
  { kind: 'policy', what: 'namespace in capitals', refuse: () => policy({ selector: { matchLabels: { app: 'web' }, namespaces: ['Prod'] } }), field: 'selector.namespaces.0:', value: 'got "Prod"' },
  { kind: 'policy', what: 'no cluster', refuse: () => policy({ clusters: [] }), field: 'clusters:', value: 'got []' },
  { kind: 'policy', what: 'negative latency', refuse: () => policy({ placement: { latencyMs: { eu: { edge: -5 } } } }), field: 'placement.latencyMs.eu.edge:', value: 'got -5' },
  { kind: 'policy', what: 'latency to a cluster not in the policy', refuse: () => policy({ placement: { latencyMs: { eu: { mars: 8 } } } }), field: 'placement.latencyMs.eu.mars:', value: 'got "mars"' },
  { kind: 'policy', what: 'target node not DNS-1123', refuse: () => policy({ placement: { targetNodes: { core: 'Node_1' } } }), field: 'placement.targetNodes.core:', value: 'got "Node_1"' },
  { kind: 'policy', what: 'annotation key not qualified', refuse: () => policy({ placement: { preferredClusterAnnotation: 'not valid!' } }), field: 'placement.preferredClusterAnnotation:', value: 'got "not valid!"' },
  { kind: 'policy', what: 'no migration allowed per cluster', refuse: () => policy({ guards: { maxConcurrentPerCluster: 0 } }), field: 'guards.maxConcurrentPerCluster:', value: 'got 0' },
  { kind: 'policy', what: 'cool-down as text', refuse: () => policy({ guards: { coolDownMinutes: 'soon' } }), field: 'guards.coolDownMinutes:', value: 'got "soon"' },
  { kind: 'policy', what: 'misspelt guard', refuse: () => policy({ guards: { dryrun: true } }), field: 'guards:', value: '"dryrun"' },
  { kind: 'policy', what: "transfer 'ftp' for the moves", refuse: () => policy({ options: { transfer: 'ftp' } }), field: 'options.transfer:', value: 'got "ftp"' },
];

describe('bad input is refused, naming the field and the value', () => {
  test('the table covers every kind', () => {
    expect([...new Set(cases.map((c) => c.kind))].sort()).toEqual(['cli', 'config', 'policy', 'workflow']);
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  test.each(cases)('$kind: $what', async ({ refuse, field, value }) => {
    const message = await refuse();
    expect(message).toContain(field);
    expect(message).toContain(value);
  });

  test('secrets in the configuration are never quoted', () => {
    const message = config('registry:\n  url: http://r:5000\n  repository: a/b\n  password: 123456\n');
    expect(message).toContain('field registry.password:');
    expect(message).not.toContain('123456');
  });
});
