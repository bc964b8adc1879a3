// What a node's worker says about its runtime's ability to restore (the node activity describeRuntime): the
// runtime's own answer, not the kubelet's report, read before anything is frozen. Zod schemas are the single
// source of these types. Pure: safe inside the workflow sandbox.
import { z } from 'zod';

export const RuntimeDescription = z.object({
  node: z.string(),
  /** As CRI Version names it: 'containerd', 'cri-o'. */
  runtime: z.string(),
  /** The runtime's release, without a leading v ('2.3.7', '1.34.0'). */
  version: z.string(),
  /** Whether the runtime restores a container from a checkpoint image at CreateContainer, by its running configuration. */
  restore: z.object({
    enabled: z.boolean(),
    /** The setting that decides it, as the runtime's configuration file spells it (what to change when it is off). */
    setting: z.string(),
    /** Why it is off, or why it could not be read (then enabled is false too). */
    reason: z.string().optional(),
  }),
  /** The CRIU the runtime's runc runs (`criu --version` with the runtime's PATH); version absent when it could not be run. */
  criu: z.object({ binary: z.string(), version: z.string().optional(), error: z.string().optional() }),
});
export type RuntimeDescription = z.infer<typeof RuntimeDescription>;
