// A StatefulSet's ordinals split between the source's StatefulSet and the target's when one of its pods moves to
// another cluster: which ordinal may leave, how both ranges change, and what is refused with which reason.
import { describe, expect, test } from '@jest/globals';
import { podOrdinal, splitOrdinals } from '../../src/planning/statefulset-split.js';
import { REVISION, STATEFULSET, statefulSet } from '../fixtures/statefulset.js';

const ref = `pod default/${STATEFULSET}-k in cluster lab-a`;
const at = 'lab-b/default';
/** web with ordinals [start, start + replicas). */
const ranged = (start: number, replicas: number, revision = REVISION) =>
  statefulSet({ spec: { replicas, ...(start ? { ordinals: { start } } : {}) }, status: { updateRevision: revision, currentRevision: revision } });

describe('podOrdinal', () => {
  test.each([
    ['web-0', 0],
    ['web-12', 12],
    ['web-01', undefined],
    ['web-x', undefined],
    ['webby-1', undefined],
    ['web-', undefined],
  ])('%s of StatefulSet web: %s', (name, ordinal) => {
    expect(podOrdinal(name, 'web')).toBe(ordinal);
  });
});

describe('splitOrdinals', () => {
  test('the highest ordinal leaves by scaling the source down; a missing target StatefulSet is made at that ordinal', () => {
    expect(splitOrdinals(ranged(0, 3), undefined, 2, ref, at)).toEqual({
      ordinal: 2,
      source: { before: { start: 0, replicas: 3 }, after: { start: 0, replicas: 2 } },
      target: { exists: false, before: { start: 2, replicas: 0 }, after: { start: 2, replicas: 1 } },
    });
  });

  test('the lowest ordinal leaves by moving the start up; the target, running the ordinals below, extends its range upwards', () => {
    expect(splitOrdinals(ranged(1, 2), ranged(0, 1), 1, ref, at)).toMatchObject({
      source: { after: { start: 2, replicas: 1 } },
      target: { exists: true, before: { start: 0, replicas: 1 }, after: { start: 0, replicas: 2 } },
    });
  });

  test('the highest ordinal joins a target running the ordinals above by extending its range downwards; a target running none starts at it', () => {
    expect(splitOrdinals(ranged(0, 3), ranged(3, 2), 2, ref, at)).toMatchObject({ source: { after: { start: 0, replicas: 2 } }, target: { after: { start: 2, replicas: 3 } } });
    expect(splitOrdinals(ranged(0, 1), ranged(5, 0), 0, ref, at)).toMatchObject({ source: { after: { start: 0, replicas: 0 } }, target: { after: { start: 0, replicas: 1 } } });
  });

  test('MiddleOrdinal: a middle ordinal cannot leave a contiguous range', () => {
    expect(splitOrdinals(ranged(0, 3), undefined, 1, ref, at)).toEqual({
      refused: {
        type: 'MiddleOrdinal',
        message:
          `${ref} is ordinal 1 of StatefulSet ${STATEFULSET}, which runs ordinals 0–2: a StatefulSet runs a contiguous range, so only its lowest (0) or highest (2) ordinal can leave it; ` +
          'move those first, or move this pod to another node of its cluster',
      },
    });
  });

  test('TargetOrdinalsNotAdjacent: the target runs a range the ordinal does not extend', () => {
    const refusal = splitOrdinals(ranged(0, 3), ranged(5, 2), 2, ref, at);
    expect(refusal).toEqual({ refused: expect.objectContaining({ type: 'TargetOrdinalsNotAdjacent' }) });
    expect(JSON.stringify(refusal)).toContain(`StatefulSet ${STATEFULSET} in ${at} runs ordinals 5–6, which ordinal 2 does not extend`);
  });

  test('TargetStatefulSetDiffers: a target of another revision has another template', () => {
    const refusal = splitOrdinals(ranged(0, 2), ranged(2, 1, `${STATEFULSET}-85d4f9b7c`), 1, ref, at);
    expect(refusal).toEqual({ refused: expect.objectContaining({ type: 'TargetStatefulSetDiffers' }) });
    expect(JSON.stringify(refusal)).toContain(`is of revision ${STATEFULSET}-85d4f9b7c, the source's of ${REVISION}`);
  });
});
