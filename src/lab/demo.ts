// `make demo`: the main job on the embedded default (the local lab). Runs the stateful three-container
// sample pod in lab-a, gives it state, migrates it to lab-b with the podferry CLI a user would type, and
// shows from outside that the state came along. Exits non-zero if any check fails.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
import { Clusters } from '../kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, putSampleKey, readSampleState, waitForPod } from './sample-workload.js';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../cli/podferry.js');

async function main(): Promise<number> {
  const config = loadConfig();
  const clusters = new Clusters(config.clusters);
  const [from, to] = ['lab-a', 'lab-b'];

  console.log(`• starting the sample pod (counter, key/value store, 64 MiB ballast) in ${from}`);
  const source = await deploySample(clusters, from, { removeFrom: [to] });
  await putSampleKey(source.status!.podIP!, 'greeting', `hello from ${from}`);
  const before = await readSampleState(source.status!.podIP!);
  console.log(`  count ${before.count}, keys ${JSON.stringify(before.keys)}, ballast sha256 ${before.checksum.slice(0, 16)}…\n`);

  console.log(`• podferry migrate default/sample --from ${from} --to ${to} --wait`);
  const migrate = spawnSync(process.execPath, [cli, 'migrate', 'default/sample', '--from', from, '--to', to, '--wait'], { stdio: 'inherit' });
  if (migrate.status !== 0) return migrate.status ?? 1;

  const target = await waitForPod(clusters.core(to), 'default', 'sample', isReady, 60_000);
  const after = await readSampleState(target!.status!.podIP!);
  console.log(`\n• the sample pod now runs in ${to} on ${target!.spec!.nodeName} (${target!.status!.podIP})`);
  const checks = compareSampleStates(before, after);
  for (const check of checks) console.log(`  ${check.ok ? '✔' : '✘'} ${check.what}: ${check.detail}`);
  console.log(`  the counter itself saw no tick for ${(after.longestGapMs / 1000).toFixed(2)} s (its view of the downtime)`);
  return checks.every((c) => c.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
