// The lab's own promise: up and down twice in a row on the same machine, nothing left behind after each
// down, and both commands are no-ops that say so when there is nothing to do; each up peers lab-a with lab-b
// through Liqo. Runs the real scripts.
import { describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const lab = resolve(import.meta.dirname, '../../deploy/lab');

function run(script: string, ...args: string[]): string {
  const result = spawnSync(resolve(lab, script), args, { encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) {
    throw new Error(`${script} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout + result.stderr;
}

/** What the lab left on the host (processes, mounts, netns, veths, cgroups, bridge); empty when clean. */
function leftovers(): string {
  return execFileSync(resolve(lab, 'down.sh'), ['--check'], { encoding: 'utf8' }).trim();
}

describe('lab lifecycle', () => {
  test('down leaves nothing behind, twice in a row after a full up', () => {
    run('down.sh');
    expect(leftovers()).toBe('');
    for (const round of [1, 2]) {
      run('up.sh');
      expect(run('status.sh')).not.toMatch(/stopped/);
      run('liqo.sh', '--check'); // lab-a has a Ready virtual node for lab-b
      expect(leftovers()).not.toBe('');
      expect(run('up.sh')).toMatch(/already up/);
      run('down.sh');
      expect({ round, leftovers: leftovers() }).toEqual({ round, leftovers: '' });
      expect(run('down.sh')).toMatch(/already down/);
    }
  }, 1_200_000);
});
