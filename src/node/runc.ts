// Containers as their OCI runtime (runc) knows them, under a runtime's state root: state, pause, resume, checkpoint.
// containerd's are read here for post-copy's lazy dump (src/activities/postcopy.ts). On a CRI-O node
// the node worker pauses and checkpoints containers with runc itself, not through CRI-O: CRI-O's
// CheckpointContainer runs `runc pause` first (refused for a container already paused, and a container must
// be paused to hand the pod freeze over to it) and `runc resume`s it afterwards (the workload would run
// again after its checkpoint). Measured on lab-c, docs/crio-source.md. Same binary and state root as CRI-O's
// handler, so CRI-O's view of the container stays right: after `runc resume` it runs as before.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CrioSettings } from './crio-config.js';

const run = promisify(execFile);

export interface RuncOptions {
  /** The runtime binary (CRI-O's handler's runtime_path, containerd's runc BinaryName). */
  runc: string;
  /** runc's state root for the runtime's containers (CRI-O's runtime_root, containerd's Root/<namespace>). */
  root: string;
  /** PATH for runc (where it finds CRIU); default: the worker's. */
  path?: string;
}

/** What `runc state` says of a container. */
export interface RuncState {
  id: string;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  /** The OCI bundle: config.json (the spec) is there. */
  bundle: string;
  /** The container's init process. */
  pid: number;
  annotations?: Record<string, string>;
}

export class Runc {
  readonly options: RuncOptions;

  constructor(options: RuncOptions) {
    this.options = options;
  }

  async state(id: string, signal?: AbortSignal): Promise<RuncState> {
    return JSON.parse(await this.runc(['state', id], { signal, what: `reading runc's state of container ${id}` })) as RuncState;
  }

  /** Pauses (freezes the container's own cgroup; runc then reports it `paused`). */
  async pause(id: string): Promise<void> {
    await this.runc(['pause', id], { what: `pausing container ${id} with runc` });
  }

  /** Resumes a paused container; one that is not paused (running, or gone) is left as it is. */
  async resume(id: string): Promise<void> {
    const state = await this.state(id).catch(() => undefined);
    if (state?.status !== 'paused') return;
    await this.runc(['resume', id], { what: `resuming container ${id} with runc` });
  }

  /**
   * Dumps a (paused) container with CRIU, leaving it as CRIU found it: `--leave-running` keeps it alive, and
   * CRIU restores the freezer state it found, so a paused container stays paused.
   */
  async checkpoint(id: string, imagePath: string, workPath: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    await this.runc(['checkpoint', '--file-locks', '--image-path', imagePath, '--work-path', workPath, '--leave-running', id], {
      ...options,
      what: `runc checkpoint of container ${id} (CRIU's log: ${workPath}/dump.log)`,
    });
  }

  private async runc(args: string[], options: { what: string; signal?: AbortSignal; timeoutMs?: number }): Promise<string> {
    const env = this.options.path ? { ...process.env, PATH: this.options.path } : process.env;
    try {
      const { stdout } = await run(this.options.runc, ['--root', this.options.root, ...args], {
        env,
        signal: options.signal,
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 16 << 20,
      });
      return stdout;
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      const { stderr, message } = err as { stderr?: string; message: string };
      throw new Error(`${options.what}: ${(stderr || message).trim()}`);
    }
  }
}

/** A CRI-O node's runc and settings, looked up once on first use (src/worker/node.ts). */
export type CrioAccess = () => Promise<{ runc: Runc; settings: CrioSettings }>;
