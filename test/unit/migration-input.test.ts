import { describe, expect, test } from '@jest/globals';
import { describeIssues, MigratePodInput } from '../../src/api/migration.js';
import { checkpointImageTag, migrationKey, nodeTaskQueue } from '../../src/api/names.js';

describe('migration input', () => {
  test('fills in the defaults', () => {
    const input = MigratePodInput.parse({
      source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
      target: { cluster: 'lab-b' },
    });
    expect(input.options).toEqual({
      mode: 'stop-and-copy',
      allowSecretsToOtherNamespace: false,
      checkpointVia: 'runtime',
      allowUnschedulableTargetNode: false,
      parallel: true,
      transfer: 'registry',
      pullOnTarget: true,
      checkpointTimeoutSeconds: 120,
      readyTimeoutSeconds: 300,
      maxFrozenSeconds: 180,
      cleanup: { images: 'delete', archives: 'delete' },
    });
  });

  test('names every wrong field', () => {
    const result = MigratePodInput.safeParse({
      source: { cluster: 'lab-a', namespace: 'Default', pod: '' },
      target: {},
      options: { parallel: 'yes', cleanup: { images: 'shred' } },
    });
    expect(result.success).toBe(false);
    const text = describeIssues(result.error!);
    expect(text).toContain('source.namespace: not a valid Kubernetes namespace name');
    expect(text).toContain('source.pod: not a valid Kubernetes object name');
    expect(text).toContain('target.cluster: required');
    expect(text).toContain('options.parallel:');
    expect(text).toContain('options.cleanup.images:');
  });

  test('mode: postcopy is accepted; an unknown mode is refused, naming options.mode', () => {
    const request = (mode: string) => ({ source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' }, target: { cluster: 'lab-b', node: 'lab-b-node' }, options: { mode } });
    expect(MigratePodInput.parse(request('postcopy')).options.mode).toBe('postcopy');
    const result = MigratePodInput.safeParse(request('precopy'));
    expect(result.success).toBe(false);
    expect(describeIssues(result.error!)).toMatch(/^options\.mode: .*"stop-and-copy"\|"postcopy"/m);
  });

  test('refuses unknown keys such as credentials', () => {
    const result = MigratePodInput.safeParse({
      source: { cluster: 'a', namespace: 'default', pod: 'p', kubeconfig: '...' },
      target: { cluster: 'b' },
    });
    expect(result.success).toBe(false);
    expect(describeIssues(result.error!)).toContain('kubeconfig');
  });
});

describe('derived names', () => {
  test('node task queues are named after cluster and node', () => {
    expect(nodeTaskQueue('lab-a', 'lab-a-node')).toBe('podferry-node-lab-a-lab-a-node');
  });

  test('migration keys are deterministic, short and label-safe', () => {
    expect(migrationKey('podferry-lab-a-default-sample-abc')).toBe('podferry-lab-a-default-sample-abc');
    const long = migrationKey('Podferry/LAB_A:' + 'x'.repeat(100));
    expect(long).toBe(migrationKey('Podferry/LAB_A:' + 'x'.repeat(100)));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(checkpointImageTag('m-1', 'counter')).toBe('m-1-counter');
  });
});
