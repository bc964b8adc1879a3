// A checkpoint of a paused CRI-O container, written as CRI-O's own checkpoint archive, so CRI-O restores it
// like its own (from a checkpoint image made of it, src/oci/checkpoint-image.ts). The container must be paused
// (the pod freeze handed over to it, src/activities/node.ts) and stays paused: `runc checkpoint
// --leave-running` of a paused container leaves it paused (docs/crio-source.md, way (b)). The archive holds
// what CRI-O's own holds (CRI-O v1.34.0, internal/lib/checkpoint.go): checkpoint/ (CRIU's images), dump.log
// and stats-dump (runc's work path), spec.dump (the bundle's config.json), config.dump (the container's
// identity and base image, from CRI-O's annotations), bind.mounts, rootfs-diff.tar (the overlay's upper
// directory) and deleted.files (its whiteouts), when there are any. CRI-O's copy of the container log is left
// out: restore does not need it.
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileExists, findWhiteouts, tar, writeJson } from './archive-files.js';
import type { Runc } from './runc.js';

/** Mounts CRI-O sets up itself at restore: not listed in bind.mounts (as CRI-O leaves them out). */
const RUNTIME_MOUNTS = new Set(['/dev', '/dev/shm', '/proc', '/run', '/run/.containerenv', '/run/secrets', '/sys']);

const ANNOTATION = {
  name: 'io.kubernetes.cri-o.Name',
  image: 'io.kubernetes.cri-o.Image',
  imageRef: 'io.kubernetes.cri-o.ImageRef',
  imageName: 'io.kubernetes.cri-o.ImageName',
  created: 'io.kubernetes.cri-o.Created',
  mountPoint: 'io.kubernetes.cri-o.MountPoint',
} as const;

interface OciSpec {
  annotations?: Record<string, string>;
  mounts?: { destination: string; source?: string; type?: string }[];
}

export interface CrioCheckpointInput {
  /** The bare container id (no cri-o:// scheme). */
  id: string;
  /** Where the archive goes, as this process reaches it (created 0600). */
  archive: string;
  /** CRI-O's runtime handler the container runs with (config.dump names it). */
  handler: string;
  /** Where this process sees a host path (runc reports host paths; a DaemonSet sees the host under /host). */
  onHost: (hostPath: string) => string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class ContainerNotPaused extends Error {
  override name = 'ContainerNotPaused';
}

/**
 * Checkpoints a paused container into a CRI-O archive. Throws ContainerNotPaused when the container is not
 * paused before, or no longer paused after, the dump (then it may run: the caller must not go on).
 */
export async function checkpointCrioContainer(runc: Runc, input: CrioCheckpointInput): Promise<void> {
  const before = await runc.state(input.id, input.signal);
  if (before.status !== 'paused') {
    throw new ContainerNotPaused(`container ${input.id} is ${before.status}, not paused: freeze the pod first (a checkpoint of a running container leaves it running)`);
  }
  // runc's work path and CRIU's images, beside the archive (same file system, the archive directory is 0700).
  const work = `${input.archive}.work`;
  await rm(work, { recursive: true, force: true });
  await mkdir(path.join(work, 'checkpoint'), { recursive: true, mode: 0o700 });
  try {
    await runc.checkpoint(input.id, path.join(work, 'checkpoint'), work, { signal: input.signal, timeoutMs: input.timeoutMs });
    const after = await runc.state(input.id);
    if (after.status !== 'paused') throw new ContainerNotPaused(`container ${input.id} is ${after.status} after its checkpoint, not paused`);
    await writeArchive(work, before.bundle, input);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function writeArchive(work: string, bundle: string, input: CrioCheckpointInput): Promise<void> {
  const specFile = input.onHost(path.join(bundle, 'config.json'));
  const spec = JSON.parse(await readFile(specFile, 'utf8')) as OciSpec;
  const annotations = spec.annotations ?? {};
  await copyFile(specFile, path.join(work, 'spec.dump'));
  await writeJson(path.join(work, 'config.dump'), {
    id: input.id,
    name: annotations[ANNOTATION.name],
    rootfsImage: annotations[ANNOTATION.image],
    rootfsImageRef: annotations[ANNOTATION.imageRef],
    rootfsImageName: annotations[ANNOTATION.imageName],
    runtime: input.handler,
    createdTime: annotations[ANNOTATION.created],
    checkpointedTime: new Date().toISOString(),
    restoredTime: '0001-01-01T00:00:00Z',
    restored: false,
  });
  await writeJson(path.join(work, 'bind.mounts'), await bindMounts(spec, input.onHost));

  // The container's writable layer: overlay's upper directory, beside the merged mount point.
  const mountPoint = annotations[ANNOTATION.mountPoint];
  if (!mountPoint) throw new Error(`container ${input.id}: its spec has no ${ANNOTATION.mountPoint} annotation (not a CRI-O container?)`);
  const upper = input.onHost(path.join(path.dirname(mountPoint), 'diff'));
  const whiteouts = await findWhiteouts(upper);
  const members = ['checkpoint', 'spec.dump', 'config.dump', 'bind.mounts', 'rootfs-diff.tar'];
  const excludes = path.join(work, 'rootfs-diff.exclude');
  await writeFile(excludes, whiteouts.map((w) => `${w}\n`).join(''));
  await tar(['-C', upper, '--no-wildcards', `--exclude-from=${excludes}`, '-cf', path.join(work, 'rootfs-diff.tar'), '.'], input.signal);
  if (whiteouts.length > 0) {
    await writeJson(path.join(work, 'deleted.files'), whiteouts);
    members.push('deleted.files');
  }
  for (const log of ['dump.log', 'stats-dump']) if (await fileExists(path.join(work, log))) members.push(log);

  // Created 0600 before any byte is written: it holds the workload's memory.
  await writeFile(input.archive, '', { mode: 0o600 });
  await tar(['-C', work, '-cf', input.archive, ...members], input.signal);
}

/** Bind mounts of the spec other than the runtime's own, with their type and mode (CRI-O recreates a missing source as that). */
async function bindMounts(spec: OciSpec, onHost: (hostPath: string) => string) {
  const mounts = (spec.mounts ?? []).filter((m) => m.type === 'bind' && m.source && !RUNTIME_MOUNTS.has(m.destination));
  return Promise.all(
    mounts.map(async (m) => {
      const stats = await stat(onHost(m.source!));
      return { source: m.source, destination: m.destination, file_type: stats.isDirectory() ? 'directory' : 'file', permissions: stats.mode & 0o7777 };
    }),
  );
}
