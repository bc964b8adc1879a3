// Where a post-copy move keeps its files on a node, one directory per migration and container: on the source the
// lazy dump's CRIU images, log and page-server credentials; on the target the CRIU configuration the restore reads,
// the images the lazy-pages daemon reads, its socket and credentials. Root-only (0700), under the node worker's
// state directory; host paths (runc and CRIU read them) and the worker's view of them (hostRoot).
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { DNS1123_LABEL } from '../api/names.js';

const run = promisify(execFile);

export interface PostCopyDir {
  /** As runc and CRIU, on the host, see it. */
  host: string;
  /** As this worker sees it. */
  local: string;
}

/** Migration ids may hold any printable character: files are named by a digest of it. */
function migrationKey(migrationId: string): string {
  return createHash('sha256').update(migrationId).digest('hex').slice(0, 24);
}

/** Container names become path parts: only what Kubernetes allows (no slash, no dots). */
function requireContainerName(container: string): void {
  if (!DNS1123_LABEL.test(container)) throw new Error(`container name ${JSON.stringify(container)} is not a DNS-1123 label`);
}

export class PostCopyDirs {
  private readonly hostRoot: string;
  private readonly hostDir: string;

  /** hostDir: a host path (<node.stateDir>/postcopy/<cluster>/<node>). */
  constructor(options: { hostRoot: string; hostDir: string }) {
    this.hostRoot = options.hostRoot;
    this.hostDir = options.hostDir;
  }

  /**
   * The directory of one container of one migration on one side (a move into another namespace of the same node has
   * both here), made if missing.
   */
  async container(migrationId: string, container: string, side: 'source' | 'target'): Promise<PostCopyDir> {
    requireContainerName(container);
    const host = path.posix.join(this.migrationHostDir(migrationId), `${side}-${container}`);
    const dir = { host, local: this.onHost(host) };
    await mkdir(dir.local, { recursive: true, mode: 0o700 });
    return dir;
  }

  /**
   * The CRIU configuration a container restored by a migration reads (org.criu.config): outside the migration's
   * directory, since the restored container names it for life.
   */
  async restoreConfig(migrationId: string, container: string): Promise<PostCopyDir> {
    requireContainerName(container);
    const host = path.posix.join(this.hostDir, 'restored', `${migrationKey(migrationId)}-${container}.conf`);
    await mkdir(path.dirname(this.onHost(host)), { recursive: true, mode: 0o700 });
    return { host, local: this.onHost(host) };
  }

  /** The container directories a migration has on this node. */
  async containers(migrationId: string): Promise<PostCopyDir[]> {
    const host = this.migrationHostDir(migrationId);
    const names = await readdir(this.onHost(host)).catch(() => [] as string[]);
    return names.map((name) => ({ host: path.posix.join(host, name), local: this.onHost(path.posix.join(host, name)) }));
  }

  /**
   * Removes what a migration left on this node. A restore CRIU gave up on may have left its cgroup yard mounted in
   * its work directory (one of these): unmounted first.
   */
  async remove(migrationId: string): Promise<void> {
    const dir = this.onHost(this.migrationHostDir(migrationId));
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    const mounted = mountinfo
      .split('\n')
      .map((line) => line.split(' ')[4])
      .filter((mountPoint): mountPoint is string => mountPoint !== undefined && mountPoint.startsWith(`${dir}/`));
    // Shortest first: a recursive lazy unmount of each takes what is mounted below it.
    for (const mountPoint of mounted.sort((a, b) => a.length - b.length)) await run('umount', ['--recursive', '--lazy', mountPoint]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  private migrationHostDir(migrationId: string): string {
    return path.posix.join(this.hostDir, migrationKey(migrationId));
  }

  private onHost(hostPath: string): string {
    return path.join(this.hostRoot, hostPath);
  }
}
