import { describe, expect, test } from '@jest/globals';
import { DrainNodeInput } from '../../src/api/drain.js';
import { describeIssues } from '../../src/api/migration.js';
import { batchesByOwner, isComplete, splitNodePods } from '../../src/planning/drain.js';
import { summarizePod } from '../../src/planning/pod-summary.js';
import { sourcePod } from '../fixtures/source-pod.js';

const named = (name: string, overrides: Parameters<typeof sourcePod>[0] = {}) =>
  summarizePod('lab-a', sourcePod({ ...overrides, metadata: { name, ...overrides.metadata } }));

describe('which pods of a node a drain moves', () => {
  const daemon = named('node-exporter-x1', { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-exporter', uid: 'u', controller: true }] } });
  const mirror = named('kube-proxy-lab-a-node', { metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc' } } });
  const replica = named('web-7d9f-x', { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u', controller: true }] } });
  const withClaim = named('db', { spec: { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] } });
  const finished = named('job-done', { status: { phase: 'Succeeded' } });

  test('standalone running pods migrate; DaemonSet, static, PVC and finished pods are skipped with the reason', () => {
    const split = splitNodePods([named('sample'), daemon, mirror, withClaim, named('another'), finished]);
    expect(split.migratable.map((p) => p.name)).toEqual(['another', 'sample']);
    expect(Object.fromEntries(split.skipped.map((s) => [s.name, s.type]))).toEqual({
      'node-exporter-x1': 'DaemonSetPod',
      'kube-proxy-lab-a-node': 'StaticPod',
      db: 'VolumeCannotMove',
      'job-done': 'PodFinished',
    });
    const reason = (name: string) => split.skipped.find((s) => s.name === name)!.reason;
    expect(reason('node-exporter-x1')).toContain('belongs to DaemonSet node-exporter');
    expect(reason('kube-proxy-lab-a-node')).toContain('mirror of a static pod');
    expect(reason('db')).toContain('volume data is a persistentVolumeClaim volume');
  });

  test('complete: only node-bound pods stay and nothing failed', () => {
    const split = splitNodePods([daemon, mirror, finished]);
    expect(isComplete(split.skipped, [])).toBe(true);
    expect(isComplete(split.skipped, [{}])).toBe(false);
    expect(isComplete(splitNodePods([withClaim]).skipped, [])).toBe(false);
  });

  test("a ReplicaSet's and a StatefulSet's pods migrate, wherever they go (each migration's plan checks their owners there)", () => {
    const stateful = named('web-0', { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u', controller: true }] } });
    expect(splitNodePods([named('sample'), replica, stateful])).toEqual({ migratable: [named('sample'), stateful, replica], skipped: [] });
  });

  test("a ReplicaSet's pods are one batch, moved one after another; other pods are batches of their own, in order", () => {
    const ofReplicaSet = (name: string, rs: string) =>
      named(name, { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: rs, controller: true }] } });
    const pods = [named('a'), ofReplicaSet('web-1-x', 'web-1'), named('b'), ofReplicaSet('web-1-y', 'web-1'), ofReplicaSet('api-2-z', 'api-2')];
    expect(batchesByOwner(pods, 'lab-a').map((batch) => batch.map((p) => p.name))).toEqual([['a'], ['web-1-x', 'web-1-y'], ['b'], ['api-2-z']]);
    expect(batchesByOwner(pods, 'lab-b')).toEqual(batchesByOwner(pods, 'lab-a'));
  });

  test("a StatefulSet's pods leaving the cluster are one batch, highest ordinal first (only an end of its range can leave); within the cluster each goes alone", () => {
    const ofStatefulSet = (name: string, sts: string) =>
      named(name, { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts, uid: sts, controller: true }] } });
    const pods = [ofStatefulSet('web-0', 'web'), named('a'), ofStatefulSet('web-10', 'web'), ofStatefulSet('db-0', 'db'), ofStatefulSet('web-2', 'web')];
    expect(batchesByOwner(pods, 'lab-b').map((batch) => batch.map((p) => p.name))).toEqual([['web-10', 'web-2', 'web-0'], ['a'], ['db-0']]);
    expect(batchesByOwner(pods, 'lab-a').map((batch) => batch.map((p) => p.name))).toEqual([['web-0'], ['a'], ['web-10'], ['db-0'], ['web-2']]);
  });
});

describe('drain input validation', () => {
  const issues = (input: unknown) => {
    const parsed = DrainNodeInput.safeParse(input);
    return parsed.success ? '' : describeIssues(parsed.error);
  };
  test('defaults: concurrency 2, target cluster unset (the source cluster)', () => {
    expect(DrainNodeInput.parse({ source: { cluster: 'lab-a', node: 'lab-a-node' } })).toMatchObject({ concurrency: 2, target: {} });
  });
  test('bad fields are named with the reason', () => {
    expect(issues({ source: { cluster: 'lab-a', node: 'Lab_A' }, concurrency: 0 })).toBe(
      'source.node: not a valid Kubernetes node name (DNS-1123 subdomain); concurrency: at least 1 migration at a time',
    );
    expect(issues({ source: { cluster: 'lab-a', node: 'n1' }, target: { node: 'n1' } })).toBe('target.node: the target node is the node being drained');
    expect(issues({ source: { cluster: 'lab-a', node: 'n1' }, target: { cluster: 'lab-b', node: 'n1' } })).toBe('');
  });
});
