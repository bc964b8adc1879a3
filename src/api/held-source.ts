// Resuming a source a failed migration left frozen on purpose (`podferry resume <migration-id>`). When the
// target pod could not be proven stopped, the migration keeps the source frozen and locked rather than risk
// two copies; once an operator has made sure the target is gone, this resumes the source. Zod schemas are the
// single source of these types. Pure: safe inside the workflow sandbox.
import { z } from 'zod';
import { MigrationId } from './migration.js';

export const ResumeSourceInput = z
  .object({
    /** The failed migration's id (its workflow id): the source pod carries it in its lock annotation. */
    migrationId: MigrationId,
  })
  .strict();
export type ResumeSourceInput = z.infer<typeof ResumeSourceInput>;
export type ResumeSourceRequest = z.input<typeof ResumeSourceInput>;

/** A pod as the resume finds it: the held source, or a target pod the migration created. */
export const HeldPod = z.object({
  cluster: z.string(),
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  node: z.string().optional(),
  /** Runtime container ids (`containerd://…`), for the node worker's thaw. */
  containerIds: z.array(z.string()),
  /** Set when the pod is being deleted (a target still stopping). */
  terminating: z.boolean(),
  /**
   * A source on a Liqo virtual node: the pod Liqo runs for it in the provider, which was frozen and is thawed
   * (found by the lock annotation Liqo copies to it).
   */
  runsAt: z
    .object({ cluster: z.string(), namespace: z.string(), uid: z.string(), node: z.string().optional(), containerIds: z.array(z.string()) })
    .optional(),
});
export type HeldPod = z.infer<typeof HeldPod>;

export const HeldMigration = z.object({
  /** The pod holding the migration's lock (the frozen source), if any. */
  source: HeldPod.optional(),
  /** Pods the migration created (its target), in any configured cluster. */
  targets: z.array(HeldPod),
});
export type HeldMigration = z.infer<typeof HeldMigration>;

export const ResumedSource = z.object({
  migrationId: z.string(),
  source: HeldPod,
  /** False when the node found no frozen cgroup for the pod (it had already been thawed). */
  thawed: z.boolean(),
  lockReleased: z.boolean(),
});
export type ResumedSource = z.infer<typeof ResumedSource>;

/** The workflow id of the resume of one migration's source: one at a time. */
export function resumeWorkflowId(migrationId: string): string {
  return `resume-${migrationId}`;
}

/**
 * The fence of an operator's resume: above any a migration hands out (one per decision, a handful per run), so
 * a late call of the failed migration can never undo the resume.
 */
export const RESUME_FENCE = 1_000_000;
