// The CRIU a runtime's runc runs: runc looks `criu` up on the PATH it is given (CRI-O: its handler's
// monitor_env; containerd: its own), so the version is asked of that binary.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { RuntimeDescription } from '../api/runtime-description.js';

const run = promisify(execFile);

/** `criu --version` with `path` as PATH ("Version: 4.2.1" → "4.2.1"); the error instead when it cannot run. */
export async function criuVersion(path: string | undefined): Promise<RuntimeDescription['criu']> {
  const binary = 'criu';
  const env = { ...process.env, ...(path ? { PATH: path } : {}) };
  try {
    const { stdout } = await run(binary, ['--version'], { env, timeout: 10_000 });
    const version = /^Version:\s*(\S+)/m.exec(stdout)?.[1];
    return version ? { binary: `criu on PATH ${env.PATH ?? ''}`, version } : { binary: `criu on PATH ${env.PATH ?? ''}`, error: `unexpected output: ${stdout.trim()}` };
  } catch (err) {
    return { binary: `criu on PATH ${env.PATH ?? ''}`, error: (err as Error).message.split('\n')[0] };
  }
}
