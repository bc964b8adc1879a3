import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';

function writeConfig(text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-config-')), 'podferry.yaml');
  writeFileSync(file, text);
  return file;
}

describe('configuration', () => {
  test('the lab configuration is valid and has both clusters', () => {
    const config = loadConfig({ path: DEFAULT_CONFIG_PATH, env: {} });
    expect(Object.keys(config.clusters)).toEqual(['lab-a', 'lab-b']);
    expect(config.clusters['lab-b']).toEqual({ kubeconfig: '/var/lib/podferry-lab/kubeconfig', context: 'lab-b' });
    expect(config.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'podferry' });
    expect(config.registry?.url).toBe('https://10.231.0.1:5443');
    // {node} in node paths is the node worker's node
    expect(config.node?.checkpointDir).toBe('/var/lib/podferry-lab/lab-a-node/kubelet/checkpoints');
    expect(config.node?.containerd?.address).toBe('/run/podferry-lab/lab-a-node/containerd.sock');
  });

  test('errors name the file and the field', () => {
    const file = writeConfig('clusters:\n  lab-a:\n    context: lab-a\nregistry:\n  url: ftp://x\n  repository: podferry/checkpoints\n');
    expect(() => loadConfig({ path: file, env: {} })).toThrow(ConfigError);
    try {
      loadConfig({ path: file, env: {} });
    } catch (err) {
      const lines = (err as Error).message.split('\n');
      expect(lines).toContain(`config ${file}: field clusters.lab-a.kubeconfig: Required`);
      expect(lines).toContain(`config ${file}: field registry.url: must be an http:// or https:// URL`);
    }
  });

  test("a cluster's Liqo cluster id: its name unless liqo.clusterId says otherwise", () => {
    const config = parseConfig(
      { clusters: { 'lab-a': { kubeconfig: '/k', context: 'lab-a' }, edge: { kubeconfig: '/k', context: 'edge', liqo: { clusterId: 'edge-7f3a' } } } },
      '/etc/podferry.yaml',
    );
    expect(new Clusters(config.clusters).liqoClusterIds()).toEqual({ 'lab-a': 'lab-a', edge: 'edge-7f3a' });
  });

  test('unknown keys are reported (typos do not pass silently)', () => {
    expect(() => parseConfig({ temporal: { adress: 'x' } }, '/etc/podferry.yaml')).toThrow(
      'config /etc/podferry.yaml: field temporal: unknown key(s) adress (check the spelling)',
    );
  });

  test('environment variables override the file, secrets included', () => {
    const file = writeConfig('registry:\n  url: http://r:5000\n  repository: a/b\nclusters:\n  x:\n    kubeconfig: kube.yaml\n');
    const config = loadConfig({
      path: file,
      env: {
        PODFERRY_TEMPORAL_ADDRESS: 'temporal:7233',
        PODFERRY_REGISTRY_PASSWORD: 's3cret',
        PODFERRY_NODE_CLUSTER: 'x',
        PODFERRY_NODE_NAME: 'n1',
        PODFERRY_METRICS_PORT: '9999',
        PODFERRY_HISTORY_KEY_FILE: 'keys/history.key',
      },
    });
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.registry?.password).toBe('s3cret');
    expect(config.node).toEqual({
      cluster: 'x',
      nodeName: 'n1',
      cgroupFsRoot: '/sys/fs/cgroup',
      hostRoot: '/',
      checkpointDir: '/var/lib/kubelet/checkpoints',
      transfer: { host: '0.0.0.0', port: 0 },
      stateDir: '/var/lib/podferry',
      archiveDir: '/var/lib/podferry/checkpoints/x/n1',
      sweepIntervalSeconds: 15,
      orphanArchiveAgeSeconds: 86_400,
    });
    expect(config.metrics.port).toBe(9999);
    // relative kubeconfig and key paths are relative to the configuration file
    expect(config.clusters.x?.kubeconfig).toBe(path.join(path.dirname(file), 'kube.yaml'));
    expect(config.security.historyKeyFile).toBe(path.join(path.dirname(file), 'keys/history.key'));
  });

  test('the registry pull identity: from the file or the environment, both fields or neither, its password never printed', () => {
    const file = writeConfig('registry:\n  url: https://r:5443\n  repository: a/b\n  pull:\n    username: puller\n');
    expect(() => loadConfig({ path: file, env: {} })).toThrow(`config ${file}: field registry.pull.password: Required`);
    const config = loadConfig({ path: file, env: { PODFERRY_REGISTRY_PULL_PASSWORD: 'pull-s3cret' } });
    expect(config.registry?.pull).toEqual({ username: 'puller', password: 'pull-s3cret' });
    const numeric = writeConfig('registry:\n  url: https://r:5443\n  repository: a/b\n  pull: {username: puller, password: 987654}\n');
    expect(() => loadConfig({ path: numeric, env: {} })).toThrow(/field registry\.pull\.password: Invalid input: expected string, received number$/);
  });

  test('a missing file says how to point at another one', () => {
    expect(() => loadConfig({ path: '/nonexistent/podferry.yaml', env: {} })).toThrow(
      'config /nonexistent/podferry.yaml: cannot read it (ENOENT); pass --config <file> or set PODFERRY_CONFIG',
    );
  });
});
