import { describe, expect, test } from '@jest/globals';
import { pullSecretName } from '../../src/api/names.js';
import { buildTargetPod, referencedConfig } from '../../src/kubernetes/target-pod.js';
import { sourcePod } from '../fixtures/source-pod.js';

const images = {
  counter: '10.231.0.1:5000/podferry/checkpoints@sha256:1111111111111111111111111111111111111111111111111111111111111111',
  kv: '10.231.0.1:5000/podferry/checkpoints@sha256:2222222222222222222222222222222222222222222222222222222222222222',
  ballast: '10.231.0.1:5000/podferry/checkpoints@sha256:3333333333333333333333333333333333333333333333333333333333333333',
};

function rebuild(targetNode?: string) {
  return buildTargetPod({
    source: sourcePod(),
    sourceCluster: 'lab-a',
    targetNamespace: 'moved',
    targetNode,
    images,
    migrationId: 'mig-1',
  });
}

describe('rebuilding the source pod for the target cluster', () => {
  test("a pod Liqo offloaded: Liqo's labels of that placement are dropped (Liqo sets them again on a pod it offloads)", () => {
    const offloaded = sourcePod({ metadata: { labels: { app: 'sample', 'liqo.io/shadowPod': 'true', 'liqo.io/remote-unavailable': 'true' } } });
    const target = buildTargetPod({ source: offloaded, sourceCluster: 'lab-a', targetNamespace: 'default', targetNode: 'lab-a-node', images, migrationId: 'mig-1' });
    expect(target.metadata?.labels).toEqual({ app: 'sample' });
  });

  test('keeps labels, annotations, env, ports, resources, probes, security context and movable volumes', () => {
    const source = sourcePod();
    const target = rebuild('lab-b-node');
    expect(target.metadata?.labels).toEqual(source.metadata?.labels);
    expect(target.metadata?.annotations).toMatchObject(source.metadata!.annotations!);
    expect(target.spec?.securityContext).toEqual(source.spec?.securityContext);
    expect(target.spec?.tolerations).toEqual(source.spec?.tolerations);
    expect(target.spec?.terminationGracePeriodSeconds).toBe(2);
    for (const [i, container] of target.spec!.containers.entries()) {
      const original = source.spec!.containers[i]!;
      expect(container.name).toBe(original.name);
      expect(container.args).toEqual(original.args);
      expect(container.env).toEqual(original.env);
      expect(container.envFrom).toEqual(original.envFrom);
      expect(container.ports).toEqual(original.ports);
      expect(container.resources).toEqual(original.resources);
      expect(container.readinessProbe).toEqual(original.readinessProbe);
      expect(container.livenessProbe).toEqual(original.livenessProbe);
      expect(container.securityContext).toEqual(original.securityContext);
    }
    expect(target.spec?.volumes?.map((v) => v.name)).toEqual(['scratch', 'settings', 'podinfo']);
    expect(target.spec?.volumes?.find((v) => v.name === 'settings')).toEqual(source.spec?.volumes?.[1]);
  });

  test("drops a per-pod CRIU configuration (org.criu.config): CRI-O's restore would honour it too", () => {
    const target = buildTargetPod({
      source: sourcePod({ metadata: { annotations: { 'org.criu.config': '/etc/criu/leave-stopped.conf', keep: 'me' } } }),
      sourceCluster: 'lab-c',
      targetNamespace: 'moved',
      images,
      migrationId: 'mig-1',
    });
    expect(target.metadata!.annotations).not.toHaveProperty('org.criu.config');
    expect(target.metadata!.annotations!.keep).toBe('me');
  });

  test('replaces every container image by its checkpoint image and records the originals', () => {
    const target = rebuild();
    expect(Object.fromEntries(target.spec!.containers.map((c) => [c.name, c.image]))).toEqual(images);
    expect(target.spec!.containers.every((c) => c.imagePullPolicy === 'IfNotPresent')).toBe(true);
    expect(JSON.parse(target.metadata!.annotations!['podferry.io/original-images']!)).toEqual({
      counter: '10.231.0.1:5000/podferry/sample:lab',
      kv: '10.231.0.1:5000/podferry/sample:lab',
      ballast: '10.231.0.1:5000/podferry/sample:lab',
    });
    expect(target.metadata!.annotations!['podferry.io/migration-id']).toBe('mig-1');
    expect(target.metadata!.annotations!['podferry.io/source']).toBe('lab-a/default/sample');
  });

  test('strips what belonged to the old pod: identity, status, node binding, token volume and its mounts', () => {
    const target = rebuild();
    expect(target.metadata).not.toHaveProperty('uid');
    expect(target.metadata).not.toHaveProperty('resourceVersion');
    expect(target.metadata).not.toHaveProperty('creationTimestamp');
    expect(target.metadata).not.toHaveProperty('managedFields');
    expect(target.metadata?.name).toBe('sample');
    expect(target.metadata?.namespace).toBe('moved');
    expect(target).not.toHaveProperty('status');
    expect(target.spec).not.toHaveProperty('nodeName');
    expect(target.spec).not.toHaveProperty('priority');
    expect(target.spec).not.toHaveProperty('serviceAccount');
    expect(target.spec?.serviceAccountName).toBe('default');
    expect(target.spec?.nodeSelector).toEqual({ disktype: 'ssd' });
    const mounts = target.spec!.containers.flatMap((c) => c.volumeMounts ?? []).map((m) => m.name);
    expect(mounts).not.toContain('kube-api-access-x7k2p');
    expect(mounts).toEqual(['scratch', 'settings', 'podinfo']);
  });

  test('binds to the target node when one is given', () => {
    expect(rebuild('lab-b-node').spec?.nodeName).toBe('lab-b-node');
  });

  test('tolerates the NoExecute taints of the target node (a Liqo virtual node), once', () => {
    const liqoTaint = { key: 'virtual-node.liqo.io/not-allowed', value: 'true', effect: 'NoExecute' };
    const target = buildTargetPod({
      source: sourcePod(),
      sourceCluster: 'lab-a',
      targetNamespace: 'moved',
      targetNode: 'liqo-remote',
      images,
      migrationId: 'm',
      targetNodeTaints: [liqoTaint, { key: 'dedicated', value: 'x', effect: 'NoSchedule' }, { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }],
    });
    expect(target.spec?.nodeName).toBe('liqo-remote');
    // The source's own not-ready toleration already covers that taint; NoSchedule does not evict a bound pod.
    expect(target.spec?.tolerations).toEqual([
      ...sourcePod().spec!.tolerations!,
      { key: 'virtual-node.liqo.io/not-allowed', operator: 'Equal', value: 'true', effect: 'NoExecute' },
    ]);
  });

  test('does not modify the source object', () => {
    const source = sourcePod();
    const before = JSON.stringify(source);
    buildTargetPod({ source, sourceCluster: 'lab-a', targetNamespace: 'x', images, migrationId: 'm' });
    expect(JSON.stringify(source)).toBe(before);
  });

  test('refuses to build a pod with a container that has no checkpoint image', () => {
    expect(() =>
      buildTargetPod({ source: sourcePod(), sourceCluster: 'a', targetNamespace: 'x', images: { counter: 'x' }, migrationId: 'm' }),
    ).toThrow('no checkpoint image for container(s) kv, ballast');
  });

  test('finds the ConfigMaps and Secrets the pod needs, but not the injected token volume', () => {
    expect(referencedConfig(sourcePod().spec!)).toEqual({
      configMaps: ['kv-settings', 'sample-config'],
      secrets: ['kv-credentials', 'kv-tls'],
    });
  });

  describe('image pull secrets', () => {
    /** The fixture pod with its own pull secret, and the one of an earlier migration that moved it here. */
    const withPullSecrets = () => {
      const pod = sourcePod();
      pod.spec!.imagePullSecrets = [{ name: 'team-registry' }, { name: pullSecretName('earlier-move') }];
      return pod;
    };
    const rebuildWith = (pullSecret?: string) =>
      buildTargetPod({ source: withPullSecrets(), sourceCluster: 'lab-a', targetNamespace: 'moved', images, migrationId: 'mig-1', pullSecret });

    test("the migration's pull secret is added to the pod's own; an earlier migration's (deleted by now) goes", () => {
      expect(rebuildWith(pullSecretName('mig-1')).spec!.imagePullSecrets).toEqual([{ name: 'team-registry' }, { name: 'podferry-pull-mig-1' }]);
    });

    test('without a pull secret (anonymous pulls) the pod keeps only its own', () => {
      expect(rebuildWith().spec!.imagePullSecrets).toEqual([{ name: 'team-registry' }]);
      expect(rebuild().spec!.imagePullSecrets).toBeUndefined();
    });

    test("the pod's own pull secret is config to copy; a migration's is not", () => {
      expect(referencedConfig(withPullSecrets().spec!).secrets).toEqual(['kv-credentials', 'kv-tls', 'team-registry']);
    });
  });
});
