// What this node's runtime can restore, in its own words (the node activity describeRuntime): CRI Version for
// name and release; the running configuration for the restore switch (containerd: CRI Status verbose info,
// CRI-O: its info endpoint's GET /config on the same socket); the CRIU its runc runs. The workflow asks the
// target node (and the source, for CRIU) before anything is frozen (src/planning/restore-support.ts judges).
import { ApplicationFailure } from '@temporalio/common';
import type { RuntimeDescription } from '../api/runtime-description.js';
import { readCrioConfig } from '../node/crio-config.js';
import type { CrioAccess } from '../node/runc.js';
import type { CriRuntime } from '../node/cri-runtime.js';
import { criuVersion } from '../node/criu-version.js';
import { containerdRestore, crioRestore } from '../node/restore-settings.js';

export function createRuntimeDescriptionActivities(deps: { runtime?: CriRuntime; criAddress?: string; crio?: CrioAccess; nodeName: string }) {
  async function describeRuntime(): Promise<RuntimeDescription> {
    const { runtime, criAddress } = deps;
    if (!runtime || !criAddress) {
      throw ApplicationFailure.nonRetryable(`the node worker of ${deps.nodeName} has no CRI socket (node.cri.address): it cannot say what its runtime restores`, 'RuntimeUnknown');
    }
    const { runtimeName, runtimeVersion } = await runtime.version();
    const version = runtimeVersion.replace(/^v/, '');
    const described = { node: deps.nodeName, runtime: runtimeName, version };
    if (runtimeName === 'cri-o') {
      const [tables, access] = await Promise.all([readCrioConfig(criAddress), deps.crio?.()]);
      return { ...described, restore: crioRestore(tables), criu: await criuVersion(access?.runc.options.path) };
    }
    if (runtimeName === 'containerd') {
      // containerd's runc inherits containerd's PATH, which this worker cannot read: its own PATH is asked.
      return { ...described, restore: containerdRestore(await runtime.statusInfo()), criu: await criuVersion(undefined) };
    }
    return {
      ...described,
      restore: { enabled: false, setting: 'none known to podferry', reason: `podferry restores only on containerd and CRI-O, not on ${runtimeName}` },
      criu: await criuVersion(undefined),
    };
  }
  return { describeRuntime };
}

export type RuntimeDescriptionActivities = ReturnType<typeof createRuntimeDescriptionActivities>;
