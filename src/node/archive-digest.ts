// The sha256 digest of a checkpoint archive on this node, remembered next to the archive (valid while the
// archive's size and mtime are unchanged), so a retried push or transfer, even by a restarted worker, does
// not hash it again.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';

export function digestMemoPath(archive: string): string {
  return `${archive}.podferry-sha256`;
}

export async function readDigestMemo(archive: string): Promise<string | undefined> {
  try {
    const memo = JSON.parse(await readFile(digestMemoPath(archive), 'utf8')) as { digest: string; size: number; mtimeMs: number };
    const now = await stat(archive);
    return memo.size === now.size && memo.mtimeMs === now.mtimeMs ? memo.digest : undefined;
  } catch {
    return undefined;
  }
}

export async function writeDigestMemo(archive: string, digest: string): Promise<void> {
  try {
    const { size, mtimeMs } = await stat(archive);
    await writeFile(digestMemoPath(archive), JSON.stringify({ digest, size, mtimeMs }), { mode: 0o600 });
  } catch {
    await rm(digestMemoPath(archive), { force: true }).catch(() => undefined); // only an optimisation
  }
}

/** Digest and size of the archive: from the memo, or hashed (one read) and memoised. */
export async function archiveDigest(archive: string): Promise<{ digest: string; size: number }> {
  const { size } = await stat(archive);
  const known = await readDigestMemo(archive);
  if (known) return { digest: known, size };
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(archive)) hash.update(chunk as Buffer);
  const digest = `sha256:${hash.digest('hex')}`;
  await writeDigestMemo(archive, digest);
  return { digest, size };
}
