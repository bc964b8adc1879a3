// The pages a lazy dump left for the page server, counted from CRIU's pagemap images (src/node/criu-pagemap.ts):
// images built here to the format (CRIU 4.2 images/pagemap.proto, criu/include/magic.h), and one CRIU wrote.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import { lazyPageCount } from '../../src/node/criu-pagemap.js';

const IMG_SERVICE_MAGIC = 0x54564319;
const PAGEMAP_MAGIC = 0x56084025;
const PE_PARENT = 1 << 0;
const PE_LAZY = 1 << 1;
const PE_PRESENT = 1 << 2;

function varint(value: number): number[] {
  const bytes: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 128)) bytes.push((value % 128) | 0x80);
  return [...bytes, value];
}

function u32(value: number): number[] {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return [...bytes];
}

/** A protobuf message of varint fields only, as pagemap_head and pagemap_entry are. */
function message(fields: [number, number][]): number[] {
  return fields.flatMap(([field, value]) => [...varint(field * 8), ...varint(value)]);
}

interface Entry {
  vaddr: number;
  compatNrPages: number;
  flags: number;
  nrPages?: number;
}

function entry({ vaddr, compatNrPages, flags, nrPages }: Entry): number[] {
  return message([[1, vaddr], [2, compatNrPages], [4, flags], ...(nrPages === undefined ? [] : ([[5, nrPages]] as [number, number][]))]);
}

/** A pagemap image: the magics, a pagemap_head (pages_id), then the entries, each message prefixed by its length. */
function image(entries: Entry[], magic = PAGEMAP_MAGIC): Uint8Array {
  const messages = [message([[1, 1]]), ...entries.map(entry)];
  return Uint8Array.from([...u32(IMG_SERVICE_MAGIC), ...u32(magic), ...messages.flatMap((m) => [...u32(m.length), ...m])]);
}

// Addresses as a process has them: several varint bytes.
const HEAP = 0x5555_5555_0000;
const STACK = 0x7ffd_f000_0000;

describe('lazyPageCount', () => {
  test('counts the pages of lazy entries only, not those dumped (present) or in a parent image', () => {
    const pages = image([
      { vaddr: HEAP, compatNrPages: 0, flags: PE_LAZY, nrPages: 300 },
      { vaddr: HEAP + 300 * 4096, compatNrPages: 0, flags: PE_PRESENT, nrPages: 7 },
      { vaddr: STACK, compatNrPages: 0, flags: PE_LAZY, nrPages: 33 },
      { vaddr: STACK + 33 * 4096, compatNrPages: 0, flags: PE_PARENT, nrPages: 2 },
    ]);
    expect(lazyPageCount(pages)).toBe(333);
  });

  test('nr_pages (field 5) wins over compat_nr_pages (field 2); without it, compat_nr_pages counts', () => {
    expect(lazyPageCount(image([{ vaddr: HEAP, compatNrPages: 5, flags: PE_LAZY, nrPages: 70_000 }]))).toBe(70_000);
    expect(lazyPageCount(image([{ vaddr: HEAP, compatNrPages: 5, flags: PE_LAZY }]))).toBe(5);
  });

  test('no entries: no lazy pages', () => {
    expect(lazyPageCount(image([]))).toBe(0);
  });

  test('reads an image in a larger buffer from its own offset', () => {
    const pages = image([{ vaddr: HEAP, compatNrPages: 0, flags: PE_LAZY, nrPages: 12 }]);
    const padded = new Uint8Array(pages.length + 16);
    padded.set(pages, 16);
    expect(lazyPageCount(padded.subarray(16))).toBe(12);
  });

  test('another image (wrong magic), or fewer bytes than the magics: refused', () => {
    expect(() => lazyPageCount(image([], 0x12345678))).toThrow('not a CRIU pagemap image (magic)');
    expect(() => lazyPageCount(Uint8Array.from(u32(IMG_SERVICE_MAGIC)))).toThrow('not a CRIU pagemap image (magic)');
  });

  test('a truncated image: refused, not counted short', () => {
    const pages = image([{ vaddr: HEAP, compatNrPages: 0, flags: PE_LAZY, nrPages: 300 }]);
    expect(() => lazyPageCount(pages.subarray(0, pages.length - 1))).toThrow('truncated CRIU pagemap image');
    // A message whose last varint is cut short, though its length says it is whole.
    const cut = message([[1, HEAP], [4, PE_LAZY]]).slice(0, -1).concat(0x80);
    const withCutEntry = Uint8Array.from([...image([]), ...u32(cut.length), ...cut]);
    expect(() => lazyPageCount(withCutEntry)).toThrow('truncated varint in a CRIU pagemap entry');
  });

  test('an image CRIU wrote in a lazy dump (76 lazy entries, 7 present): 16764 pages', () => {
    // Counted independently of lazyPageCount (a separate decoder) when the fixture was added.
    const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/criu-pagemap-lazy.img');
    expect(lazyPageCount(readFileSync(fixture))).toBe(16764);
  });
});
