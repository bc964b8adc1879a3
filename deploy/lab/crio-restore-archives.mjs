// Restores archives written by deploy/lab/crio-source-checkpoint.sh (or CRI-O's own) as a new pod on lab-c (issue 13):
// usage: node deploy/lab/crio-restore-archives.mjs <source-pod> <restored-pod> <dir>
// <dir>/<container>.tar become checkpoint images (podferry's image builder, lab registry, tags crio2-<restored-pod>-<container>),
// the restored pod is the source rebuilt by buildTargetPod on lab-c-node; prints the sample's state checks against
// <dir>/before.json (a SampleState read before the freeze). Needs a build (PODFERRY_DIST, default <repo>/dist).
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
const repo = path.resolve(import.meta.dirname, '../..');
const dist = process.env.PODFERRY_DIST ?? path.join(repo, 'dist');
const { createRegistryActivities } = await import(`${dist}/activities/registry.js`);
const { loadConfig } = await import(`${dist}/config/load.js`);
const { Clusters } = await import(`${dist}/kubernetes/clusters.js`);
const { buildTargetPod } = await import(`${dist}/kubernetes/target-pod.js`);
const { compareSampleStates, isReady, readSampleState, waitForPod } = await import(`${dist}/lab/sample-workload.js`);
const { CheckpointArchives } = await import(`${dist}/node/checkpoint-archives.js`);
const { RegistryClient } = await import(`${dist}/registry/client.js`);
const [src, dst, dir] = process.argv.slice(2);
const config = loadConfig({ path: path.join(repo, 'config/lab-c.yaml') });
const clusters = new Clusters(config.clusters);
const core = clusters.core('lab-c');
const named = `${dir}/named`;
await mkdir(named, { recursive: true });
const archives = new CheckpointArchives({ hostRoot: '/', checkpointDir: named });
const registry = createRegistryActivities({ registry: new RegistryClient(config.registry), repository: config.registry.repository, archives });
const source = await core.readNamespacedPod({ namespace: 'default', name: src });
const images = {};
for (const c of ['counter', 'kv', 'ballast']) {
  const p = `${named}/checkpoint-${src}_default-${c}-2026-11-30T00:00:00Z.tar`;
  await copyFile(`${dir}/${c}.tar`, p);
  const t0 = Date.now();
  const pushed = await registry.pushCheckpointImage({ migrationId: `crio2-${src}`, container: c, archivePath: p, tag: `crio2-${dst}-${c}` });
  images[c] = pushed.ref; console.log(`pushed ${c} ${pushed.ref} ${Date.now() - t0} ms`);
}
const body = buildTargetPod({ source, sourceCluster: 'lab-c', targetNamespace: 'default', targetNode: 'lab-c-node', images, migrationId: `crio2-${src}` });
body.metadata.name = dst;
await core.createNamespacedPod({ namespace: 'default', body });
const t0 = Date.now();
let restored;
try { restored = await waitForPod(core, 'default', dst, isReady, 120_000); }
catch (e) { const p = await core.readNamespacedPod({ namespace: 'default', name: dst }); console.log(e.message, JSON.stringify(p.status.containerStatuses?.map((s) => [s.name, s.state]))); process.exit(1); }
console.log(`restored pod Ready ${Date.now() - t0} ms after create; restarts ${restored.status.containerStatuses.map((s) => `${s.name}=${s.restartCount}`).join(' ')}`);
const before = JSON.parse(await readFile(`${dir}/before.json`, 'utf8'));
const after = await readSampleState(restored.status.podIP);
console.log(`restored counter: count ${after.count}, started ${after.startedAt}, longest gap ${Math.round(after.longestGapMs)} ms`);
for (const check of compareSampleStates(before, after)) console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.what}: ${check.detail}`);
