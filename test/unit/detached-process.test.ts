// Post-copy's long-lived helpers (src/node/detached-process.ts) with real, tiny processes in a temporary
// directory: the exit status recorded there, a running one seen running, its whole process group killed.
// Whether a process is gone is observed in /proc, not through processEnd, which is what is tested.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { killDetached, processEnd, startDetached } from '../../src/node/detached-process.js';

let dir: string;
let logFile: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'podferry-detached-'));
  logFile = path.join(dir, 'out.log');
});

afterEach(async () => {
  await killDetached(dir);
  await rm(dir, { recursive: true, force: true });
});

function start(command: string, args: string[]): Promise<number> {
  return startDetached({ dir, command, args, logFile });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 1500;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited 1.5 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The shell that startDetached spawned has ended and was reaped (this process is its parent). */
const reaped = (pid: number) => () => !existsSync(`/proc/${pid}`);

/** Processes of group `pgid` that have not died (a zombie has: its parent has yet to reap it). */
function liveInGroup(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        return false; // gone meanwhile
      }
      // After the command name in parentheses: state, ppid, pgrp.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(pgrp) === pgid && state !== 'Z';
    })
    .map(Number);
}

describe('startDetached and processEnd', () => {
  test('a process that ended: ended, with its exit status; its output in the log file', async () => {
    const pid = await start('/bin/sh', ['-c', 'echo to stdout; echo to stderr >&2; exit 3']);
    await until(reaped(pid), 'the process to end');
    expect(await processEnd(dir)).toEqual({ ended: true, status: 3 });
    expect(await readFile(logFile, 'utf8')).toBe('to stdout\nto stderr\n');
    // Killing it afterwards changes nothing.
    await killDetached(dir);
    expect(await processEnd(dir)).toEqual({ ended: true, status: 3 });
  });

  test('a success is status 0', async () => {
    const pid = await start('/bin/sh', ['-c', 'exit 0']);
    await until(reaped(pid), 'the process to end');
    expect(await processEnd(dir)).toEqual({ ended: true, status: 0 });
  });

  test('a running process: not ended; killed with everything it started: ended, no status', async () => {
    const pid = await start('sleep', ['5']);
    expect(await processEnd(dir)).toEqual({ ended: false });
    expect(liveInGroup(pid)).toContain(pid);
    await killDetached(dir);
    await until(() => reaped(pid)() && liveInGroup(pid).length === 0, 'the process group to die');
    expect(await processEnd(dir)).toEqual({ ended: true, status: undefined });
  });
});

describe('killDetached', () => {
  test('a directory where nothing was started (no pid file): nothing to do', async () => {
    await expect(killDetached(dir)).resolves.toBeUndefined();
    expect(await processEnd(dir)).toEqual({ ended: true, status: undefined });
  });
});
