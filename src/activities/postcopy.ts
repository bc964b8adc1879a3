// Post-copy's node activities (options.mode: postcopy, docs/postcopy.md), run by the node workers of both sides.
// Source: checkpointLazily (lazy dump of a paused container + its containerd archive, page server up),
// awaitPagesSent (the dump ended: every page was pulled). Target: prepareLazyRestore (before the freeze: each
// container's CRIU configuration), startLazyPages (the images from the received checkpoint image, the lazy-pages
// daemon listening), awaitPagesReceived (the daemon ended: every page arrived). Both: describePostCopy (whether the
// node can; the others check it first), endPostCopy (stop what still runs, remove the files).
import { ApplicationFailure } from '@temporalio/common';
import type { CheckpointArchives } from '../node/checkpoint-archives.js';
import { writeContainerdArchive } from '../node/containerd-archive.js';
import { readContainerdBlob } from '../node/containerd-import.js';
import type { CriRuntime } from '../node/cri-runtime.js';
import { criuVersion } from '../node/criu-version.js';
import { killDetached, type ProcessEnd } from '../node/detached-process.js';
import { imagesOf, lazyDumpEnd, LazyDumpFailed, startLazyDump, type PageServer } from '../node/lazy-dump.js';
import { killStrandedRestores, lazyPagesEnd, settleLazyRestoreConfig, startLazyPages as startDaemon, writeLazyRestoreConfig } from '../node/lazy-pages.js';
import type { NodeCredentials } from '../node/node-identity.js';
import type { PostCopyDir, PostCopyDirs } from '../node/postcopy-dirs.js';
import { containerdRunc, CRIU_CONFIG_ANNOTATION, postCopySupport, readPipeMaxSize, type ContainerdRunc, type PostCopySupport } from '../node/postcopy-support.js';
import { Runc } from '../node/runc.js';
import { currentWorkflowId, sleep, whileHeartbeating } from './context.js';

const POLL_MS = 100;
/** How long starting the page server or the daemon may take before it counts as failed. */
const START_TIMEOUT_MS = 60_000;

export interface PostCopyDeps {
  runtime?: CriRuntime;
  containerd?: { address: string; namespace: string; ctr: string };
  archives: CheckpointArchives;
  dirs: PostCopyDirs;
  credentials?: NodeCredentials;
  /** The address the page server listens on: this node's transfer address. */
  pageServerHost: string;
  hostRoot: string;
  nodeName: string;
}

export interface CheckpointLazilyInput {
  migrationId: string;
  podUid: string;
  namespace: string;
  pod: string;
  container: string;
  containerId: string;
  /** The target's CRIU configuration for this container (prepareLazyRestore), named in the archive. */
  criuConfigAtTarget: string;
  timeoutSeconds: number;
}

export interface LazyCheckpoint {
  container: string;
  archivePath: string;
  durationMs: number;
  pageServer: PageServer;
}

export interface PagesInput {
  migrationId: string;
  container: string;
  timeoutSeconds: number;
}

