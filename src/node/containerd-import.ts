// Imports an image into the node's containerd from an OCI layout tar stream, with containerd's own `ctr`
// (same version as the daemon). `--local` writes the content and unpacks from the client: half the time of
// the Transfer service path, which streams in 64 KiB windows (65 MiB: 0.58 s against 1.08 s on the lab). Imported
// without CRI labels: containerd's CRI plugin then registers the image itself, as for a pull, which the
// checkpoint restore depends on (it looks the image up by its id).
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pack } from 'tar-stream';

/** An OCI layout tar: fetched from another node, or packed here from a local archive (src/oci/oci-layout.ts). */
export type ImageLayoutStream = Readable | Pack;

export class ContainerdImport {
  private readonly options: { ctr: string; address: string; namespace: string };

  constructor(options: { ctr: string; address: string; namespace: string }) {
    this.options = options;
  }

  /**
   * Streams `layout` into `ctr images import`; `baseName` is the repository the image is named under.
   * Aborting `options.signal` stops ctr and the source stream, and rejects with the signal's reason.
   */
  async importLayout(layout: ImageLayoutStream, baseName: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { ctr, address, namespace } = this.options;
    const { signal } = options;
    signal?.throwIfAborted();
    const child = spawn(ctr, ['--address', address, '--namespace', namespace, 'images', 'import', '--local', '--base-name', baseName, '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      signal,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    const exited = new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(signal?.aborted ? signal.reason : new Error(`cannot run ${ctr} (node.containerd.ctr): ${err.message}`)));
      child.once('close', (code) => resolve(code ?? -1));
    });
    // A failing source (the other node went away) stops ctr; a failing ctr breaks the pipe: report the cause.
    const sent = pipeline(layout, child.stdin, { signal }).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => {
        child.kill();
        return err;
      },
    );
    // Awaited together, so that ctr failing to start while the layout is still sending is not left unhandled.
    const [sendError, code] = await Promise.all([sent, exited]);
    signal?.throwIfAborted();
    if (sendError && sendError.code !== 'EPIPE') throw new Error(`receiving the image failed: ${sendError.message}`);
    if (code !== 0) throw new Error(`${ctr} images import exited with ${code}: ${lastErrorLine(stderr)}`);
  }
}

/**
 * A blob of containerd's content store (a checkpoint image's layer is its archive), streamed by ctr. The stream
 * fails with ctr's error when ctr does.
 */
export function readContainerdBlob(options: { ctr: string; address: string; namespace: string }, digest: string, signal?: AbortSignal): Readable {
  const child = spawn(options.ctr, ['--address', options.address, '--namespace', options.namespace, 'content', 'get', digest], { stdio: ['ignore', 'pipe', 'pipe'], signal });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
  child.once('error', (err) => child.stdout.destroy(new Error(`cannot run ${options.ctr} (node.containerd.ctr): ${err.message}`)));
  child.once('close', (code) => {
    if (code !== 0) child.stdout.destroy(new Error(`${options.ctr} content get ${digest} exited with ${code}: ${lastErrorLine(stderr)}`));
  });
  return child.stdout;
}

function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() && !/level=warning/.test(l));
  return lines.at(-1)?.trim() ?? 'no message';
}
