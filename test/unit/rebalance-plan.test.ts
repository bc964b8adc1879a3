import { describe, expect, test } from '@jest/globals';
import { describeIssues } from '../../src/api/migration.js';
import { PlacementPolicy, type PlacementPolicyDocument } from '../../src/api/placement-policy.js';
import { PolicyError, policySourceFromArgument } from '../../src/config/placement-policy.js';
import { bytes, cpuMilli, summarizePod } from '../../src/planning/pod-summary.js';
import { annotationKeys, planRebalance } from '../../src/planning/rebalance.js';
import { sourcePod } from '../fixtures/source-pod.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const NOW = Date.parse('2026-11-28T14:00:00Z');
const policy = (overrides: Partial<PlacementPolicyDocument> = {}) =>
  PlacementPolicy.parse({ selector: { matchLabels: { tier: 'demo' } }, clusters: ['lab-a', 'lab-b', 'edge-1'], ...overrides });
const pod = (cluster: string, name: string, annotations: Record<string, string> = {}, extra: Parameters<typeof sourcePod>[0] = {}) =>
  summarizePod(cluster, sourcePod({ ...extra, metadata: { name, annotations, ...extra.metadata } }), annotationKeys(policy()));

describe('the rebalancing plan', () => {
  test('a pod whose preferred cluster is elsewhere moves there; one already there, or without preference, stays', () => {
    const plan = planRebalance(
      [pod('lab-a', 'a', { 'podferry.io/preferred-cluster': 'lab-b' }), pod('lab-b', 'b', { 'podferry.io/preferred-cluster': 'lab-b' }), pod('lab-a', 'c')],
      policy({ guards: { maxConcurrentPerCluster: 5 } }),
      NOW,
    );
    expect(plan.moves).toEqual([{ namespace: 'default', name: 'a', from: 'lab-a', to: 'lab-b', why: 'podferry.io/preferred-cluster=lab-b' }]);
    expect(plan.skipped.map((s) => [s.name, s.type])).toEqual([
      ['c', 'NoPreference'],
      ['b', 'AlreadyPlaced'],
    ]);
  });

  test('the user region picks the lowest-latency cluster; the annotation wins over it', () => {
    const p = policy({ placement: { latencyMs: { 'eu-west': { 'lab-a': 30, 'edge-1': 5 }, apac: { 'lab-a': 10, 'lab-b': 10 } } }, guards: { maxConcurrentPerCluster: 5 } });
    const plan = planRebalance(
      [
        pod('lab-a', 'eu', { 'podferry.io/user-region': 'eu-west' }),
        pod('lab-a', 'tie', { 'podferry.io/user-region': 'apac' }),
        pod('lab-a', 'both', { 'podferry.io/user-region': 'eu-west', 'podferry.io/preferred-cluster': 'lab-b' }),
        pod('lab-a', 'mars', { 'podferry.io/user-region': 'mars' }),
      ],
      p,
      NOW,
    );
    expect(plan.moves.map((m) => [m.name, m.to])).toEqual([
      ['both', 'lab-b'],
      ['eu', 'edge-1'],
    ]);
    expect(plan.moves[1]!.why).toBe('podferry.io/user-region=eu-west: edge-1 is closest (5 ms)');
    expect(plan.skipped.map((s) => [s.name, s.type])).toEqual([
      ['mars', 'UnknownRegion'],
      ['tie', 'AlreadyPlaced'], // a tie keeps the pod where it is
    ]);
  });

  test('cool-down: a pod moved less than coolDownMinutes ago stays, with the time it may move again', () => {
    const p = policy({ guards: { coolDownMinutes: 30, maxConcurrentPerCluster: 5 } });
    const recent = pod('lab-a', 'recent', { 'podferry.io/preferred-cluster': 'lab-b', 'podferry.io/last-migrated-at': '2026-11-28T13:45:00Z' });
    const old = pod('lab-a', 'old', { 'podferry.io/preferred-cluster': 'lab-b', 'podferry.io/last-migrated-at': '2026-11-28T13:00:00Z' });
    const plan = planRebalance([recent, old], p, NOW);
    expect(plan.moves.map((m) => m.name)).toEqual(['old']);
    expect(plan.skipped).toEqual([
      expect.objectContaining({ name: 'recent', type: 'CoolingDown', reason: 'moved at 2026-11-28T13:45:00Z; cool-down of 30 min until 2026-11-28T14:15:00.000Z' }),
    ]);
  });

  test('per-cluster limit: each cluster takes part (as source or target) in at most maxConcurrentPerCluster moves per run', () => {
    const want = (cluster: string, name: string, to: string) => pod(cluster, name, { 'podferry.io/preferred-cluster': to });
    const plan = planRebalance(
      [want('lab-a', 'p1', 'lab-b'), want('lab-a', 'p2', 'lab-b'), want('lab-a', 'p3', 'edge-1'), want('edge-1', 'p4', 'lab-b'), want('edge-1', 'p5', 'lab-a')],
      policy({ guards: { maxConcurrentPerCluster: 2 } }),
      NOW,
    );
    // In order (edge-1 first): p4 edge=1 b=1; p5 edge=2 a=1; p1 a=2 b=2; p2: a full; p3: a full
    expect(plan.moves.map((m) => m.name)).toEqual(['p4', 'p5', 'p1']);
    expect(plan.skipped.map((s) => [s.name, s.type])).toEqual([
      ['p2', 'ClusterLimitReached'],
      ['p3', 'ClusterLimitReached'],
    ]);
    expect(plan.skipped[0]!.reason).toContain('cluster lab-a already takes part in 2 migration(s) this run (guards.maxConcurrentPerCluster): next run');
  });

  test('pods that cannot migrate, preferred clusters outside the policy and names already at the target are skipped with the reason', () => {
    const plan = planRebalance(
      [
        pod('lab-a', 'owned', { 'podferry.io/preferred-cluster': 'lab-b' }, { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true }] } }),
        pod('lab-a', 'elsewhere', { 'podferry.io/preferred-cluster': 'mars' }),
        pod('lab-a', 'twin', { 'podferry.io/preferred-cluster': 'lab-b' }),
        pod('lab-b', 'twin', { 'podferry.io/preferred-cluster': 'lab-b' }),
      ],
      policy({ guards: { maxConcurrentPerCluster: 5 } }),
      NOW,
    );
    expect(plan.moves).toEqual([]);
    expect(Object.fromEntries(plan.skipped.map((s) => [`${s.cluster}/${s.name}`, s.type]))).toEqual({
      'lab-a/owned': 'ControllerOwnedPod',
      'lab-a/elsewhere': 'UnknownPreferredCluster',
      'lab-a/twin': 'DuplicateName',
      'lab-b/twin': 'AlreadyPlaced',
    });
  });

  test('capacity: a move needs a node of the target with its requests free; planned moves use it up; respectCapacity: false ignores it', () => {
    // The fixture pod requests 10m CPU and 16Mi (one of its containers has requests).
    const want = (name: string) => pod('lab-a', name, { 'podferry.io/preferred-cluster': 'lab-b' });
    expect(want('x').requests).toEqual({ cpuMilli: 10, memoryBytes: 16 * 2 ** 20 });
    const capacity = { 'lab-b': [{ node: 'b1', freeCpuMilli: 25, freeMemoryBytes: 2 ** 30 }] };
    const plan = planRebalance([want('p1'), want('p2'), want('p3')], policy({ guards: { maxConcurrentPerCluster: 5 } }), NOW, capacity);
    expect(plan.moves.map((m) => m.name)).toEqual(['p1', 'p2']);
    expect(plan.skipped).toEqual([
      expect.objectContaining({ name: 'p3', type: 'NoCapacity', reason: 'no node of lab-b has its requests free (10m CPU, 16Mi memory; most free: 5m CPU, 992Mi memory)' }),
    ]);
    expect(capacity['lab-b'][0]!.freeCpuMilli).toBe(25); // the caller's numbers are not changed
    expect(planRebalance([want('p1')], policy(), NOW, { 'lab-b': [] }).skipped[0]!.reason).toContain('no Ready, schedulable node');
    expect(planRebalance([want('p1')], policy({ guards: { respectCapacity: false } }), NOW, { 'lab-b': [] }).moves).toHaveLength(1);
  });

  test('Kubernetes quantities: CPU in millicores, memory in bytes', () => {
    expect([cpuMilli('250m'), cpuMilli('1'), cpuMilli('0.5'), cpuMilli(undefined), cpuMilli('lots')]).toEqual([250, 1000, 500, 0, 0]);
    expect([bytes('16Mi'), bytes('1G'), bytes('1e3'), bytes('1048576'), bytes('1.5Gi'), bytes('3X')]).toEqual([16 * 2 ** 20, 1e9, 1000, 1048576, 1.5 * 2 ** 30, 0]);
  });

  test('target nodes per cluster are passed on', () => {
    const plan = planRebalance([pod('lab-a', 'a', { 'podferry.io/preferred-cluster': 'lab-b' })], policy({ placement: { targetNodes: { 'lab-b': 'lab-b-node' } } }), NOW);
    expect(plan.moves[0]).toMatchObject({ to: 'lab-b', toNode: 'lab-b-node' });
  });
});

