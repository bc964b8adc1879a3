import { describe, expect, test } from '@jest/globals';
import { refusalsFor, warningsFor } from '../../src/kubernetes/eligibility.js';
import { sourcePod } from '../fixtures/source-pod.js';

describe('which pods can migrate', () => {
  test('a running pod with movable volumes can', () => {
    expect(refusalsFor(sourcePod())).toEqual([]);
  });

  test('a pod that is not Running is refused with the reason and what to do', () => {
    const [refusal] = refusalsFor(sourcePod({ status: { phase: 'Pending' } }));
    expect(refusal?.type).toBe('PodNotRunning');
    expect(refusal?.message).toMatch(/pod default\/sample is Pending, not Running: .*wait until it runs/);
  });

  test.each(['hostNetwork', 'hostPID', 'hostIPC'] as const)('%s is refused', (field) => {
    const refusals = refusalsFor(sourcePod({ spec: { [field]: true } }));
    expect(refusals.map((r) => r.type)).toEqual(['HostNamespaceNotSupported']);
    expect(refusals[0]?.message).toContain(`${field}: true`);
  });

  test('PVC and hostPath volumes are refused, naming the volume', () => {
    const refusals = refusalsFor(
      sourcePod({
        spec: {
          volumes: [
            { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
            { name: 'logs', hostPath: { path: '/var/log' } },
          ],
        },
      }),
    );
    expect(refusals.map((r) => r.type)).toEqual(['VolumeCannotMove', 'VolumeCannotMove']);
    expect(refusals[0]?.message).toContain('volume data is a persistentVolumeClaim volume');
    expect(refusals[1]?.message).toContain('volume logs is a hostPath volume');
  });

  test.each([
    ['DaemonSet', 'which runs one pod per node: it deletes a restored pod on another node and recreates the source on its own'],
    ['Job', 'which counts a pod deleted by podferry as failed'],
    ['Rollout', 'a controller podferry does not know how to hand a restored pod to'],
  ])('a pod controlled by a %s is refused, saying why that controller cannot take a restored pod', (kind, why) => {
    const refusals = refusalsFor(sourcePod({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind, name: 'web', uid: 'u', controller: true }] } }));
    expect(refusals.map((r) => r.type)).toEqual(['ControllerOwnedPod']);
    expect(refusals[0]?.message).toContain(`controlled by ${kind} web, ${why}`);
    expect(refusals[0]?.message).toContain(
      "only those of a ReplicaSet (a Deployment's also to another cluster or namespace) or a StatefulSet (also to another cluster or namespace) move",
    );
  });

  test.each(['ReplicaSet', 'StatefulSet'])("a %s's pod is not refused for its owner (the plan checks where it goes), nor warned about its ownerReference", (kind) => {
    const pod = sourcePod({ metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind, name: 'web-7d9f', uid: 'u', controller: true }] } });
    expect(refusalsFor(pod)).toEqual([]);
    expect(warningsFor(pod).filter((w) => w.includes('ownerReferences'))).toEqual([]);
  });

  test('a container that is not running is refused', () => {
    const pod = sourcePod();
    pod.status!.containerStatuses![1]!.state = { waiting: { reason: 'CrashLoopBackOff' } };
    expect(refusalsFor(pod).map((r) => r.message)).toEqual([expect.stringContaining('container kv is CrashLoopBackOff')]);
  });

  test('warns about liveness probes (frozen time), emptyDir content and init containers', () => {
    const warnings = warningsFor(sourcePod({ spec: { initContainers: [{ name: 'init', image: 'busybox' }] } }));
    expect(warnings).toEqual([
      expect.stringContaining('container kv has a liveness probe: while the source is frozen the probe fails; the kubelet restarts it after about 20s'),
      expect.stringContaining('emptyDir volumes are recreated empty'),
      expect.stringContaining('init containers run again'),
    ]);
  });
});
