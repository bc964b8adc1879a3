// The source side of a node-to-node transfer, over real mutual TLS with node identities issued by a real
// transfer CA (made with openssl, as the lab makes it): an offer is served only to the node it was made
// for, once; peers without the CA's certificate do not get past the handshake; the receiving side accepts
// only the node that offered. And when the target gives up (a cancelled import), the server stops
// streaming and closes the archive file instead of keeping it open, paused, for good.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { CheckpointServer, fetchOffer } from '../../src/node/checkpoint-server.js';
import { issueNodeCertificate, NodeCredentials, nodeIdentity, readTransferCa, type NodeTlsMaterial } from '../../src/node/node-identity.js';
import { imageReference, migrationCheckpointImage } from '../../src/oci/checkpoint-image.js';
import { closedWithin, openWithin } from './open-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'podferry-serve-'));
let server: CheckpointServer;
let source: NodeTlsMaterial;
let target: NodeTlsMaterial;
let otherNode: NodeTlsMaterial;
let foreign: NodeTlsMaterial;

function makeCa(name: string): { caFile: string; caKeyFile: string } {
  const caFile = path.join(dir, `${name}.crt`);
  const caKeyFile = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKeyFile, '-out', caFile, '-days', '1', '-subj', `/CN=${name}`], { stdio: 'ignore' });
  return { caFile, caKeyFile };
}

function archive(name: string, bytes: Buffer) {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const image = migrationCheckpointImage({ migrationId: 'm1', container: name }, { digest, size: bytes.length });
  return { file, image, ref: imageReference('127.0.0.1:5000', 'podferry/checkpoints', image.manifest.digest) };
}

function offerTo(receiver: string, name = 'counter', bytes = Buffer.from('checkpoint bytes')): string {
  const a = archive(name, bytes);
  return server.offer(a.image, a.ref, a.file, receiver);
}

async function body(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  const ca = readTransferCa(makeCa('transfer-ca'));
  const credentials = await NodeCredentials.start(ca, 'lab-a', 'lab-a-node');
  source = credentials.current();
  target = await issueNodeCertificate(ca, 'lab-b', 'lab-b-node');
  otherNode = await issueNodeCertificate(ca, 'lab-a', 'lab-a-node2');
  foreign = await issueNodeCertificate(readTransferCa(makeCa('another-ca')), 'lab-b', 'lab-b-node');
  server = new CheckpointServer({ host: '127.0.0.1', port: 0, advertiseHost: '127.0.0.1' }, credentials);
  await server.start(); // unref'd: it never keeps the test process alive
});

describe('checkpoint server over mutual TLS', () => {
  test('the node an offer was made for gets the image as an OCI layout, once', async () => {
    const url = offerTo(target.identity);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/checkpoints\/[A-Za-z0-9_-]{32}$/);
    const first = await fetchOffer(url, target, source.identity);
    expect(first.statusCode).toBe(200);
    expect((await body(first)).includes(Buffer.from('checkpoint bytes'))).toBe(true);
    const again = await fetchOffer(url, target, source.identity);
    expect(again.statusCode).toBe(404); // one-shot: revoked by the first transfer
    again.resume();
  });

  test('another node of the same CA gets nothing, and the offer stays for its receiver', async () => {
    const url = offerTo(target.identity);
    const stolen = await fetchOffer(url, otherNode, source.identity);
    expect(stolen.statusCode).toBe(404);
    stolen.resume();
    const received = await fetchOffer(url, target, source.identity);
    expect(received.statusCode).toBe(200);
    received.resume();
  });

  test('a client without a certificate, or with one of another CA, fails the handshake', async () => {
    const url = offerTo(target.identity);
    const anonymous = new Promise<IncomingMessage>((resolve, reject) => get(url, { ca: source.ca, agent: false }, resolve).on('error', reject));
    await expect(anonymous.then((r) => body(r))).rejects.toThrow();
    await expect(fetchOffer(url, foreign, source.identity)).rejects.toThrow();
    const received = await fetchOffer(url, target, source.identity);
    expect(received.statusCode).toBe(200);
    received.resume();
  });

  test('the receiver refuses a server that is not the node that offered', async () => {
    const url = offerTo(target.identity);
    await expect(fetchOffer(url, target, nodeIdentity('lab-a', 'lab-a-node2'))).rejects.toThrow(
      'the checkpoint server is spiffe://podferry/node/lab-a/lab-a-node, not spiffe://podferry/node/lab-a/lab-a-node2',
    );
  });

  test('a client that goes away mid-stream makes the server close the archive file', async () => {
    const bytes = Buffer.alloc(64 * 1024 * 1024, 7); // far more than the socket buffers hold
    const url = offerTo(target.identity, 'big', bytes);
    const response = await fetchOffer(url, target, source.identity);
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => response.once('data', resolve)); // the stream is under way
    response.pause();
    const file = path.join(dir, 'big');
    expect(await openWithin(file, 5_000)).toBe(true); // the layout's small entries come first, then the archive

    response.destroy();
    expect(await closedWithin(file, 5_000)).toBe(true);
  });
});
