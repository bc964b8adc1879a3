// The source side of a node-to-node transfer when the target gives up (a cancelled import): the checkpoint
// server stops streaming and closes the archive file instead of keeping it open, paused, for good. (The
// layout stream's pipe, streamx's, destroys it when the response closes early; this guards that.)
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { CheckpointServer } from '../../src/node/checkpoint-server.js';
import { imageReference, migrationCheckpointImage } from '../../src/oci/checkpoint-image.js';
import { closedWithin, isOpenHere } from './open-files.js';

let server: CheckpointServer;

beforeAll(async () => {
  server = new CheckpointServer({ host: '127.0.0.1', port: 0, advertiseHost: '127.0.0.1' });
  await server.start(); // unref'd: it never keeps the test process alive
});

describe('checkpoint server', () => {
  test('a client that goes away mid-stream makes the server close the archive file', async () => {
    const archive = path.join(mkdtempSync(path.join(tmpdir(), 'podferry-serve-')), 'checkpoint.tar');
    const bytes = Buffer.alloc(64 * 1024 * 1024, 7); // far more than the socket buffers hold
    writeFileSync(archive, bytes);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const image = migrationCheckpointImage({ migrationId: 'm1', container: 'counter' }, { digest, size: bytes.length });
    const url = server.offer(image, imageReference('127.0.0.1:5000', 'podferry/checkpoints', image.manifest.digest), archive);

    const response = await new Promise<IncomingMessage>((resolve, reject) => get(url, resolve).on('error', reject));
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => response.once('data', resolve)); // the stream is under way
    response.pause();
    expect(isOpenHere(archive)).toBe(true);

    response.destroy();
    expect(await closedWithin(archive, 5_000)).toBe(true);
  });
});
