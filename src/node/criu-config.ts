// CRIU configuration files podferry writes for post-copy. runc hands CRIU /etc/criu/runc.conf unless the container's
// spec names another file (org.criu.config), which then replaces it: every file podferry writes repeats its lines,
// so a container's checkpoints and restores keep the node's CRIU options (skip-in-flight, tcp-established, ...).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const RUNC_CRIU_CONFIG = '/etc/criu/runc.conf';

/** The option lines of the node's runc.conf (none when it has none). */
export async function runcCriuOptions(hostRoot: string): Promise<string[]> {
  const text = await readFile(path.join(hostRoot, RUNC_CRIU_CONFIG), 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

/** Writes a CRIU configuration file (0600): the node's runc.conf options, then `lines`. */
export async function writeCriuConfig(file: string, hostRoot: string, lines: string[]): Promise<void> {
  await writeFile(file, `${[...(await runcCriuOptions(hostRoot)), ...lines].join('\n')}\n`, { mode: 0o600 });
}
