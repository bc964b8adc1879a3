// Pushes one checkpoint archive as a node worker does, in a process of its own: trusting a registry's CA
// (registry.caFile) changes the whole process's trust, so a test that compares with and without it runs each
// in its own process. Run with
// `node --import test/support/ts-resolve.mjs`; prints the pushed image as JSON, or the failure on stderr.
import { createRegistryActivities } from '../../src/activities/registry.js';
import { CheckpointArchives } from '../../src/node/checkpoint-archives.js';
import { RegistryClient } from '../../src/registry/client.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

try {
  const registry = new RegistryClient({ url: env('REGISTRY_URL'), username: env('REGISTRY_USERNAME'), password: env('REGISTRY_PASSWORD'), caFile: process.env.REGISTRY_CA_FILE });
  const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: env('CHECKPOINT_DIR') });
  const { pushCheckpointImage } = createRegistryActivities({ registry, repository: env('REPOSITORY'), archives });
  const pushed = await pushCheckpointImage({ migrationId: env('TAG'), container: 'kv', archivePath: env('ARCHIVE'), tag: env('TAG') });
  console.log(JSON.stringify(pushed));
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
