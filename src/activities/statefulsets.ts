// Activities that change StatefulSets through a cluster's API server, for a StatefulSet's pod moving to another
// cluster or namespace (plan.statefulSetMove): make the target's StatefulSet ready to take the ordinal over, delete
// it again on rollback, and move a StatefulSet's range of ordinals.
// Idempotent: the target StatefulSet is created-or-got and deleted only while it is this migration's and has no
// replicas; a range is changed only from the one planned (conditional on the resourceVersion read), and one already
// changed is left as it is, so a retry (after a worker crash, say) never changes it twice.
import { ApplicationFailure } from '@temporalio/common';
import type { OrdinalRange } from '../api/migration-plan.js';
import { apiStatus, ignore404, type Clusters } from '../kubernetes/clusters.js';
import { deleteMadeOwnerWhileEmpty, madeBy, readOrCreateTargetOwner, type OwnerRef } from '../kubernetes/made-owner.js';
import { buildTargetStatefulSet } from '../kubernetes/target-owner.js';
import { describeRange, ordinalRange } from '../planning/statefulset-split.js';
import { heartbeatIfActive, sleep } from './context.js';

export interface StatefulSetActivityDeps {
  clusters: Clusters;
  /** Poll interval while waiting for the StatefulSet controller (ms); tests shorten it. */
  pollIntervalMs?: number;
}

/** One StatefulSet by name, and the incarnation meant (uid). */
export type StatefulSetRef = OwnerRef;

export interface TargetStatefulSetInput {
  migrationId: string;
  /** The source pod's StatefulSet: its spec and labels are copied when the target namespace has none of its name. */
  source: StatefulSetRef;
  target: { cluster: string; namespace: string };
  /** The ordinal that moves: a StatefulSet made here starts its (empty) range at it. */
  ordinal: number;
  /** The range the plan found at the target (or the one a StatefulSet made here has): anything else changed since. */
  range: OrdinalRange;
  /** The source's update revision (`<name>-<hash>`), which the target's must reach for it to keep the restored pod. */
  revision: string;
  timeoutSeconds: number;
}

/** The target's StatefulSet, of the source's revision. */
export interface PreparedStatefulSet {
  uid: string;
  /** This migration created it (the rollback deletes it while it has no replicas). */
  created: boolean;
}

