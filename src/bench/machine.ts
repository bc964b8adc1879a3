// What the figures were measured on: the machine, its load, and the versions of everything on the path.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CRIU_DIR, RUNC } from './floor.js';

const LAB_CACHE = process.env.PODFERRY_LAB_CACHE ?? path.join(os.homedir(), '.cache/podferry-lab');

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim();
  } catch (err) {
    return `(unavailable: ${(err as Error).message.split('\n')[0]})`;
  }
}

export function describeMachine(repoDir: string): string {
  const cpu = os.cpus();
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const memTotal = /MemTotal:\s+(\d+)/.exec(meminfo)?.[1];
  const lines = [
    `date: ${new Date().toISOString()}`,
    `host: ${os.hostname()}`,
    `cpus (nproc): ${os.availableParallelism()} × ${cpu[0]?.model ?? '?'}`,
    `memory: ${memTotal ? (Number(memTotal) / 2 ** 20).toFixed(1) : '?'} GiB`,
    `kernel: ${os.release()} (${os.machine()})`,
    `load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `node: ${process.version}`,
    `podferry: ${run('git', ['-C', repoDir, 'rev-parse', '--short', 'HEAD'])}${run('git', ['-C', repoDir, 'status', '--porcelain', '--untracked-files=no']) ? ' (with local changes)' : ''}`,
    `runc: ${run(RUNC, ['--version']).split('\n')[0]}`,
    `criu: ${run(path.join(CRIU_DIR, 'criu'), ['--version']).split('\n')[0]}`,
    `containerd: ${run(path.join(LAB_CACHE, 'containerd-v2.3.7/containerd'), ['--version'])}`,
    `cri-o (lab-c): ${run(path.join(LAB_CACHE, 'crio-v1.34.0/crio'), ['--version']).split('\n')[0]}`,
    `kubelet: ${run(path.join(LAB_CACHE, 'kubernetes-v1.37.2/kubelet'), ['--version'])}`,
    `temporal: ${run(path.join(LAB_CACHE, 'temporal-v1.5.1/temporal'), ['--version'])}`,
    `registry: ${run('/usr/bin/docker-registry', ['--version'])}`,
    `criu options (/etc/criu/runc.conf): ${run('cat', ['/etc/criu/runc.conf']).replace(/\n/g, ' ')}`,
  ];
  return lines.join('\n') + '\n';
}
