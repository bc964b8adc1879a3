// Whether a pod can move post-copy (options.mode: postcopy): the target restores without the memory and pulls the
// pages from the frozen source while it runs (docs/postcopy.md). What it needs, and what it is not built for yet,
// refused at plan time with what to do instead. Pure: unit-tested.
import type { MigrationStrategy } from '../api/migration.js';
import type { PlanMigrationInput } from '../api/migration-plan.js';
import type { Refusal } from '../kubernetes/eligibility.js';

export interface PostCopyPlanFacts {
  strategy: MigrationStrategy;
  /** The source containers' runtime (from their container ids). */
  runtime: string;
  /** A ReplicaSet or StatefulSet controls the pod. */
  owned: boolean;
  /** Either side is a Liqo virtual node. */
  offloaded: boolean;
}

const TYPE = 'PostCopyUnsupported';
const INSTEAD = 'or move it stop-and-copy (options.mode: stop-and-copy, the default)';

export function postCopyRefusal(request: PlanMigrationInput, facts: PostCopyPlanFacts): Refusal | undefined {
  if (request.mode !== 'postcopy') return undefined;
  const refuse = (why: string): Refusal => ({ type: TYPE, message: `post-copy: ${why}` });
  if (request.checkpointVia === 'kubelet') {
    return refuse(`the kubelet's checkpoint writes the whole memory and cannot be lazy: use options.checkpointVia: runtime (the default), ${INSTEAD}`);
  }
  if (facts.runtime !== 'containerd') {
    return refuse(`built for containerd nodes only; the pod runs on ${facts.runtime || 'an unknown runtime'} (docs/postcopy.md says what CRI-O lacks): ${INSTEAD}`);
  }
  if (!request.target.node) {
    return refuse(`name the target node (target.node): its node worker receives the checkpoint images and pulls the pages from the source, ${INSTEAD}`);
  }
  if (facts.strategy !== 'CreateThenDelete') {
    return refuse(
      `the target is in the source's own cluster and namespace, where the source must be deleted before the target exists (its name), while post-copy keeps the ` +
        `source until every page has reached the target: move it to another namespace or cluster, ${INSTEAD}`,
    );
  }
  if (facts.owned) return refuse(`moves standalone pods only for now; this pod has a ReplicaSet or StatefulSet: ${INSTEAD}`);
  if (facts.offloaded) return refuse(`not built for Liqo virtual nodes yet: name a real node of the target cluster, ${INSTEAD}`);
  return undefined;
}
