// What a runtime's running configuration says of restore from checkpoint images (src/node/restore-settings.ts),
// and how the plan judges a target node's own description (describedRestoreCheck).
import { describe, expect, test } from '@jest/globals';
import type { RuntimeDescription } from '../../src/api/runtime-description.js';
import { parseTomlTables } from '../../src/node/crio-config.js';
import { containerdRestore, crioRestore } from '../../src/node/restore-settings.js';
import { describedRestoreCheck } from '../../src/planning/restore-support.js';

describe('containerd: the CRI configuration in Status verbose info', () => {
  test('restore via create on, CRIU not off: enabled', () => {
    expect(containerdRestore({ config: JSON.stringify({ enableCRIU: true, enableExperimentalRestoreViaCreate: true }) })).toMatchObject({ enabled: true });
  });
  test('off (the default from 2.3.4), CRIU off, a release without the switch, no config: not enabled, naming the setting', () => {
    expect(containerdRestore({ config: JSON.stringify({ enableExperimentalRestoreViaCreate: false }) })).toMatchObject({ enabled: false, reason: expect.stringMatching(/is false/) });
    expect(containerdRestore({ config: JSON.stringify({ enableCRIU: false, enableExperimentalRestoreViaCreate: true }) })).toMatchObject({ enabled: false, reason: 'enable_criu is false' });
    expect(containerdRestore({ config: JSON.stringify({ enableCRIU: true }) })).toMatchObject({ enabled: false, reason: expect.stringMatching(/no enable_experimental_restore_via_create/) });
    expect(containerdRestore({}).setting).toMatch(/enable_experimental_restore_via_create = true/);
  });
});

describe("CRI-O: its running configuration (GET /config)", () => {
  test('v1.34.0 as lab-c runs it: enable_criu_support = true, no [crio.checkpoint_restore]: enabled', () => {
    expect(crioRestore(parseTomlTables('[crio.runtime]\n  enable_criu_support = true\n'))).toMatchObject({ enabled: true });
  });
  test('CRIU support off (or turned off by CRI-O for want of CRIU), or container level "checkpoint_only": not enabled', () => {
    expect(crioRestore(parseTomlTables('[crio.runtime]\n  enable_criu_support = false\n'))).toMatchObject({ enabled: false, setting: expect.stringMatching(/enable_criu_support = true/) });
    const checkpointOnly = parseTomlTables('[crio.runtime]\n  enable_criu_support = true\n[crio.checkpoint_restore]\n  container_level_enabled = "checkpoint_only"\n');
    expect(crioRestore(checkpointOnly)).toMatchObject({ enabled: false, setting: '[crio.checkpoint_restore] container_level_enabled = "checkpoint_restore"' });
  });
});

describe('describedRestoreCheck', () => {
  const described = (over: Partial<RuntimeDescription>): RuntimeDescription => ({
    node: 'n',
    runtime: 'cri-o',
    version: '1.34.0',
    restore: { enabled: true, setting: 's' },
    criu: { binary: 'criu', version: '4.2.1' },
    ...over,
  });
  test('same runtime, restore on, same CRIU: nothing to say', () => {
    expect(describedRestoreCheck(described({}), described({ node: 'm' }), 'cri-o')).toEqual({ warnings: [] });
  });
  test('another runtime, a containerd 2.4, restore off: refused', () => {
    expect(describedRestoreCheck(described({}), undefined, 'containerd').refusal?.message).toMatch(/node n runs cri-o 1\.34\.0 and the pod runs on containerd/);
    expect(describedRestoreCheck(described({ runtime: 'containerd', version: '2.4.0' }), undefined, 'containerd').refusal?.message).toMatch(/2\.4 removed it/);
    expect(describedRestoreCheck(described({ restore: { enabled: false, setting: 'X = 1', reason: 'r' } }), undefined, 'cri-o').refusal?.message).toMatch(
      /^node n \(cri-o 1\.34\.0\) cannot restore containers from checkpoint images \(r\): set X = 1 on that node/,
    );
  });
  test('CRIU: an older release is refused, an older patch level or a newer one is not, an unknown one warns', () => {
    const source = described({ node: 'm', criu: { binary: 'criu', version: '4.2.1' } });
    expect(describedRestoreCheck(described({ criu: { binary: 'criu', version: '3.19' } }), source, 'cri-o').refusal?.type).toBe('TargetCannotRestore');
    expect(describedRestoreCheck(described({ criu: { binary: 'criu', version: '4.2' } }), source, 'cri-o')).toEqual({ warnings: [expect.stringMatching(/older patch level/)] });
    expect(describedRestoreCheck(described({ criu: { binary: 'criu', version: '4.3' } }), source, 'cri-o')).toEqual({ warnings: [] });
    expect(describedRestoreCheck(described({ criu: { binary: 'criu', error: 'ENOENT' } }), source, 'cri-o').warnings).toEqual([expect.stringMatching(/CRIU versions not compared .*ENOENT/)]);
  });
});
