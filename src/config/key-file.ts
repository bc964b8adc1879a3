// Keys mounted from Kubernetes Secrets (node-call signing, history encryption): the file's bytes are the key.
import { readFileSync } from 'node:fs';

/**
 * Reads a key file (at least 32 characters of secret, e.g. `openssl rand -hex 32` in a Secret). `setting`
 * names the configuration field that pointed at it, for the message when the file is missing or short.
 */
export function readKeyFile(file: string, setting: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    throw new Error(`${setting} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)}); mount the key's Secret there or fix the path`);
  }
  if (key.toString('utf8').trim().length < 32) throw new Error(`${setting} ${file}: at least 32 characters of secret expected (openssl rand -hex 32)`);
  return key;
}