export function createStatefulSetActivities(deps: StatefulSetActivityDeps) {
  const { clusters } = deps;
  const pollIntervalMs = deps.pollIntervalMs ?? 250;

  /**
   * Makes sure the target namespace has the StatefulSet (created from the source's, with an empty range at the
   * ordinal, when missing) with the range planned, then waits until its controller has observed it and its update
   * revision is the source's (else TargetStatefulSetDiffers: it would not keep the restored pod).
   */
  async function prepareTargetStatefulSet(input: TargetStatefulSetInput): Promise<PreparedStatefulSet> {
    const { source, target } = input;
    const apps = clusters.apps(target.cluster);
    const at = `StatefulSet ${target.namespace}/${source.name} in cluster ${target.cluster}`;
    const read = () => apps.readNamespacedStatefulSet({ name: source.name, namespace: target.namespace });
    const statefulSet = await readOrCreateTargetOwner('StatefulSet', source, target.cluster, {
      readTarget: () => ignore404(read()),
      readSource: () => ignore404(clusters.apps(source.cluster).readNamespacedStatefulSet({ name: source.name, namespace: source.namespace })),
      build: (original) => buildTargetStatefulSet({ source: original, sourceCluster: source.cluster, targetNamespace: target.namespace, migrationId: input.migrationId, ordinal: input.ordinal }),
      create: (body) => apps.createNamespacedStatefulSet({ namespace: target.namespace, body }),
    });
    const created = madeBy(statefulSet, input.migrationId);
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    let last = 'not read yet';
    while (Date.now() < deadline) {
      const current = await read();
      const range = ordinalRange(current);
      if (range.start !== input.range.start || range.replicas !== input.range.replicas) {
        throw ApplicationFailure.nonRetryable(
          `${at} runs ${describeRange(range)}, the plan found ${describeRange(input.range)}: it changed since (another migration into it?), so ordinal ${input.ordinal} ` +
            'may no longer join its range; retry',
          'TargetStatefulSetChanged',
        );
      }
      const [observed, generation] = [current.status?.observedGeneration ?? 0, current.metadata?.generation ?? 1];
      if (observed >= generation && current.status?.updateRevision) {
        if (current.status.updateRevision === input.revision) return { uid: current.metadata!.uid!, created };
        throw ApplicationFailure.nonRetryable(
          `${at} is of revision ${current.status.updateRevision}, the source's of ${input.revision}: their pod templates differ, so it would not keep the moved pod; ` +
            "make its template the source's (or delete it, and podferry makes one), then retry",
          'TargetStatefulSetDiffers',
        );
      }
      last = observed < generation ? `its controller has observed generation ${observed} of ${generation}` : 'it has no update revision yet';
      heartbeatIfActive({ last });
      await sleep(pollIntervalMs);
    }
    throw ApplicationFailure.nonRetryable(`${at} is not of the source's revision ${input.revision} after ${input.timeoutSeconds}s (${last}): is the controller manager running?`, 'TargetStatefulSetNotReady');
  }

  /** The undo of prepareTargetStatefulSet: deletes the target's StatefulSet if this migration created it and it still has no replicas. */
  async function deleteCreatedStatefulSet(input: { migrationId: string; cluster: string; namespace: string; name: string }): Promise<{ deleted: boolean; kept?: string }> {
    const apps = clusters.apps(input.cluster);
    const { name, namespace } = input;
    return deleteMadeOwnerWhileEmpty(
      `StatefulSet ${namespace}/${name} in cluster ${input.cluster}`,
      input.migrationId,
      () => ignore404(apps.readNamespacedStatefulSet({ name, namespace })),
      (body) => apps.deleteNamespacedStatefulSet({ name, namespace, body }),
    );
  }

  /**
   * Moves a StatefulSet's range of ordinals from `from` to `to` (spec.ordinals.start and spec.replicas in one patch,
   * conditional on the resourceVersion read). Already `to`: done, nothing changed. Anything else: someone else
   * changed it, and it is left alone (StatefulSetChanged, saying what it found).
   */
  async function setStatefulSetOrdinals(input: StatefulSetRef & { from: OrdinalRange; to: OrdinalRange }): Promise<{ changed: boolean }> {
    const at = `StatefulSet ${input.namespace}/${input.name} in cluster ${input.cluster}`;
    const apps = clusters.apps(input.cluster);
    const statefulSet = await ignore404(apps.readNamespacedStatefulSet({ name: input.name, namespace: input.namespace }));
    if (statefulSet?.metadata?.uid !== input.uid) {
      throw ApplicationFailure.nonRetryable(`${at} (uid ${input.uid}) is gone or was replaced: its range was not changed to ${describeRange(input.to)}`, 'StatefulSetGone');
    }
    const range = ordinalRange(statefulSet);
    const is = (r: OrdinalRange) => range.start === r.start && range.replicas === r.replicas;
    if (is(input.to)) return { changed: false };
    if (!is(input.from)) {
      throw ApplicationFailure.nonRetryable(
        `${at} runs ${describeRange(range)}, neither ${describeRange(input.from)} (as planned) nor ${describeRange(input.to)} (as the move makes it): someone changed it meanwhile; ` +
          `left alone: set it by hand (spec.ordinals.start ${input.to.start}, spec.replicas ${input.to.replicas}) once you have checked which pods it should run`,
        'StatefulSetChanged',
      );
    }
    try {
      await apps.patchNamespacedStatefulSet({
        name: input.name,
        namespace: input.namespace,
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: statefulSet.metadata?.resourceVersion },
          ...(input.to.start !== range.start ? [{ op: 'add', path: '/spec/ordinals', value: { start: input.to.start } }] : []),
          { op: 'add', path: '/spec/replicas', value: input.to.replicas },
        ],
      });
    } catch (err) {
      const status = apiStatus(err);
      // Changed since the read (a test failed, or a conflict): the retry reads it again.
      if (status === 409 || status === 422) throw ApplicationFailure.retryable(`${at} changed while its range was being set`, 'StatefulSetConflict');
      throw err;
    }
    return { changed: true };
  }

  return { prepareTargetStatefulSet, deleteCreatedStatefulSet, setStatefulSetOrdinals };
}

export type StatefulSetActivities = ReturnType<typeof createStatefulSetActivities>;
