// A StatefulSet's pod moving to another cluster (or namespace): the StatefulSet's ordinals are split between the
// source's StatefulSet and one of the same name at the target, each running a contiguous range
// [spec.ordinals.start, start + replicas). Decided from what planMigration read. Pure: unit-tested without a cluster.
//
// Why (measured on the lab, issue 16): a StatefulSet runs exactly the ordinals of its range and deletes a pod of
// its own outside it. So only an end of the source's range can leave it (the highest: replicas − 1; the lowest:
// start + 1 and replicas − 1); a middle ordinal cannot. The target's range must take the ordinal in at one of its
// ends (or start at it when empty). The restored pod, created under the ordinal's name without the selector's
// labels, holds the name: once the target's range includes it, the target's own create of that name fails on
// the existing pod, and relabelling the pod lets the target adopt it. Revisions are the same in both clusters
// for the same template, so a target StatefulSet of another revision has another template: refused.
import type { V1StatefulSet } from '@kubernetes/client-node';
import type { OrdinalRange, OrdinalSplit } from '../api/migration-plan.js';
import type { Refusal } from '../kubernetes/eligibility.js';

export function ordinalRange(statefulSet: V1StatefulSet): OrdinalRange {
  return { start: statefulSet.spec?.ordinals?.start ?? 0, replicas: statefulSet.spec?.replicas ?? 1 };
}

/** The ordinal of a StatefulSet's pod from its name (`<statefulset>-<ordinal>`), or undefined. */
export function podOrdinal(podName: string, statefulSetName: string): number | undefined {
  const suffix = podName.startsWith(`${statefulSetName}-`) ? podName.slice(statefulSetName.length + 1) : '';
  return /^(0|[1-9][0-9]*)$/.test(suffix) ? Number(suffix) : undefined;
}

/** The revision hash of a StatefulSet's current template (its update revision is `<name>-<hash>`). */
function templateHash(statefulSet: V1StatefulSet): string | undefined {
  const revision = statefulSet.status?.updateRevision;
  const prefix = `${statefulSet.metadata?.name}-`;
  return revision?.startsWith(prefix) ? revision.slice(prefix.length) : undefined;
}

/** A range as the messages say it: ordinals 0–2, ordinal 2, no ordinals. */
export const describeRange = (r: OrdinalRange) => (r.replicas === 0 ? 'no ordinals' : r.replicas === 1 ? `ordinal ${r.start}` : `ordinals ${r.start}–${r.start + r.replicas - 1}`);

/**
 * How the two StatefulSets' ranges change when the pod of `ordinal` moves, or why it cannot: a middle ordinal of
 * the source, a target StatefulSet of another template, or a target range the ordinal is not next to.
 * `ref` names the pod, `at` the target cluster and namespace, for the messages.
 */
export function splitOrdinals(source: V1StatefulSet, target: V1StatefulSet | undefined, ordinal: number, ref: string, at: string): OrdinalSplit | { refused: Refusal } {
  const name = source.metadata?.name ?? '';
  const from = ordinalRange(source);
  const last = from.start + from.replicas - 1;
  let sourceAfter: OrdinalRange;
  if (ordinal === last) sourceAfter = { start: from.start, replicas: from.replicas - 1 };
  else if (ordinal === from.start) sourceAfter = { start: from.start + 1, replicas: from.replicas - 1 };
  else {
    return {
      refused: {
        type: 'MiddleOrdinal',
        message:
          `${ref} is ordinal ${ordinal} of StatefulSet ${name}, which runs ${describeRange(from)}: a StatefulSet runs a contiguous range, so only its lowest (${from.start}) or ` +
          `highest (${last}) ordinal can leave it; move those first, or move this pod to another node of its cluster`,
      },
    };
  }
  if (!target) {
    const before = { start: ordinal, replicas: 0 };
    return { ordinal, source: { before: from, after: sourceAfter }, target: { exists: false, before, after: { start: ordinal, replicas: 1 } } };
  }
  if (templateHash(target) === undefined || templateHash(target) !== templateHash(source)) {
    return {
      refused: {
        type: 'TargetStatefulSetDiffers',
        message:
          `StatefulSet ${name} in ${at} is of revision ${target.status?.updateRevision ?? '(none)'}, the source's of ${source.status?.updateRevision ?? '(none)'}: their pod templates differ, ` +
          `so it would not keep the restored pod; make its template the source's (or delete it, and podferry creates it), then retry`,
      },
    };
  }
  const to = ordinalRange(target);
  const after =
    to.replicas === 0
      ? { start: ordinal, replicas: 1 }
      : ordinal === to.start - 1
        ? { start: ordinal, replicas: to.replicas + 1 }
        : ordinal === to.start + to.replicas
          ? { start: to.start, replicas: to.replicas + 1 }
          : undefined;
  if (!after) {
    return {
      refused: {
        type: 'TargetOrdinalsNotAdjacent',
        message:
          `StatefulSet ${name} in ${at} runs ${describeRange(to)}, which ordinal ${ordinal} does not extend (a StatefulSet runs a contiguous range): ` +
          `move the ordinals between them first`,
      },
    };
  }
  return { ordinal, source: { before: from, after: sourceAfter }, target: { exists: true, before: to, after } };
}
