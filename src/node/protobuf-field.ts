// The one protobuf shape podferry speaks to node runtimes: messages whose field 1 is length-delimited
// (a string, or a nested message). Enough for containerd's Pause/Resume and CRI's image calls, so no
// generated code and no .proto files are needed.

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** Field 1, wire type 2: tag 0x0a, the length as a varint, the bytes. */
export function encodeField1(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
}

/** The string in field 1, or '' when the message does not start with it. */
export function decodeStringField1(bytes: Buffer): string {
  return decodeField1(bytes)?.toString('utf8') ?? '';
}

/** The bytes of field 1 (a string or a nested message), or undefined when the message does not start with it. */
export function decodeField1(bytes: Buffer): Buffer | undefined {
  if (bytes.length < 2 || bytes[0] !== 0x0a) return undefined;
  let length = 0;
  let shift = 0;
  let i = 1;
  for (; i < bytes.length; i++) {
    const b = bytes[i]!;
    length |= (b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) === 0) break;
  }
  return bytes.subarray(i + 1, i + 1 + length);
}
