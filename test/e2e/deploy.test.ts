// deploy/ applied to a lab cluster: the kustomize overlay deploy/overlays/lab-a is accepted by lab-a's API
// server; the node worker runs there as a DaemonSet pod (its image built from this checkout by
// deploy/lab/worker-image.sh, pulled from the lab registry, nothing from outside) and does the node-local
// steps of a real migration (freeze, push, archive clean-up), proven by the worker identities that Temporal
// recorded for those activities. The lab's host-process node worker for lab-a is stopped meanwhile.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { createTemporalClient } from '../../src/client/connection.js';
import { loadConfig } from '../../src/config/load.js';
import { Clusters } from '../../src/kubernetes/clusters.js';
import { compareSampleStates, deploySample, isReady, readSampleState, waitForPod } from '../../src/lab/sample-workload.js';
import { labCacheDir, temporalBinary } from '../support/temporal.js';

const root = path.resolve(import.meta.dirname, '../..');
const kubectlBin = path.join(labCacheDir(), 'kubernetes-v1.37.2/kubectl');
const kubeconfig = '/var/lib/podferry-lab/kubeconfig';
const hostNodeWorkerPid = '/run/podferry-lab/pids/podferry-node-lab-a-node.pid';
const config = loadConfig();
const clusters = new Clusters(config.clusters);

