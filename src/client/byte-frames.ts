// Length-prefixed byte strings: a sequence of them joins and splits unambiguously (("ab", "c") and
// ("a", "bc") differ). The node-call signature hashes payloads this way; history encryption packs them.

/** `bytes` behind its length (8 bytes, big-endian). */
export function frame(bytes: Uint8Array): Uint8Array {
  const framed = new Uint8Array(8 + bytes.length);
  new DataView(framed.buffer).setBigUint64(0, BigInt(bytes.length));
  framed.set(bytes, 8);
  return framed;
}

export function joinFrames(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts.map(frame));
}

/** The parts joinFrames joined. */
export function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 8 > bytes.length) throw new Error('truncated frame length');
    const end = at + 8 + Number(view.getBigUint64(at));
    if (end > bytes.length) throw new Error('truncated frame');
    parts.push(bytes.subarray(at + 8, end));
    at = end;
  }
  return parts;
}
