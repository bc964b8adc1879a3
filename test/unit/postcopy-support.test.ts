// Whether a node can take part in a post-copy move (src/node/postcopy-support.ts): every missing piece named with
// what to change, all of them at once; and what containerd's CRI configuration says of the runc it runs.
import { describe, expect, test } from '@jest/globals';
import { containerdRunc, POSTCOPY_PIPE_BYTES, postCopySupport, type PostCopyFacts } from '../../src/node/postcopy-support.js';

/** A node with everything post-copy needs (the tests take pieces away). */
function capable(over: Partial<PostCopyFacts> = {}): PostCopyFacts {
  return { runtime: 'containerd', pipeMaxSize: POSTCOPY_PIPE_BYTES, criuVersion: '4.2.1', containerAnnotations: ['org.criu.config'], transferIdentity: true, containerdConfigured: true, ...over };
}

describe('postCopySupport', () => {
  test('containerd, pipes large enough, CRIU 4.2 or later, org.criu.config passed, a transfer identity: available', () => {
    expect(postCopySupport(capable())).toEqual({ available: true });
    for (const criuVersion of ['4.2', '4.2.0', '4.3', '5.0']) expect(postCopySupport(capable({ criuVersion }))).toEqual({ available: true });
    expect(postCopySupport(capable({ pipeMaxSize: POSTCOPY_PIPE_BYTES * 2 }))).toEqual({ available: true });
  });

  test("containerd's configuration unreadable, or no node.containerd settings: each said as what it is", () => {
    expect(postCopySupport(capable({ containerAnnotations: undefined }))).toEqual({ available: false, reason: expect.stringContaining("containerd's CRI configuration (its verbose status) could not be read") });
    expect(postCopySupport(capable({ containerdConfigured: false }))).toEqual({ available: false, reason: expect.stringContaining('no node.containerd settings') });
    expect(containerdRunc({ config: 'null' }, 'k8s.io')).toBeUndefined();
  });

  test('a runtime other than containerd (whose annotations are then not asked about)', () => {
    expect(postCopySupport(capable({ runtime: 'cri-o', containerAnnotations: [] }))).toEqual({
      available: false,
      reason: 'it runs cri-o; post-copy is built for containerd nodes only',
    });
  });

  test('fs.pipe-max-size below what the lazy page server needs, with the sysctl that raises it; or unreadable', () => {
    expect(postCopySupport(capable({ pipeMaxSize: 1048576 }))).toEqual({
      available: false,
      reason: expect.stringMatching(/^fs\.pipe-max-size is 1048576, below the 4194304 .*: sysctl -w fs\.pipe-max-size=4194304 on the node/),
    });
    expect(postCopySupport(capable({ pipeMaxSize: POSTCOPY_PIPE_BYTES - 1 })).available).toBe(false);
    expect(postCopySupport(capable({ pipeMaxSize: undefined }))).toEqual({ available: false, reason: 'fs.pipe-max-size could not be read' });
  });

  test('CRIU older than 4.2, or not runnable', () => {
    expect(postCopySupport(capable({ criuVersion: '4.1' }))).toEqual({ available: false, reason: 'CRIU 4.1 is older than 4.2' });
    expect(postCopySupport(capable({ criuVersion: '3.19' })).reason).toBe('CRIU 3.19 is older than 4.2');
    expect(postCopySupport(capable({ criuVersion: undefined }))).toEqual({ available: false, reason: 'CRIU could not be run' });
  });

  test('containerd not passing org.criu.config to runc, with the setting to add', () => {
    expect(postCopySupport(capable({ containerAnnotations: ['io.kubernetes.cri.sandbox-id'] }))).toEqual({
      available: false,
      reason: expect.stringMatching(/^containerd does not pass the annotation org\.criu\.config to runc, .*: add container_annotations = \["org\.criu\.config"\] to its runc runtime/),
    });
  });

  test('no transfer identity', () => {
    expect(postCopySupport(capable({ transferIdentity: false }))).toEqual({ available: false, reason: expect.stringContaining('no transfer identity (node.transfer.tls)') });
  });

  test('several reasons: all of them, in one sentence', () => {
    expect(postCopySupport(capable({ pipeMaxSize: undefined, criuVersion: undefined, transferIdentity: false }))).toEqual({
      available: false,
      reason: 'fs.pipe-max-size could not be read; CRIU could not be run; the node worker has no transfer identity (node.transfer.tls), which the page stream is authenticated with',
    });
  });
});

describe("containerdRunc: the default runtime's runc from CRI Status verbose info", () => {
  /** The relevant part of containerd's `config` as the lab's containerd reports it. */
  const LAB = {
    containerd: {
      defaultRuntimeName: 'runc',
      runtimes: { runc: { runtimeType: 'io.containerd.runc.v2', ContainerAnnotations: ['org.criu.config'], options: { BinaryName: '/opt/runc', Root: '/run/lab/runc' } } },
    },
  };
  const info = (config: unknown) => ({ config: JSON.stringify(config) });

  test('BinaryName, Root with the containerd namespace, ContainerAnnotations', () => {
    expect(containerdRunc(info(LAB), 'k8s.io')).toEqual({ binary: '/opt/runc', root: '/run/lab/runc/k8s.io', containerAnnotations: ['org.criu.config'] });
  });

  test("the default runtime's, not another's", () => {
    const two = { containerd: { defaultRuntimeName: 'lab', runtimes: { runc: LAB.containerd.runtimes.runc, lab: { options: { BinaryName: '/opt/lab-runc' } } } } };
    expect(containerdRunc(info(two), 'k8s.io')?.binary).toBe('/opt/lab-runc');
  });

  test("empty options (and containerd's null for no annotations): the runc shim's defaults", () => {
    const bare = { containerd: { defaultRuntimeName: 'runc', runtimes: { runc: { runtimeType: 'io.containerd.runc.v2', ContainerAnnotations: null, options: { BinaryName: '', Root: '' } } } } };
    expect(containerdRunc(info(bare), 'k8s.io')).toEqual({ binary: 'runc', root: '/run/containerd/runc/k8s.io', containerAnnotations: [] });
    // No defaultRuntimeName, no options at all.
    expect(containerdRunc(info({ containerd: { runtimes: { runc: {} } } }), 'default')).toEqual({ binary: 'runc', root: '/run/containerd/runc/default', containerAnnotations: [] });
  });

  test('no config, JSON that does not parse, or no default runtime in it: undefined', () => {
    expect(containerdRunc({}, 'k8s.io')).toBeUndefined();
    expect(containerdRunc({ config: '{"containerd":' }, 'k8s.io')).toBeUndefined();
    expect(containerdRunc(info({ containerd: { defaultRuntimeName: 'crun', runtimes: LAB.containerd.runtimes } }), 'k8s.io')).toBeUndefined();
  });
});