function kubectl(...args: string[]): string {
  return execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', ...args], { encoding: 'utf8' });
}

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('deploy/ on a lab cluster', () => {
  beforeAll(() => {
    execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' });
    execFileSync(path.join(root, 'deploy/lab/worker-image.sh'), { stdio: 'inherit' });
    spawnSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'create', 'namespace', 'podferry-system']);
    const secret = kubectl('create', 'secret', 'generic', 'podferry-kubeconfigs', '-n', 'podferry-system', `--from-file=kubeconfig=${kubeconfig}`, '--dry-run=client', '-o', 'yaml');
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'apply', '-f', '-'], { input: secret });
    // The key the lab's own orchestrator signs node calls with: the in-cluster workers share it.
    const key = kubectl('create', 'secret', 'generic', 'podferry-node-call-key', '-n', 'podferry-system', `--from-file=key=${config.security.nodeCallKeyFile}`, '--dry-run=client', '-o', 'yaml');
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'apply', '-f', '-'], { input: key });
    // The lab's history key: the in-cluster workers read and write the same histories as the host ones.
    const historyKey = kubectl('create', 'secret', 'generic', 'podferry-history-key', '-n', 'podferry-system', `--from-file=key=${config.security.historyKeyFile}`, '--dry-run=client', '-o', 'yaml');
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'apply', '-f', '-'], { input: historyKey });
    // The lab's checkpoint registry: its identities and its CA.
    const registry = config.registry!;
    const identities = kubectl('create', 'secret', 'generic', 'podferry-registry', '-n', 'podferry-system', `--from-literal=username=${registry.username}`, `--from-literal=password=${registry.password}`,
      `--from-literal=pullUsername=${registry.pull!.username}`, `--from-literal=pullPassword=${registry.pull!.password}`, '--dry-run=client', '-o', 'yaml');
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'apply', '-f', '-'], { input: identities });
    const registryCa = kubectl('create', 'secret', 'generic', 'podferry-registry-ca', '-n', 'podferry-system', `--from-file=ca.crt=${registry.caFile}`, '--dry-run=client', '-o', 'yaml');
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'apply', '-f', '-'], { input: registryCa });
    // And the lab's transfer CA: in-cluster node workers and the host ones know each other.
    const tls = config.node!.transfer.tls!;
    const ca = kubectl('create', 'secret', 'generic', 'podferry-transfer-ca', '-n', 'podferry-system', `--from-file=ca.crt=${tls.caFile}`, `--from-file=ca.key=${tls.caKeyFile}`, '--dry-run=client', '-o', 'yaml');
    execFileSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'apply', '-f', '-'], { input: ca });
  }, 300_000);

  afterAll(() => {
    spawnSync(kubectlBin, ['--kubeconfig', kubeconfig, '--context', 'lab-a', 'delete', '-k', path.join(root, 'deploy/overlays/lab-a'), '--wait=true', '--ignore-not-found']);
    // That removed the namespace podferry-system and the ServiceAccount podferry the lab's least-privilege
    // identity is (deploy/lab/least-privilege.sh): give the lab its identity back.
    execFileSync(path.join(root, 'deploy/lab/least-privilege.sh'), { stdio: 'inherit' });
    execFileSync(path.join(root, 'deploy/lab/workers.sh'), { stdio: 'inherit' }); // the host node worker again
  }, 300_000);

  test('the overlay is accepted and the workers run as pods', async () => {
    expect(kubectl('apply', '-k', path.join(root, 'deploy/overlays/lab-a'))).toMatch(/daemonset.apps\/podferry-node-worker (created|configured|unchanged)/);
    await eventually('node worker DaemonSet ready', () => {
      // One pod per lab-a node (lab-a has two).
      const ds = JSON.parse(kubectl('get', 'daemonset', 'podferry-node-worker', '-n', 'podferry-system', '-o', 'json')) as {
        status: { numberReady?: number; desiredNumberScheduled?: number };
      };
      return ds.status.numberReady === 2 && ds.status.desiredNumberScheduled === 2 ? true : undefined;
    }, 180_000);
    await eventually('orchestrator Deployment available', () => {
      const deployment = JSON.parse(kubectl('get', 'deployment', 'podferry-orchestrator', '-n', 'podferry-system', '-o', 'json')) as { status: { availableReplicas?: number } };
      return deployment.status.availableReplicas === 1 ? true : undefined;
    }, 180_000);
  }, 400_000);

  test('the DaemonSet pod does the node-local steps of a real migration', async () => {
    const podName = kubectl(
      'get', 'pods', '-n', 'podferry-system', '-l', 'app.kubernetes.io/name=podferry-node-worker', '--field-selector', 'spec.nodeName=lab-a-node',
      '-o', 'jsonpath={.items[0].metadata.name}',
    );
    // Only the DaemonSet pod serves lab-a's node queue now.
    const pid = Number(readFileSync(hostNodeWorkerPid, 'utf8'));
    process.kill(pid, 'SIGTERM');
    rmSync(hostNodeWorkerPid);
    const connection = await Connection.connect({ address: config.temporal.address });
    const client = createTemporalClient(connection, config);
    await eventually('the DaemonSet pod polls lab-a-node\'s queue', () => {
      const out = spawnSync(temporalBinary(), [
        'task-queue', 'describe', '--address', config.temporal.address, '--task-queue', 'podferry-node-lab-a-lab-a-node', '-o', 'json',
      ], { encoding: 'utf8' }).stdout;
      return out.includes(podName) ? true : undefined;
    }, 120_000);

    const source = await deploySample(clusters, 'lab-a', { removeFrom: ['lab-b'] });
    const before = await readSampleState(source.status!.podIP!);
    const cli = spawnSync(process.execPath, [path.join(root, 'dist/cli/podferry.js'), 'migrate', 'default/sample', '--from', 'lab-a', '--to', 'lab-b', '--wait', '--json'], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const { migrationId } = JSON.parse(cli.stdout) as { migrationId: string };
    const target = await waitForPod(clusters.core('lab-b'), 'default', 'sample', isReady, 60_000);
    expect(compareSampleStates(before, await readSampleState(target!.status!.podIP!)).filter((c) => !c.ok)).toEqual([]);

    // Who ran what: the source node's activities were picked up by the DaemonSet pod.
    const history = await client.workflow.getHandle(migrationId).fetchHistory();
    const typeByScheduledId = new Map<string, string>();
    const ranBy = new Map<string, Set<string>>();
    for (const event of history.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) typeByScheduledId.set(String(event.eventId), `${scheduled.activityType?.name}@${scheduled.taskQueue?.name}`);
      const started = event.activityTaskStartedEventAttributes;
      if (started) {
        const activity = typeByScheduledId.get(String(started.scheduledEventId)) ?? '?';
        ranBy.set(activity, (ranBy.get(activity) ?? new Set()).add(started.identity ?? ''));
      }
    }
    const onSourceNode = [...ranBy].filter(([activity]) => activity.endsWith('@podferry-node-lab-a-lab-a-node'));
    expect(onSourceNode.map(([activity]) => activity.split('@')[0]).sort()).toEqual(expect.arrayContaining(['freezePod', 'pushCheckpointImage']));
    for (const [activity, identities] of onSourceNode) {
      expect({ activity, identities: [...identities].every((id) => id.includes(podName)) }).toEqual({ activity, identities: true });
    }
    await connection.close();
  }, 400_000);
});
