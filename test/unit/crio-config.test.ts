// The node worker reads CRI-O's runc (binary, root, PATH for CRIU) from CRI-O's own
// configuration (GET /config on its socket), as CRI-O v1.34.0 on lab-c prints it.
import { describe, expect, test } from '@jest/globals';
import { crioSettings, parseTomlTables } from '../../src/node/crio-config.js';

const LAB_C = `
[crio]
  root = "/var/lib/podferry-lab/lab-c-node/crio/storage"
  [crio.runtime]
    default_runtime = "runc"
    enable_criu_support = true
    default_capabilities = [
      "CHOWN",
    ]
    [crio.runtime.runtimes]
      [crio.runtime.runtimes.runc]
        runtime_path = "/var/lib/podferry-lab/lab-c-node/runc-without-hugetlb"
        runtime_root = "/run/podferry-lab/lab-c-node/runc"
        monitor_env = ["PATH=/root/.cache/podferry-lab/criu-4.2:/usr/bin:/bin"]
`;

describe("CRI-O's configuration", () => {
  test("lab-c's: the default handler's runc, root and PATH", () => {
    expect(crioSettings(parseTomlTables(LAB_C), 'lab-c')).toEqual({
      handler: 'runc',
      runtimePath: '/var/lib/podferry-lab/lab-c-node/runc-without-hugetlb',
      runtimeRoot: '/run/podferry-lab/lab-c-node/runc',
      path: '/root/.cache/podferry-lab/criu-4.2:/usr/bin:/bin',
    });
  });

  test("CRI-O's defaults when the handler names no path or root", () => {
    const text = `[crio.runtime]\ndefault_runtime = "crun"\n[crio.runtime.runtimes.crun]\nruntime_path = ""\nruntime_root = ""\n`;
    expect(crioSettings(parseTomlTables(text), 'x')).toEqual({ handler: 'crun', runtimePath: 'crun', runtimeRoot: '/run/crun' });
  });

  test('a handler without its table: refused, naming the settings to give', () => {
    expect(() => crioSettings(parseTomlTables('[crio.runtime]\ndefault_runtime = "kata"\n'), 'sock')).toThrow(/default handler kata: set node\.crio\.runc and node\.crio\.runtimeRoot/);
  });
});
