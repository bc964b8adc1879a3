// The plan refuses, before anything is frozen, a move whose target cannot restore the source's checkpoint:
// another runtime, a containerd without restore from checkpoint images, a CRI-O source checkpointed through
// the kubelet, or images sent node to node to CRI-O (which only pulls from a registry).
import { describe, expect, test } from '@jest/globals';
import type { V1Node, V1NodeSystemInfo, V1Pod } from '@kubernetes/client-node';
import type { PlanMigrationInput } from '../../src/api/migration-plan.js';
import { decideMigration, type MigrationFacts } from '../../src/planning/migration.js';
import { cannotRestoreBecause, nodeRuntime } from '../../src/planning/restore-support.js';
import { sourcePod } from '../fixtures/source-pod.js';

function node(name: string, runtime: string): V1Node {
  return {
    metadata: { name },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { containerRuntimeVersion: runtime } as V1NodeSystemInfo },
  };
}

function podOn(runtime: string): V1Pod {
  const pod = sourcePod();
  pod.status!.containerStatuses = pod.status!.containerStatuses!.map((s) => ({ ...s, containerID: `${runtime}://${s.name}-id` }));
  return pod;
}

function decide(options: { source: string; target?: V1Node; candidates?: V1Node[]; request?: Partial<PlanMigrationInput> }) {
  const facts: MigrationFacts = {
    request: {
      migrationId: 'mig-1',
      source: { cluster: 'lab-a', namespace: 'default', pod: 'sample' },
      target: { cluster: 'lab-c', namespace: 'default', ...(options.target ? { node: options.target.metadata!.name } : {}) },
      ...options.request,
    },
    sourcePod: podOn(options.source),
    sourceNodeUnschedulable: false,
    targetNamespaceExists: true,
    targetNode: options.target,
    podAtTarget: undefined,
    targetClusterNodes: options.candidates ?? [],
    protectedNamespaces: [],
    registryPullIdentity: false,
  };
  const decision = decideMigration(facts);
  return 'refused' in decision ? decision.refused : [];
}

describe('what a node can restore', () => {
  test('the runtime as the kubelet reports it', () => {
    expect(nodeRuntime(node('n', 'cri-o://1.34.0'))).toEqual({ name: 'cri-o', version: '1.34.0' });
    expect(nodeRuntime(node('n', 'containerd://v2.3.7'))).toEqual({ name: 'containerd', version: '2.3.7' });
    expect(nodeRuntime({ metadata: { name: 'virtual' } })).toBeUndefined();
  });

  test('containerd 2.1 to 2.3 and CRI-O restore their own checkpoints; containerd 2.4 and 2.0 cannot', () => {
    expect(cannotRestoreBecause(node('b', 'containerd://2.3.7'), 'containerd')).toBeUndefined();
    expect(cannotRestoreBecause(node('b', 'containerd://2.1.0'), 'containerd')).toBeUndefined();
    expect(cannotRestoreBecause(node('c', 'cri-o://1.34.0'), 'cri-o')).toBeUndefined();
    expect(cannotRestoreBecause(node('b', 'containerd://2.4.0'), 'containerd')).toMatch(/^node b runs containerd 2\.4\.0, which cannot restore .*2\.4 removed it\)$/);
    expect(cannotRestoreBecause(node('b', 'containerd://2.0.5'), 'containerd')).toMatch(/cannot restore/);
  });
});

describe('plan refusals', () => {
  test('containerd → CRI-O: TargetCannotRestore, naming the node, runtime, version and why', () => {
    const [refusal] = decide({ source: 'containerd', target: node('lab-c-node', 'cri-o://1.34.0') });
    expect(refusal?.type).toBe('TargetCannotRestore');
    expect(refusal?.message).toBe(
      "node lab-c-node runs cri-o 1.34.0 and the pod runs on containerd: a checkpoint restores only on the runtime that took it (CRI-O's restore needs " +
        "config.dump's rootfsImageRef as a bare image id, containerd writes a repo digest): choose a node of the same runtime",
    );
  });

  test('CRI-O → containerd: TargetCannotRestore (containerd needs status.dump)', () => {
    const [refusal] = decide({ source: 'cri-o', target: node('lab-b-node', 'containerd://2.3.7') });
    expect(refusal).toMatchObject({ type: 'TargetCannotRestore', message: expect.stringContaining("containerd's restore needs status.dump") });
  });

  test('no node named and the scheduler may choose one that cannot restore: name one that can', () => {
    const [refusal] = decide({ source: 'cri-o', candidates: [node('lab-c-node', 'cri-o://1.34.0'), node('other', 'containerd://2.3.7')] });
    expect(refusal?.type).toBe('TargetCannotRestore');
    expect(refusal?.message).toMatch(/pass a target node that can \(lab-c-node\)/);
    expect(decide({ source: 'cri-o', candidates: [node('lab-c-node', 'cri-o://1.34.0')] })).toEqual([]);
  });

  test('a CRI-O source checkpointed through the kubelet: refused (CRI-O resumes it after its checkpoint)', () => {
    const [refusal] = decide({ source: 'cri-o', target: node('lab-c-node', 'cri-o://1.34.0'), request: { checkpointVia: 'kubelet' } });
    expect(refusal).toMatchObject({ type: 'CheckpointViaKubeletUnsupported', message: expect.stringContaining('use options.checkpointVia: runtime') });
    expect(decide({ source: 'cri-o', target: node('lab-c-node', 'cri-o://1.34.0'), request: { checkpointVia: 'runtime' } })).toEqual([]);
  });

  test('transfer direct to a CRI-O node: refused (registry only)', () => {
    const [refusal] = decide({ source: 'cri-o', target: node('lab-c-node', 'cri-o://1.34.0'), request: { transfer: 'direct' } });
    expect(refusal).toMatchObject({ type: 'DirectTransferUnsupported', message: expect.stringContaining('use options.transfer: registry') });
  });

  test('a node that reports no runtime is not refused (the restore decides)', () => {
    expect(decide({ source: 'cri-o', target: { metadata: { name: 'virtual' }, spec: {}, status: {} } })).toEqual([]);
  });
});
