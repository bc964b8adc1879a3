// The vendored, trimmed .proto files must put every field podferry sends or reads at upstream's number:
// requests are checked byte for byte, responses are decoded from bytes laid out as upstream sends them
// (fields the trimmed files leave out included, in any order).
import { describe, expect, test } from '@jest/globals';
import { IMAGE_SERVICE, TASKS } from '../../src/node/proto/services.js';

/** One length-delimited field (wire type 2); lengths below 128 only. */
function message(field: number, content: Buffer | string): Buffer {
  const bytes = Buffer.from(content);
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

/** One varint field (wire type 0); values below 128 only. */
function varint(field: number, value: number): Buffer {
  return Buffer.from([field << 3, value]);
}

describe('containerd Tasks requests and responses', () => {
  test('PauseTaskRequest and ResumeTaskRequest carry container_id as field 1', () => {
    expect([...TASKS.pause.requestSerialize({ containerId: 'abc' })]).toEqual([0x0a, 3, 0x61, 0x62, 0x63]);
    expect([...TASKS.resume.requestSerialize({ containerId: 'abc' })]).toEqual([0x0a, 3, 0x61, 0x62, 0x63]);
    expect(TASKS.pause.path).toBe('/containerd.services.tasks.v1.Tasks/Pause');
    expect(TASKS.resume.path).toBe('/containerd.services.tasks.v1.Tasks/Resume');
  });

  test('an id of 128 bytes or more gets a multi-byte length', () => {
    const id = 'x'.repeat(200);
    const bytes = TASKS.get.requestSerialize({ containerId: id });
    expect([...bytes.subarray(0, 3)]).toEqual([0x0a, 0xc8, 0x01]);
    expect(bytes.subarray(3).toString()).toBe(id);
    expect(TASKS.get.path).toBe('/containerd.services.tasks.v1.Tasks/Get');
  });

  test('GetResponse: the process status (field 4 of Process) is found after fields the trimmed file leaves out', () => {
    // Process { status = 4: PAUSED (4), container_id = 1, pid = 3, exit_status = 9 }, status first.
    const process = Buffer.concat([varint(4, 4), message(1, 'abc'), varint(3, 42), varint(9, 0)]);
    expect(TASKS.get.responseDeserialize(message(1, process))).toEqual({ process: { status: 'PAUSED' } });
    const laterStatus = Buffer.concat([message(1, 'abc'), message(2, 'exec'), varint(3, 42), varint(4, 2)]);
    expect(TASKS.get.responseDeserialize(message(1, laterStatus))).toEqual({ process: { status: 'RUNNING' } });
  });
});

describe('CRI ImageService requests and responses', () => {
  test('PullImage, ImageStatus and RemoveImage requests: ImageSpec (field 1) with its image (field 1)', () => {
    const expected = [0x0a, 5, 0x0a, 3, 0x61, 0x3a, 0x31]; // { image { image: "a:1" } }
    for (const method of Object.values(IMAGE_SERVICE)) expect([...method.requestSerialize({ image: { image: 'a:1' } })]).toEqual(expected);
    expect(Object.values(IMAGE_SERVICE).map((method) => method.path)).toEqual([
      '/runtime.v1.ImageService/ImageStatus',
      '/runtime.v1.ImageService/PullImage',
      '/runtime.v1.ImageService/RemoveImage',
    ]);
  });

  test('ImageStatusResponse: info (field 2) before image (field 1), and repo_tags (2) and size (4) before id (1)', () => {
    const image = Buffer.concat([message(2, 'a:1'), varint(4, 100), message(1, 'sha256:abc'), message(3, 'a@sha256:def')]);
    const info = message(2, Buffer.concat([message(1, 'info'), message(2, '{}')]));
    expect(IMAGE_SERVICE.imageStatus.responseDeserialize(Buffer.concat([info, message(1, image)]))).toEqual({ image: { id: 'sha256:abc' } });
  });

  test('ImageStatusResponse without an image (the runtime does not have it) decodes to image null', () => {
    expect(IMAGE_SERVICE.imageStatus.responseDeserialize(Buffer.alloc(0))).toEqual({ image: null });
  });

  test('PullImageResponse: image_ref is field 1', () => {
    expect(IMAGE_SERVICE.pullImage.responseDeserialize(message(1, 'sha256:abc'))).toEqual({ imageRef: 'sha256:abc' });
  });
});
