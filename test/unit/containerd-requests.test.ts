import { describe, expect, test } from '@jest/globals';
import { encodeContainerIdRequest } from '../../src/node/containerd-tasks.js';

describe('hand-encoded containerd/CRI requests', () => {
  test('PauseTaskRequest{container_id} is field 1, length-delimited', () => {
    expect([...encodeContainerIdRequest('abc')]).toEqual([0x0a, 3, 0x61, 0x62, 0x63]);
  });

  test('lengths of 128 and more use a multi-byte varint', () => {
    const id = 'x'.repeat(200);
    const bytes = encodeContainerIdRequest(id);
    expect([...bytes.subarray(0, 3)]).toEqual([0x0a, 0xc8, 0x01]);
    expect(bytes.subarray(3).toString()).toBe(id);
  });
});
