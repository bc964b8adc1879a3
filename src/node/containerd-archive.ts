// A containerd checkpoint archive made from a checkpoint podferry took with runc itself (post-copy's lazy dump,
// which containerd's CRI checkpoint cannot take), so that containerd restores it as its own. It holds what
// containerd's CheckpointContainer writes and its restore reads (containerd v2.3.7,
// internal/cri/server/container_checkpoint_linux.go, core/runtime/v2/shim.go): checkpoint/ (CRIU's images),
// config.dump (identity and base image), status.dump (the CRI status: name, labels, annotations), spec.dump
// (the OCI spec), rootfs-diff.tar (the container's writable layer, overlay whiteouts as OCI .wh. entries).
// status.dump's annotations are the restored container's: extra ones (org.criu.config) reach its spec there.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findWhiteouts, tar, writeJson } from './archive-files.js';
import type { CriContainer } from './proto/services.js';

export interface ContainerdArchiveInput {
  container: CriContainer;
  /** The runtime type of containerd's runc handler (config.dump names it). */
  runtimeType: string;
  /** The container's OCI bundle (runc state), a host path. */
  bundle: string;
  /** The container's init process (runc state): its mount table names the rootfs overlay's upper directory. */
  pid: number;
  /** CRIU's images, as this worker sees them. */
  imagesDir: string;
  /** Scratch directory for the metadata files, as this worker sees it. */
  workDir: string;
  /** Where the archive goes (created 0600), as this worker sees it. */
  archive: string;
  /** Annotations the restored container gets besides its own. */
  extraAnnotations: Record<string, string>;
  onHost: (hostPath: string) => string;
  signal?: AbortSignal;
}

export async function writeContainerdArchive(input: ContainerdArchiveInput): Promise<void> {
  const { container } = input;
  const meta = path.join(input.workDir, 'archive');
  await mkdir(meta, { recursive: true, mode: 0o700 });
  const image = container.image?.image ?? '';
  const createdAt = nanosecondsToIso(container.createdAt);
  await writeJson(path.join(meta, 'config.dump'), {
    id: container.id,
    name: containerdName(container),
    rootfsImage: image,
    rootfsImageRef: container.imageRef,
    rootfsImageName: image,
    runtime: input.runtimeType,
    createdTime: createdAt,
    checkpointedTime: new Date().toISOString(),
    restoredTime: '0001-01-01T00:00:00Z',
    restored: false,
  });
  // The CRI ContainerStatus as containerd marshals it (Go field tags of cri-api's generated types).
  await writeJson(path.join(meta, 'status.dump'), {
    id: container.id,
    metadata: { name: container.metadata?.name ?? '', attempt: container.metadata?.attempt ?? 0 },
    state: 1,
    created_at: Number(container.createdAt),
    image: { image, ...(container.image?.userSpecifiedImage ? { user_specified_image: container.image.userSpecifiedImage } : {}) },
    image_ref: container.imageRef,
    labels: container.labels,
    annotations: { ...container.annotations, ...input.extraAnnotations },
  });
  await copyFile(input.onHost(path.join(input.bundle, 'config.json')), path.join(meta, 'spec.dump'));
  await writeRootfsDiff(await rootfsUpperDir(input.pid, input.onHost), path.join(meta, 'rootfs-diff.tar'), input.signal);

  // Created 0600 before any byte is written: CRIU's images hold the process's registers and non-lazy memory.
  await writeFile(input.archive, '', { mode: 0o600 });
  await tar(['-cf', input.archive, '-C', meta, 'config.dump', 'status.dump', 'spec.dump', 'rootfs-diff.tar', '-C', path.dirname(input.imagesDir), '--transform', `s,^${path.basename(input.imagesDir)},checkpoint,`, path.basename(input.imagesDir)], input.signal);
}

/** containerd's name of a CRI container: <container>_<pod>_<namespace>_<pod uid>_<attempt>. */
function containerdName(container: CriContainer): string {
  const label = (key: string) => container.labels[`io.kubernetes.${key}`] ?? '';
  return [container.metadata?.name ?? '', label('pod.name'), label('pod.namespace'), label('pod.uid'), String(container.metadata?.attempt ?? 0)].join('_');
}

/** The upper directory of the overlay mounted as the process's root (a host path, from its mount table). */
async function rootfsUpperDir(pid: number, onHost: (hostPath: string) => string): Promise<string> {
  const mountinfo = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  for (const line of mountinfo.split('\n')) {
    const [mountFields, fsFields] = line.split(' - ');
    if (mountFields?.split(' ')[4] !== '/' || !fsFields) continue;
    const [fsType, , superOptions] = fsFields.split(' ');
    const upper = superOptions?.split(',').find((o) => o.startsWith('upperdir='));
    if (fsType === 'overlay' && upper) return onHost(upper.slice('upperdir='.length));
  }
  throw new Error(`process ${pid}'s root is not an overlay mount with an upper directory (its mount table, /proc/${pid}/mountinfo)`);
}

/** The writable layer as a tar, each overlay whiteout as the OCI whiteout (.wh.<name>) that containerd's restore applies. */
async function writeRootfsDiff(upper: string, file: string, signal?: AbortSignal): Promise<void> {
  const whiteouts = await findWhiteouts(upper);
  const markers = path.join(path.dirname(file), 'whiteouts');
  for (const whiteout of whiteouts) {
    const marker = path.join(markers, path.dirname(whiteout), `.wh.${path.basename(whiteout)}`);
    await mkdir(path.dirname(marker), { recursive: true });
    await writeFile(marker, '');
  }
  const excludes = `${file}.exclude`;
  await writeFile(excludes, whiteouts.map((w) => `${w}\n`).join(''));
  await tar(['-cf', file, '-C', upper, '--no-wildcards', `--exclude-from=${excludes}`, '.', ...(whiteouts.length > 0 ? ['-C', markers, '.'] : [])], signal);
}

function nanosecondsToIso(nanoseconds: string): string {
  const ns = BigInt(nanoseconds || '0');
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, -1)}${String(ns % 1_000_000_000n).padStart(9, '0').slice(3)}Z`;
}
