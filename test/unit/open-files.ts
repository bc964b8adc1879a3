// Whether this process still holds a file open: how tests check that an aborted stream closed its file.
import { readdirSync, readlinkSync } from 'node:fs';
import { sleep } from '../../src/activities/context.js';

export function isOpenHere(file: string): boolean {
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false; // closed while listing
    }
  });
}

/** Waits until this process no longer holds `file` open (a stream closes its file asynchronously), at most `timeoutMs`. */
export async function closedWithin(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isOpenHere(file) && Date.now() < deadline) await sleep(20);
  return !isOpenHere(file);
}

/** Waits until this process holds `file` open (a stream opens its file once it gets to it), at most `timeoutMs`. */
export async function openWithin(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!isOpenHere(file) && Date.now() < deadline) await sleep(20);
  return isOpenHere(file);
}
