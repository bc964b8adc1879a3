// deploy/'s kustomizations as kubectl renders them (offline), read as each worker process would be configured
// (the generated podferry.yaml with the container's environment): the base talks to Temporal over mTLS and
// encrypts histories, both workers, each file from its Secret mounted where the configuration looks; the lab
// overlay turns TLS off (the lab's Temporal dev server has none) and encrypts exactly as the lab's host-process workers do.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import type { PodferryConfig } from '../../src/api/config.js';
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from '../../src/config/load.js';
import { labCacheDir } from '../support/temporal.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const kubectl = path.join(labCacheDir(), 'kubernetes-v1.37.2/kubectl');

interface Container {
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
}
interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: { template: { spec: PodSpec } };
}

interface Workload {
  name: string;
  /** The configuration the worker process loads: podferry.yaml of the ConfigMap, overridden by its environment. */
  config: PodferryConfig;
  /** Where the container mounts a Secret's volume, if it does. */
  secretDir(secretName: string): string | undefined;
}

function render(kustomization: string): Workload[] {
  if (!existsSync(kubectl)) throw new Error(`kubectl not found at ${kubectl}: build it (make lab-tools) or set PODFERRY_LAB_CACHE`);
  const objects = parseAllDocuments(execFileSync(kubectl, ['kustomize', path.join(root, kustomization)], { encoding: 'utf8' })).map((d) => d.toJSON() as K8sObject);
  const file = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('podferry-config-'))!.data!['podferry.yaml']!;
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')
    .map((o) => {
      const pod = o.spec!.template.spec;
      const [container] = pod.containers;
      const env = Object.fromEntries((container!.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
      return {
        name: o.metadata.name,
        config: parseConfig(parse(file), '/etc/podferry/podferry.yaml', env),
        secretDir: (secretName: string) => {
          const volume = pod.volumes?.find((v) => v.secret?.secretName === secretName);
          return container!.volumeMounts?.find((m) => m.name === volume?.name)?.mountPath;
        },
      };
    });
}

describe('deploy/ rendered', () => {
  test('base: both workers use Temporal mTLS and history encryption, each file from its Secret', () => {
    const workloads = render('deploy/base');
    expect(workloads.map((w) => w.name).sort()).toEqual(['podferry-node-worker', 'podferry-orchestrator']);
    for (const { name, config, secretDir } of workloads) {
      const tls = secretDir('podferry-temporal-tls');
      expect({ name, tls: config.temporal.tls }).toEqual({ name, tls: { cert: `${tls}/tls.crt`, key: `${tls}/tls.key`, ca: `${tls}/ca.crt` } });
      expect({ name, historyKeyFile: config.security.historyKeyFile }).toEqual({ name, historyKeyFile: `${secretDir('podferry-history-key')}/key` });
      expect({ name, nodeCallKeyFile: config.security.nodeCallKeyFile }).toEqual({ name, nodeCallKeyFile: `${secretDir('podferry-node-call-key')}/key` });
    }
  });

  test('lab overlay: no TLS, and history encryption exactly as the lab\'s host-process workers have it (they share the task queues)', () => {
    const labEncrypts = loadConfig({ path: DEFAULT_CONFIG_PATH, env: {} }).security.historyKeyFile !== undefined;
    const workloads = render('deploy/overlays/lab-a');
    expect(workloads).toHaveLength(2);
    for (const { name, config, secretDir } of workloads) {
      expect({ name, tls: config.temporal.tls, mounted: secretDir('podferry-temporal-tls') }).toEqual({ name, tls: undefined, mounted: undefined });
      expect({ name, encrypts: config.security.historyKeyFile !== undefined, keyMounted: secretDir('podferry-history-key') !== undefined }).toEqual({
        name,
        encrypts: labEncrypts,
        keyMounted: labEncrypts,
      });
      expect({ name, nodeCallKeyFile: config.security.nodeCallKeyFile }).toEqual({ name, nodeCallKeyFile: `${secretDir('podferry-node-call-key')}/key` });
    }
  });
});