export function createPostCopyActivities(deps: PostCopyDeps) {
  const where = `node ${deps.nodeName}`;

  /** The node's answer on post-copy, and containerd's runc as its configuration names it (read once for both). */
  async function assess(): Promise<{ support: PostCopySupport; runc?: ContainerdRunc }> {
    const { runtime } = deps;
    if (!runtime) return { support: { available: false, reason: 'the node worker has no CRI socket (node.cri.address)' } };
    const [{ runtimeName }, info, pipeMaxSize, criu] = await Promise.all([runtime.version(), runtime.statusInfo(), readPipeMaxSize(), criuVersion(undefined)]);
    const runc = containerdRunc(info, deps.containerd?.namespace ?? 'k8s.io');
    const support = postCopySupport({
      runtime: runtimeName,
      pipeMaxSize,
      criuVersion: criu?.version,
      containerAnnotations: runc?.containerAnnotations,
      transferIdentity: deps.credentials !== undefined,
      containerdConfigured: deps.containerd !== undefined,
    });
    return { support, runc };
  }

  /** What this node says of post-copy (describeRuntime reports it; every activity below refuses without it). */
  async function describePostCopy(): Promise<PostCopySupport> {
    return (await assess()).support;
  }

  async function requirePostCopy() {
    const { support, runc } = await assess();
    if (!support.available || !deps.runtime || !deps.credentials || !deps.containerd || !runc) {
      throw ApplicationFailure.nonRetryable(`${where} cannot take part in a post-copy move: ${support.reason ?? 'not configured'}`, 'PostCopyUnavailable');
    }
    return { runtime: deps.runtime, credentials: deps.credentials, containerd: deps.containerd, runc };
  }

  async function checkpointLazily(input: CheckpointLazilyInput): Promise<LazyCheckpoint> {
    const { runtime, credentials, runc } = await requirePostCopy();
    const ref = `container ${input.container} of pod ${input.namespace}/${input.pod} on ${where}`;
    const [id] = await runtime.requirePodContainers(input.podUid, [input.containerId], `${where} (checkpointing ${ref} lazily)`);
    const container = (await runtime.podContainers(input.podUid)).find((c) => c.id === id)!;
    const state = await new Runc({ runc: runc.binary, root: runc.root }).state(id!);
    if (state.status !== 'paused') {
      throw ApplicationFailure.nonRetryable(`checkpointing ${ref} lazily: it is ${state.status}, not paused (the pod freeze did not hold)`, 'ContainerNotPaused');
    }
    const dir = await deps.dirs.container(input.migrationId, input.container, 'source');
    const started = Date.now();
    const pageServer = await whileHeartbeating(
      (signal) =>
        startLazyDump({ runc, containerId: id!, dir, host: deps.pageServerHost, tls: credentials.current(), hostRoot: deps.hostRoot, timeoutMs: input.timeoutSeconds * 1000, signal }),
      () => ({ waitingMs: Date.now() - started }),
    ).catch((err: unknown) => {
      throw ApplicationFailure.create({ message: `checkpointing ${ref} lazily: ${(err as Error).message}`, type: 'CheckpointFailed', nonRetryable: err instanceof LazyDumpFailed, cause: err as Error });
    });
    const archivePath = await deps.archives.newArchive({ namespace: input.namespace, name: input.pod }, input.container);
    await writeContainerdArchive({
      container,
      runtimeType: 'io.containerd.runc.v2',
      bundle: state.bundle,
      pid: state.pid,
      imagesDir: imagesOf(dir),
      workDir: dir.local,
      archive: deps.archives.onHost(archivePath),
      extraAnnotations: { [CRIU_CONFIG_ANNOTATION]: input.criuConfigAtTarget },
      onHost: (hostPath) => deps.archives.onHost(hostPath),
    });
    await deps.archives.restrict(archivePath);
    const migrationId = currentWorkflowId();
    if (migrationId) await deps.archives.recordMigration(archivePath, migrationId);
    return { container: input.container, archivePath, durationMs: Date.now() - started, pageServer };
  }

  /** Resolves once the lazy dump ended having served every page; PagesNotSent when it ended otherwise. */
  async function awaitPagesSent(input: PagesInput): Promise<{ container: string }> {
    await untilWellEnded(input, 'source', lazyDumpEnd, 'PagesNotSent');
    return { container: input.container };
  }

  /** Stops a migration's page servers and daemons still running on this node (idempotent). */
  async function stopPostCopyProcesses(migrationId: string): Promise<void> {
    for (const dir of await deps.dirs.containers(migrationId)) await killDetached(dir.local);
  }

  /**
   * Stops what a migration still runs on this node and removes its files, on either side (idempotent). The CRIU
   * configuration of a container it restored here stays, without post-copy's options, when `restored` (the
   * container names it for life), else it goes too.
   */
  async function endPostCopy(input: { migrationId: string; containers: string[]; restored: boolean }): Promise<void> {
    await stopPostCopyProcesses(input.migrationId);
    // Without a restored container to keep, a restore still waiting on a daemon here cannot complete either.
    if (!input.restored) await killStrandedRestores(await deps.dirs.containers(input.migrationId));
    for (const container of input.containers) await settleLazyRestoreConfig(await deps.dirs.restoreConfig(input.migrationId, container), deps.hostRoot, input.restored);
    await deps.dirs.remove(input.migrationId);
  }

  async function prepareLazyRestore(input: { migrationId: string; containers: string[] }): Promise<{ criuConfigs: Record<string, string> }> {
    await requirePostCopy();
    const criuConfigs: Record<string, string> = {};
    for (const container of input.containers) {
      const config = await deps.dirs.restoreConfig(input.migrationId, container);
      await writeLazyRestoreConfig(await deps.dirs.container(input.migrationId, container, 'target'), config, deps.hostRoot);
      criuConfigs[container] = config.host;
    }
    return { criuConfigs };
  }

  async function startLazyPages(input: { migrationId: string; container: string; layerDigest: string; pageServer: PageServer }): Promise<{ container: string; lazyPageBytes: number }> {
    const { credentials, containerd } = await requirePostCopy();
    const dir = await deps.dirs.container(input.migrationId, input.container, 'target');
    await killDetached(dir.local); // an earlier attempt's daemon
    const { lazyPageBytes } = await whileHeartbeating((signal) =>
      startDaemon({ dir, archive: readContainerdBlob(containerd, input.layerDigest, signal), pageServer: input.pageServer, tls: credentials.current(), timeoutMs: START_TIMEOUT_MS, signal }),
    ).catch((err: unknown) => {
      throw ApplicationFailure.create({ message: `starting the lazy-pages daemon of ${input.container} on ${where}: ${(err as Error).message}`, type: 'LazyPagesFailed', cause: err as Error });
    });
    return { container: input.container, lazyPageBytes };
  }

  /** Resolves once every page of the container has arrived (with the time it did); PagesNotReceived otherwise. */
  async function awaitPagesReceived(input: PagesInput): Promise<{ container: string; arrivedAt: number }> {
    await untilWellEnded(
      input,
      'target',
      async (dir) => {
        const end = await lazyPagesEnd(dir);
        if (end.failure) await killStrandedRestores([dir]);
        return end;
      },
      'PagesNotReceived',
    );
    return { container: input.container, arrivedAt: Date.now() };
  }

  /** Polls until the container's process on this side (dump or daemon) ended; `failureType` when it ended otherwise than well. */
  async function untilWellEnded(input: PagesInput, side: 'source' | 'target', endOf: (dir: PostCopyDir) => Promise<ProcessEnd & { failure?: string }>, failureType: string) {
    const dir = await deps.dirs.container(input.migrationId, input.container, side);
    const what = side === 'source' ? 'the source to have sent every page' : 'every page to arrive';
    await untilEnded(input, what, async () => {
      const end = await endOf(dir);
      if (!end.ended) return false;
      if (end.failure) throw ApplicationFailure.nonRetryable(`container ${input.container} on ${where}: ${end.failure}`, failureType);
      return true;
    });
  }

  return {
    activities: { describePostCopy, checkpointLazily, awaitPagesSent, prepareLazyRestore, startLazyPages, awaitPagesReceived, endPostCopy },
    stopPostCopyProcesses,
  };
}

export type PostCopyActivities = ReturnType<typeof createPostCopyActivities>['activities'];

/** Polls `ended` (true: done) until it says so, heartbeating; TimedOut after input.timeoutSeconds. */
async function untilEnded(input: PagesInput, what: string, ended: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  await whileHeartbeating(
    async (signal) => {
      while (!(await ended())) {
        if (Date.now() - started > input.timeoutSeconds * 1000) {
          throw ApplicationFailure.nonRetryable(`waited ${input.timeoutSeconds}s for ${what} (container ${input.container})`, 'PagesTimedOut');
        }
        await sleep(POLL_MS, signal);
      }
    },
    () => ({ waitingMs: Date.now() - started }),
  );
}
