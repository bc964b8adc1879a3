// The lab's daemons as a fault injector sees them (deploy/lab/lib.sh: one pid file per component under
// /run/podferry-lab/pids, one log under /var/lib/podferry-lab/logs): stall one (SIGSTOP/SIGCONT), kill one
// with SIGKILL and start it again exactly as it ran (same argv, environment, working directory and network
// namespace), cut a node off its network.
import { execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import type { PodferryConfig } from '../../src/api/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LAB_RUN = '/run/podferry-lab';
const LAB_STATE = process.env.PODFERRY_LAB_STATE ?? '/var/lib/podferry-lab';

const pidFile = (name: string) => path.join(LAB_RUN, 'pids', `${name}.pid`);

export function daemonPid(name: string): number {
  const pid = Number(readFileSync(pidFile(name), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`lab daemon ${name}: no pid in ${pidFile(name)}`);
  return pid;
}

export function isDaemonRunning(name: string): boolean {
  try {
    process.kill(daemonPid(name), 0);
    return true;
  } catch {
    return false;
  }
}

/** Stalls a daemon (it keeps its sockets open but answers nothing) until resumed. */
export function stallDaemon(name: string): void {
  process.kill(daemonPid(name), 'SIGSTOP');
}

export function resumeDaemon(name: string): void {
  process.kill(daemonPid(name), 'SIGCONT');
}

export interface KilledDaemon {
  name: string;
  /** Starts it again as it ran, or with its command line changed (its readiness is the caller's to wait for). */
  restart(changeArgv?: (argv: string[]) => string[]): void;
}

/** Kills a daemon with SIGKILL (no clean-up, as a crash or an OOM kill would), remembering how to start it again. */
export function killDaemon(name: string): KilledDaemon {
  const pid = daemonPid(name);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const netns = networkNamespaceOf(pid);
  process.kill(pid, 'SIGKILL');
  return {
    name,
    restart(changeArgv = (argv: string[]) => argv) {
      const args = changeArgv(argv);
      const log = openSync(path.join(LAB_STATE, 'logs', `${name}.log`), 'a');
      const [command, rest] = netns ? ['nsenter', [`--net=/run/netns/${netns}`, '--', ...args]] : [args[0]!, args.slice(1)];
      const child = spawn(command, rest, { cwd, env, detached: true, stdio: ['ignore', log, log] });
      child.unref();
      writeFileSync(pidFile(name), `${child.pid}\n`);
    },
  };
}

/** The lab node whose named network namespace the process lives in, if any. */
function networkNamespaceOf(pid: number): string | undefined {
  const out = execFileSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).trim();
  return out || undefined;
}

export interface LabClient {
  client: Client;
  close(): Promise<void>;
}

/** A Temporal client of the lab, with podferry's lab workers running (a test then starts migrations on them). */
export async function connectLab(config: PodferryConfig): Promise<LabClient> {
  ensureWorkers();
  const connection = await Connection.connect({ address: config.temporal.address });
  return { client: createTemporalClient(connection, config), close: () => connection.close() };
}

/** Starts podferry's lab workers that are not running (deploy/lab/workers.sh is idempotent). */
export function ensureWorkers(): void {
  execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' });
}

/**
 * Cuts a lab node off the network (its API server and the other nodes unreachable, and it from them), as a
 * partition would: every packet in or out of its namespace is dropped, except loopback.
 */
export function cutOffNode(node: string): () => void {
  const ns = `podferry-${node}`;
  const rules = [
    ['-I', 'OUTPUT', '!', '-o', 'lo', '-j', 'DROP'],
    ['-I', 'INPUT', '!', '-i', 'lo', '-j', 'DROP'],
  ];
  for (const rule of rules) execFileSync('ip', ['netns', 'exec', ns, 'iptables', ...rule]);
  return () => {
    for (const rule of rules) execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-D', ...rule.slice(1)]);
  };
}
