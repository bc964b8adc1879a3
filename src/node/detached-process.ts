// A long-lived helper process that must outlive the activity that starts it and survive a restart of the node
// worker: post-copy's lazy dump (the source's page server, until every page was pulled) and lazy-pages daemon (the
// target's page fetcher). Started in a process group of its own under a shell that records the exit status in the
// process's directory, so whichever worker asks later (the same or a restarted one) learns how it ended.
import { spawn, type StdioOptions } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PID_FILE = 'process.pid';
const EXIT_FILE = 'exit-status';
/** Records the command's exit status once it ends, whole or not at all (written aside, then renamed). */
const RECORD_EXIT = '"$@"; echo $? > "$0.new" && mv "$0.new" "$0"';

export type ProcessEnd = { ended: false } | { ended: true; status: number | undefined };

export interface StartOptions {
  /** The process's directory (its pid and exit status go there), as this worker sees it. */
  dir: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Where its stdout and stderr go (appended). */
  logFile: string;
  /** Extra file descriptors, from 3 on (e.g. runc's --status-fd). */
  extraFds?: number[];
}

/** Starts the process; returns its pid (also the id of its process group). */
export async function startDetached(options: StartOptions): Promise<number> {
  const log = await open(options.logFile, 'a', 0o600);
  try {
    const stdio: StdioOptions = ['ignore', log.fd, log.fd, ...(options.extraFds ?? [])];
    const child = spawn('/bin/sh', ['-c', RECORD_EXIT, path.join(options.dir, EXIT_FILE), options.command, ...options.args], {
      detached: true,
      stdio,
      env: options.env ?? process.env,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${options.command}: ${err.message}`)));
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    await writeFile(path.join(options.dir, PID_FILE), String(pid), { mode: 0o600 });
    return pid;
  } finally {
    await log.close();
  }
}

/** Whether the process started in `dir` has ended, and with which status (undefined: killed before it could say). */
export async function processEnd(dir: string): Promise<ProcessEnd> {
  // Alive first: the shell records the status before it exits, so once it is gone the record is final.
  const pid = await recordedPid(dir);
  if (pid !== undefined && isAlive(pid)) return { ended: false };
  const status = await readFile(path.join(dir, EXIT_FILE), 'utf8').catch(() => undefined);
  // Gone without recording a status: killed (or never started, when there is no pid either).
  return { ended: true, status: status === undefined ? undefined : Number(status.trim()) };
}

/**
 * How the process started in `dir` ended; one that ended otherwise than with status 0 comes with why: `name` and how
 * it ended, then the last error lines of its logs (files in `dir`), then where those logs are (`logsAt`).
 */
export async function processOutcome(dir: string, name: string, logs: string[], logsAt: string): Promise<ProcessEnd & { failure?: string }> {
  const end = await processEnd(dir);
  if (!end.ended || end.status === 0) return end;
  return { ...end, failure: await explained(dir, end.status === undefined ? `${name} was killed` : `${name} exited with ${end.status}`, logs, logsAt) };
}

/** `what`, with the last error lines of each log (files in `dir`), and where the logs are. */
export async function explained(dir: string, what: string, logs: string[], logsAt: string): Promise<string> {
  const lines: string[] = [];
  for (const log of logs) {
    const text = await readFile(path.join(dir, log), 'utf8').catch(() => '');
    lines.push(...text.split('\n').filter((line) => /error|fail/i.test(line) && !/DEPRECATION/.test(line)).slice(-5));
  }
  return `${what}${lines.length > 0 ? `: ${lines.join(' | ')}` : ''} (${logsAt})`;
}

/** Kills the process started in `dir` and everything it started (its process group). Gone already: nothing to do. */
export async function killDetached(dir: string): Promise<void> {
  const pid = await recordedPid(dir);
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function recordedPid(dir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dir, PID_FILE), 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