describe('placement policy validation', () => {
  const issues = (document: unknown) => {
    const parsed = PlacementPolicy.safeParse(document);
    return parsed.success ? '' : describeIssues(parsed.error);
  };

  test('defaults: cool-down 30 min, 1 migration per cluster, not dry-run, the podferry.io annotations', () => {
    expect(policy().guards).toEqual({ maxConcurrentPerCluster: 1, coolDownMinutes: 30, respectCapacity: true, dryRun: false });
    expect(policy().placement).toMatchObject({ preferredClusterAnnotation: 'podferry.io/preferred-cluster', userRegionAnnotation: 'podferry.io/user-region' });
  });

  test('each bad field is named with the reason', () => {
    expect(issues({ selector: { matchLabels: {} }, clusters: [] })).toBe(
      'selector.matchLabels: at least one label: a policy never takes every pod of a cluster; clusters: name at least one cluster',
    );
    expect(issues({ selector: { matchLabels: { app: 'x' } }, clusters: ['a'], guards: { maxConcurrentPerCluster: 0, coolDownMinutes: -1, dryrun: true } })).toBe(
      'guards.maxConcurrentPerCluster: at least 1; guards.coolDownMinutes: cannot be negative; guards: Unrecognized key: "dryrun"',
    );
    expect(issues({ selector: { matchLabels: { app: 'x' } }, clusters: ['a'], placement: { latencyMs: { eu: { b: 3 } } } })).toBe(
      'placement.latencyMs.eu.b: cluster b is not in clusters (a)',
    );
    expect(issues({ selector: { matchLabels: { 'bad key!': 'x' } }, clusters: ['a'] })).toContain('selector.matchLabels.bad key!: not a valid label key');
  });

  test('a policy file is refused before a schedule exists, naming the file, the field and the reason', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podferry-policy-'));
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'selector:\n  matchLabels: { app: sample }\nclusters: [lab-a, lab-b]\nguards:\n  coolDownMinutes: soon\n');
    await expect(policySourceFromArgument(bad)).rejects.toThrow(new PolicyError(`placement policy ${bad}: guards.coolDownMinutes: Invalid input: expected number, received string`));
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, 'selector:\n  matchLabels: { app: sample }\nclusters: [lab-a, lab-b]\n');
    const loaded = await policySourceFromArgument(good);
    expect(loaded.source).toEqual({ inline: expect.objectContaining({ clusters: ['lab-a', 'lab-b'] }) });
    await expect(policySourceFromArgument('configmap:lab-a/default')).rejects.toThrow('expected configmap:<cluster>/<namespace>/<name>[#key]');
    const read = await policySourceFromArgument('configmap:lab-a/podferry/policy', async (ref) => (ref.key === 'policy.yaml' ? 'selector: {matchLabels: {app: sample}}\nclusters: [lab-a]' : undefined));
    expect(read.source).toEqual({ configMap: { cluster: 'lab-a', namespace: 'podferry', name: 'policy', key: 'policy.yaml' } });
  });
});
