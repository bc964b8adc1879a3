// Whether a runtime's running configuration lets it restore a container from a checkpoint image at
// CreateContainer, and which setting decides it. Pure: unit-tested. The release (containerd 2.1-2.3 only) is
// judged by the plan (src/planning/restore-support.ts); this reads only what the configuration says.
import type { RuntimeDescription } from '../api/runtime-description.js';

export type RestoreSetting = RuntimeDescription['restore'];

const CONTAINERD_RESTORE = '[plugins."io.containerd.cri.v1.runtime"] enable_experimental_restore_via_create = true (and enable_criu not false)';

/**
 * containerd 2.x, from its CRI configuration as CRI Status (verbose) gives it under `config` (JSON, the CRI
 * plugin's config): restore needs enableExperimentalRestoreViaCreate (off by default from 2.3.4; gone in 2.4)
 * and enableCRIU not false (read in containerd v2.3.7's internal/cri/config/config.go and
 * internal/cri/server/container_checkpoint_linux.go).
 */
export function containerdRestore(info: Record<string, string>): RestoreSetting {
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(info.config ?? '') as Record<string, unknown>;
  } catch {
    return { enabled: false, setting: CONTAINERD_RESTORE, reason: 'containerd gave no CRI configuration in its verbose status (info.config)' };
  }
  if (config.enableCRIU === false) return { enabled: false, setting: CONTAINERD_RESTORE, reason: 'enable_criu is false' };
  if (!('enableExperimentalRestoreViaCreate' in config)) {
    return { enabled: false, setting: CONTAINERD_RESTORE, reason: 'its CRI configuration has no enable_experimental_restore_via_create (only containerd 2.1 to 2.3 have it)' };
  }
  return config.enableExperimentalRestoreViaCreate === true
    ? { enabled: true, setting: CONTAINERD_RESTORE }
    : { enabled: false, setting: CONTAINERD_RESTORE, reason: 'enable_experimental_restore_via_create is false (the default from 2.3.4)' };
}

/**
 * CRI-O, from its running configuration (GET /config): restore needs `[crio.runtime] enable_criu_support`
 * (on by default in v1.34.0, which turns it off itself when CRIU is not on its PATH: server/container_create.go
 * and pkg/config/config.go of v1.34.0) and, in the releases that have the table, `[crio.checkpoint_restore]
 * container_level_enabled = "checkpoint_restore"` (later 1.34 patch releases default it to "checkpoint_only",
 * by their release notes; not run here: lab-c runs v1.34.0, which has no such table).
 */
export function crioRestore(tables: Map<string, Record<string, unknown>>): RestoreSetting {
  const levels = tables.get('crio.checkpoint_restore');
  if (levels && 'container_level_enabled' in levels) {
    const setting = '[crio.checkpoint_restore] container_level_enabled = "checkpoint_restore"';
    const level = levels.container_level_enabled;
    if (level !== 'checkpoint_restore') return { enabled: false, setting, reason: `container_level_enabled is ${JSON.stringify(level)}` };
  }
  const setting = '[crio.runtime] enable_criu_support = true (with CRIU on CRI-O\'s PATH)';
  const enabled = tables.get('crio.runtime')?.enable_criu_support;
  return enabled === true
    ? { enabled: true, setting }
    : { enabled: false, setting, reason: `enable_criu_support is ${JSON.stringify(enabled ?? 'not set')} (CRI-O turns it off when it finds no CRIU on its PATH)` };
}
