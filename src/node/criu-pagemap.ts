// How much memory a lazy dump left for the page server: the pages CRIU's pagemap images mark lazy (PE_LAZY), i.e.
// what reaches the target after its start. Read from the images themselves (CRIU's own counters of the transfer
// are only in its debug log). Format (CRIU 4.2, images/pagemap.proto, criu/include/magic.h): two 32-bit magics,
// then length-prefixed protobuf messages: a pagemap_head, then one pagemap_entry per run of pages. Pure.

const PAGEMAP_MAGIC = 0x56084025;
/** pagemap_entry.flags: the pages can be restored lazily. */
const PE_LAZY = 1 << 1;

/** Pages marked lazy in one pagemap image (pagemap-<pid>.img). */
export function lazyPageCount(image: Uint8Array): number {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.byteLength < 8 || view.getUint32(4, true) !== PAGEMAP_MAGIC) throw new Error('not a CRIU pagemap image (magic)');
  let offset = 8;
  let pages = 0;
  let first = true;
  while (offset + 4 <= image.byteLength) {
    const length = view.getUint32(offset, true);
    const message = image.subarray(offset + 4, offset + 4 + length);
    if (message.byteLength !== length) throw new Error('truncated CRIU pagemap image');
    offset += 4 + length;
    if (first) {
      first = false; // pagemap_head
      continue;
    }
    const entry = pagemapEntry(message);
    if (entry.flags & PE_LAZY) pages += entry.nrPages;
  }
  return pages;
}

function pagemapEntry(message: Uint8Array): { nrPages: number; flags: number } {
  let compatNrPages = 0;
  let nrPages: number | undefined;
  let flags = 0;
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = message[at++];
      if (byte === undefined) throw new Error('truncated varint in a CRIU pagemap entry');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (at < message.byteLength) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (wireType !== 0) throw new Error(`unexpected wire type ${wireType} in a CRIU pagemap entry`);
    const value = varint();
    if (field === 2) compatNrPages = value;
    else if (field === 4) flags = value;
    else if (field === 5) nrPages = value;
  }
  return { nrPages: nrPages ?? compatNrPages, flags };
}
