// What the node's checkpoint file writers (CRI-O's archive, containerd's archive, post-copy's files) share: tar runs,
// 0600 JSON files, whether a file is there, and the overlay whiteouts of a container's writable layer.
import { execFile } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { access, lstat, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function tar(args: string[], signal?: AbortSignal): Promise<void> {
  await run('tar', args, { signal, maxBuffer: 16 << 20 }).catch((err: { stderr?: string; message: string }) => {
    if (signal?.aborted) throw signal.reason;
    throw new Error(`tar ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  });
}

export function writeJson(file: string, value: unknown): Promise<void> {
  return writeFile(file, JSON.stringify(value), { mode: 0o600 });
}

export function fileExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** overlay's whiteouts (0/0 character devices) in the upper directory: files the container deleted, relative paths. */
export async function findWhiteouts(upper: string, relative = ''): Promise<string[]> {
  const found: string[] = [];
  const entries: Dirent[] = await readdir(path.join(upper, relative), { withFileTypes: true });
  for (const entry of entries) {
    const name = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...(await findWhiteouts(upper, name)));
    else if (entry.isCharacterDevice() && (await lstat(path.join(upper, name))).rdev === 0) found.push(name);
  }
  return found;
}
