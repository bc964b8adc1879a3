// Makes a real checkpoint-shaped archive with the system tar: the files a kubelet checkpoint holds at its
// root (config.dump, spec.dump, checkpoint/ with CRIU images), with random "memory" pages of a given size.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';

/** The kubelet checkpoint directory of this test process: archives are made here unless a test says otherwise. */
export const TEST_CHECKPOINT_DIR = mkdtempSync(path.join(tmpdir(), 'podferry-checkpoints-'));
/** What a node worker configured with that directory may push or serve. */
export const testArchives = () => new CheckpointArchives({ hostRoot: '/', checkpointDir: TEST_CHECKPOINT_DIR });
let made = 0;

export function makeCheckpointArchive(options: { container: string; pagesBytes: number; dir?: string; name?: string }): string {
  const work = mkdtempSync(path.join(tmpdir(), 'podferry-archive-'));
  const root = path.join(work, 'root');
  mkdirSync(path.join(root, 'checkpoint'), { recursive: true });
  writeFileSync(path.join(root, 'config.dump'), JSON.stringify({ id: 'c0ffee', name: options.container, rootfsImageRef: 'sample:lab' }));
  writeFileSync(path.join(root, 'spec.dump'), JSON.stringify({ ociVersion: '1.2.0', process: { args: [options.container] } }));
  writeFileSync(path.join(root, 'status.dump'), '{}');
  writeFileSync(path.join(root, 'checkpoint', 'inventory.img'), randomBytes(64));
  writeFileSync(path.join(root, 'checkpoint', 'pages-1.img'), randomBytes(options.pagesBytes));
  const second = String(made++ % 60).padStart(2, '0');
  const out = path.join(options.dir ?? TEST_CHECKPOINT_DIR, options.name ?? `checkpoint-sample_default-${options.container}-2026-11-28T12:00:${second}Z.tar`);
  execFileSync('tar', ['-cf', out, '-C', root, 'config.dump', 'spec.dump', 'status.dump', 'checkpoint']);
  return out;
}
