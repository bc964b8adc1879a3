// The checkpoint archives a node worker may read, serve and delete: only the kubelet's own, in its checkpoint
// directory. Every archive path a node activity receives comes from the workflow input, and so from whoever can
// start a workflow or answer on a node's task queue; without this check such a caller could have the node push
// or serve any host file (/etc/shadow, a service-account token) or delete one. The node checks against what it
// knows itself: the configured checkpoint directory, the kubelet's naming, and the file system (no symlinks).
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';

/** checkpoint-<pod>_<namespace>-<container>-<RFC 3339 time>.tar, as the kubelet names its archives. */
const KUBELET_ARCHIVE = /^checkpoint-[a-z0-9][-a-z0-9.]*_[a-z0-9][-a-z0-9]*-[a-z0-9][-a-z0-9]*-\d{4}-\d\d-\d\dT[0-9:.]+(Z|[+-]\d\d:\d\d)\.tar$/;

export interface CheckpointArchivesOptions {
  /** Prefix for host paths: "/" for a host process, "/host" in a DaemonSet. */
  hostRoot: string;
  /** The kubelet's checkpoint directory, as a host path. */
  checkpointDir: string;
}

export class CheckpointArchives {
  readonly checkpointDir: string;
  private readonly hostRoot: string;

  constructor(options: CheckpointArchivesOptions) {
    this.hostRoot = options.hostRoot;
    this.checkpointDir = path.posix.normalize(options.checkpointDir);
  }

  /** True when the name is one the kubelet gives an archive (a file name, no directory). */
  static isArchiveName(name: string): boolean {
    return KUBELET_ARCHIVE.test(name);
  }

  /** The host path of the checkpoint directory (where this process sees it). */
  onHost(hostPath: string = this.checkpointDir): string {
    return path.join(this.hostRoot, hostPath);
  }

  /**
   * The archive a caller named, as this process reaches it, once it is proven one of the kubelet's archives:
   * an absolute path directly in the checkpoint directory, named as the kubelet names archives, a regular file
   * reached through no symlink. Throws ArchiveRefused otherwise, ArchiveNotFound when it is not there.
   */
  async resolve(reported: string, purpose: string): Promise<string> {
    const refuse = (why: string) =>
      ApplicationFailure.nonRetryable(
        `${purpose}: archive path ${JSON.stringify(reported)} refused: ${why}; this node worker only handles the kubelet's checkpoint archives in ${this.checkpointDir}`,
        'ArchiveRefused',
      );
    if (!path.posix.isAbsolute(reported) || reported.includes('\0')) throw refuse('not an absolute path');
    const normalized = path.posix.normalize(reported);
    if (path.posix.dirname(normalized) !== this.checkpointDir) throw refuse(`not directly in ${this.checkpointDir}`);
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
    const expected = path.join(await realpath(this.onHost()), name);
    if (real !== expected) throw refuse(`it resolves to ${real}, outside the checkpoint directory`);
    return file;
  }
}
