// The checkpoint archives a node worker may read, serve and delete: only checkpoint archives in the two
// directories where they are written, the kubelet's checkpoint directory (checkpoints through the kubelet API)
// and podferry's own archive directory (checkpoints the node worker asks of the runtime). Every archive path a
// node activity receives comes from the workflow input, and so from whoever can start a workflow; without this
// check such a caller could have the node push or serve any host file (/etc/shadow, a service-account token)
// or delete one. The node checks against what it knows itself: its configured directories, the kubelet's
// naming, and the file system (no symlinks). An archive this worker wrote names its migration in a memo beside
// it, so the archive sweeper (src/node/archive-sweeper.ts) can ask Temporal whether that migration still runs.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MigrationId } from '../api/migration.js';
import { digestMemoPath } from './archive-digest.js';

/** checkpoint-<pod>_<namespace>-<container>-<RFC 3339 time>.tar, as the kubelet names its archives. */
const KUBELET_ARCHIVE = /^checkpoint-[a-z0-9][-a-z0-9.]*_[a-z0-9][-a-z0-9]*-[a-z0-9][-a-z0-9]*-\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)\.tar$/;

export interface CheckpointArchivesOptions {
  /** Prefix for host paths: "/" for a host process, "/host" in a DaemonSet. */
  hostRoot: string;
  /** The kubelet's checkpoint directory, as a host path. */
  checkpointDir: string;
  /** podferry's own archive directory (host path, mode 0700, archives 0600); none: no runtime checkpoints. */
  archiveDir?: string;
}

export class CheckpointArchives {
  /** Where archives may be, as host paths: the kubelet's directory, then podferry's own. */
  readonly directories: string[];
  private readonly hostRoot: string;
  private readonly archiveDir: string | undefined;

  constructor(options: CheckpointArchivesOptions) {
    this.hostRoot = options.hostRoot;
    this.archiveDir = options.archiveDir === undefined ? undefined : path.posix.normalize(options.archiveDir);
    this.directories = [path.posix.normalize(options.checkpointDir), ...(this.archiveDir ? [this.archiveDir] : [])];
  }

  /** True when the name is one the kubelet gives an archive (a file name, no directory). */
  static isArchiveName(name: string): boolean {
    return KUBELET_ARCHIVE.test(name);
  }

  /** Where this process sees a host path. */
  onHost(hostPath: string): string {
    return path.join(this.hostRoot, hostPath);
  }

  /**
   * A new archive for one container, in podferry's own directory (created 0700), named as the kubelet names
   * archives (to the millisecond, so a retry gets a new name): the host path the runtime writes to.
   */
  async newArchive(pod: { namespace: string; name: string }, container: string, now = new Date()): Promise<string> {
    if (!this.archiveDir) throw ApplicationFailure.nonRetryable('this node worker has no archive directory (node.archiveDir)', 'CheckpointUnavailable');
    await mkdir(this.onHost(this.archiveDir), { recursive: true, mode: 0o700 });
    await chmod(this.onHost(this.archiveDir), 0o700);
    return path.posix.join(this.archiveDir, `checkpoint-${pod.name}_${pod.namespace}-${container}-${now.toISOString()}.tar`);
  }

  /** Archives hold the workload's memory: readable by root only. */
  async restrict(archive: string): Promise<void> {
    await chmod(this.onHost(archive), 0o600);
  }

  /** Notes beside a finished archive (a host path) which migration (= workflow id) made it. */
  async recordMigration(archive: string, migrationId: string): Promise<void> {
    await writeFile(migrationMemoPath(this.onHost(archive)), migrationId, { mode: 0o600 });
  }

  /**
   * The migration that made an archive (`file` as resolve() returns it), if this worker noted one: none for
   * the kubelet's archives, nor for one whose checkpoint never finished. The memo is read through no symlink.
   */
  async migrationOf(file: string): Promise<string | undefined> {
    const text = await readFile(migrationMemoPath(file), { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW }).catch(() => undefined);
    const id = MigrationId.safeParse(text);
    return id.success ? id.data : undefined;
  }

  /** Deletes an archive (`file` as resolve() returns it), then the memos beside it. */
  async remove(file: string): Promise<void> {
    await rm(file, { force: true });
    await rm(digestMemoPath(file), { force: true });
    await rm(migrationMemoPath(file), { force: true });
  }

  /**
   * The archive a caller named, as this process reaches it, once it is proven a checkpoint archive: an
   * absolute path directly in one of the directories, named as the kubelet names archives, a regular file
   * reached through no symlink. Throws ArchiveRefused otherwise, ArchiveNotFound when it is not there.
   */
  async resolve(reported: string, purpose: string): Promise<string> {
    const refuse = (why: string) =>
      ApplicationFailure.nonRetryable(
        `${purpose}: archive path ${JSON.stringify(reported)} refused: ${why}; this node worker only handles checkpoint archives in ${this.directories.join(' and ')}`,
        'ArchiveRefused',
      );
    if (!path.posix.isAbsolute(reported) || reported.includes('\0')) throw refuse('not an absolute path');
    const normalized = path.posix.normalize(reported);
    const dir = path.posix.dirname(normalized);
    if (!this.directories.includes(dir)) throw refuse(`not directly in ${this.directories.join(' or ')}`);
    const name = path.posix.basename(normalized);
    if (!CheckpointArchives.isArchiveName(name)) throw refuse('not named as the kubelet names checkpoint archives (checkpoint-<pod>_<namespace>-<container>-<time>.tar)');
    const file = this.onHost(normalized);
    const stats = await lstat(file).catch(() => undefined);
    if (!stats) {
      throw ApplicationFailure.nonRetryable(`${purpose}: checkpoint archive ${reported} is not on this node (looked at ${file})`, 'ArchiveNotFound');
    }
    if (!stats.isFile()) throw refuse(stats.isSymbolicLink() ? 'a symbolic link' : 'not a regular file');
    // A symlinked directory on the way would lead elsewhere: the real path must be the one named.
    const real = await realpath(file);
    const expected = path.join(await realpath(this.onHost(dir)), name);
    if (real !== expected) throw refuse(`it resolves to ${real}, outside the archive directories`);
    return file;
  }
}

function migrationMemoPath(archive: string): string {
  return `${archive}.podferry-migration`;
}
