// podferry's operations subcommands, registered on the main program by registerOperationCommands:
//   podferry drain <cluster>/<node> [--to <cluster>] [--to-node <node>] [--pod-selector <labels>] [--concurrency N] [--wait] [--json]
//   podferry schedule create <id> --policy <file|configmap:<cluster>/<ns>/<name>[#key]> --every <duration> [--dry-run]
//   podferry schedule list | show <id> | pause <id> | unpause <id> | trigger <id> | delete <id>
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { Command, InvalidArgumentError } from 'commander';
import type { PodferryConfig } from '../api/config.js';
import { DrainNodeInput, type DrainNodeRequest, type DrainProgress, type DrainReport } from '../api/drain.js';
import type { RebalanceRequest } from '../api/placement-policy.js';
import { describeFailure } from '../client/migrations.js';
import {
  createRebalanceSchedule,
  getDrainProgress,
  InvalidOperationInput,
  listRebalanceSchedules,
  parseEvery,
  recentRebalanceRuns,
  startDrain,
  summarizeSchedule,
  type DrainHandle,
} from '../client/operations.js';
import { PolicyError, policySourceFromArgument } from '../config/placement-policy.js';
import { apiStatus, Clusters } from '../kubernetes/clusters.js';
import { DRAIN_WORKFLOW_TYPE } from '../workflows/operations-definitions.js';
import { checkRequest, connect, loadCliConfig, positiveInt } from './common.js';
import { seconds, table } from './format.js';

function parseNodeRef(ref: string): { cluster: string; node: string } {
  const parts = ref.split('/');
  if (parts.length === 2 && parts[0] && parts[1]) return { cluster: parts[0], node: parts[1] };
  throw new InvalidArgumentError(`expected <cluster>/<node>, got "${ref}"`);
}

function requireClusters(config: PodferryConfig, names: string[]): void {
  for (const name of names) {
    if (!Object.hasOwn(config.clusters, name)) {
      throw new InvalidOperationInput(`cluster "${name}" is not in the configuration (known: ${Object.keys(config.clusters).join(', ') || 'none'})`);
    }
  }
}

export function drainReportText(report: DrainReport): string {
  const rows = [
    ...report.moved.map((m) => [`${m.namespace}/${m.name}`, 'moved', `→ ${m.targetCluster}${m.targetNode ? `/${m.targetNode}` : ''}${m.targetName ? ` as ${m.targetName}` : ''}, downtime ${seconds(m.downtimeMs)}`]),
    ...report.failed.map((f) => [`${f.namespace}/${f.name}`, `failed${f.type ? ` (${f.type})` : ''}`, f.reason]),
    ...report.skipped.map((s) => [`${s.namespace}/${s.name}`, `skipped (${s.type})`, s.reason]),
  ];
  return [
    `drain ${report.drainId}: node ${report.cluster}/${report.node} → ${report.targetCluster}: ` +
      `${report.moved.length} moved, ${report.failed.length} failed, ${report.skipped.length} skipped; ` +
      `${report.complete ? 'complete' : 'NOT complete'}, node ${report.cordoned ? 'cordoned' : 'schedulable again'}`,
    rows.length ? table(['pod', 'outcome', 'detail'], rows, 'left') : '(no pods on the node)',
    ...report.warnings.map((w) => `warning: ${w}`),
  ].join('\n');
}

function drainProgressLine(p: DrainProgress): string {
  return `${p.phase}: ${p.moved.length} moved, ${p.running.length} migrating (${p.running.map((r) => `${r.namespace}/${r.name}`).join(', ')}), ${p.pending.length} waiting, ${p.failed.length} failed, ${p.skipped.length} skipped`;
}

/** `podferry status` of a drain or a rebalancing run (a workflow id that is not a migration). */
export async function printOperationStatus(handle: WorkflowHandle, type: string, status: string, json: boolean): Promise<void> {
  let progress: DrainProgress | undefined;
  let result: unknown;
  let failure: ReturnType<typeof describeFailure> | undefined;
  if (status === 'COMPLETED') result = await handle.result();
  else if (status === 'RUNNING' && type === DRAIN_WORKFLOW_TYPE) progress = await getDrainProgress(handle as DrainHandle).catch(() => undefined);
  else if (status !== 'RUNNING') await handle.result().catch((err: unknown) => (failure = describeFailure(err)));
  if (json) {
    console.log(JSON.stringify({ id: handle.workflowId, type, status, progress, result, failure }, null, 2));
    return;
  }
  if (type === DRAIN_WORKFLOW_TYPE && result) console.log(drainReportText(result as DrainReport));
  else console.log(`${type} ${handle.workflowId}: ${status}${progress ? `, ${drainProgressLine(progress)}` : ''}`);
  if (type !== DRAIN_WORKFLOW_TYPE && result) console.log(JSON.stringify(result, null, 2));
  if (failure) console.log(`failure: ${failure.chain.join(': ')}`);
}

export function registerOperationCommands(program: Command): void {
  program
    .command('drain')
    .description('empty a node: cordon it and migrate every pod that can move (the others are listed with the reason)')
    .argument('<node>', '<cluster>/<node> to drain', parseNodeRef)
    .option('--to <cluster>', 'target cluster (default: the same cluster: pods move to its other nodes)')
    .option('--to-node <node>', 'bind every moved pod to this node of the target cluster')
    .option('--pod-selector <selector>', 'only pods with these labels (e.g. app=web); the node\'s other pods are left alone')
    .option('--concurrency <n>', 'migrations at the same time', positiveInt, 2)
    .option('--id <drainId>', 'workflow id to use (default: generated)')
    .option('--wait', 'follow the drain until it ends and print the report')
    .option('--json', 'machine-readable output')
    .action(async (node: { cluster: string; node: string }, opts) => {
      const config = loadCliConfig(program);
      // An empty value given is refused, not taken for "not given" (an empty --pod-selector would take every pod).
      const request: DrainNodeRequest = {
        source: node,
        target: { ...(opts.to !== undefined ? { cluster: opts.to } : {}), ...(opts.toNode !== undefined ? { node: opts.toNode } : {}) },
        concurrency: opts.concurrency,
        ...(opts.podSelector !== undefined ? { podSelector: opts.podSelector } : {}),
      };
      checkRequest(DrainNodeInput, request, 'drain', InvalidOperationInput);
      requireClusters(config, [node.cluster, ...(opts.to !== undefined ? [opts.to as string] : [])]);
      const client = await connect(config);
      const handle = await startDrain(client, request, { taskQueue: config.temporal.taskQueue, drainId: opts.id });
      if (!opts.wait) {
        console.log(opts.json ? JSON.stringify({ drainId: handle.workflowId }) : `started drain ${handle.workflowId}`);
        return;
      }
      if (!opts.json) console.error(`drain ${handle.workflowId}: node ${node.cluster}/${node.node} → ${opts.to ?? node.cluster}`);
      let last = '';
      const poll = setInterval(() => {
        getDrainProgress(handle)
          .then((p) => {
            const line = drainProgressLine(p);
            if (!opts.json && line !== last) process.stderr.write(`[${new Date().toISOString()}] ${(last = line)}\n`);
          })
          .catch(() => undefined);
      }, 1000);
      try {
        const report = await handle.result();
        console.log(opts.json ? JSON.stringify({ drainId: handle.workflowId, status: 'Completed', report }, null, 2) : drainReportText(report));
        if (!report.complete) process.exitCode = 2;
      } catch (err) {
        const failure = describeFailure(err);
        if (opts.json) console.log(JSON.stringify({ drainId: handle.workflowId, status: 'Failed', type: failure.type, error: failure.chain }, null, 2));
        else console.error(`drain ${handle.workflowId} failed (${failure.type ?? 'failed'}): ${failure.chain.join(': ')}`);
        process.exitCode = 1;
        if (!(err instanceof WorkflowFailedError)) throw err;
      } finally {
        clearInterval(poll);
      }
    });

  const schedule = program.command('schedule').description('scheduled rebalancing: Temporal Schedules that run the rebalance workflow');

  schedule
    .command('create')
    .description('run rebalancing every <duration> with a placement policy (a run never starts while the previous one runs)')
    .argument('<scheduleId>')
    .requiredOption('--policy <source>', 'a policy file (YAML/JSON, written into the schedule) or configmap:<cluster>/<namespace>/<name>[#key] (read at every run)')
    .requiredOption('--every <duration>', 'interval: 10m, 1h, 1d (at least 1m)')
    .option('--dry-run', 'runs only report their plan (overrides the policy\'s guards.dryRun)')
    .option('--json', 'machine-readable output')
    .action(async (scheduleId: string, opts) => {
      const everyMs = parseEvery(opts.every);
      const config = loadCliConfig(program);
      const clusters = new Clusters(config.clusters);
      const { source, policy, description } = await policySourceFromArgument(opts.policy, async (ref) => {
        requireClusters(config, [ref.cluster]);
        try {
          return (await clusters.core(ref.cluster).readNamespacedConfigMap({ namespace: ref.namespace, name: ref.name })).data?.[ref.key];
        } catch (err) {
          if (apiStatus(err) === 404) return undefined;
          throw err;
        }
      });
      requireClusters(config, policy.clusters);
      const client = await connect(config);
      const input: RebalanceRequest = { policy: source, ...(opts.dryRun ? { dryRun: true } : {}) };
      const dryRun = Boolean(opts.dryRun) || policy.guards.dryRun;
      const handle = await createRebalanceSchedule(client, { scheduleId, input, everyMs, taskQueue: config.temporal.taskQueue, description, dryRun });
      const summary = summarizeSchedule(await handle.describe());
      if (opts.json) console.log(JSON.stringify(summary, null, 2));
      else console.log(`schedule ${scheduleId}: rebalance every ${summary.every} with ${description}${dryRun ? ' (dry-run)' : ''}; overlap ${summary.overlap}; next run ${summary.nextRun?.toISOString() ?? '?'}`);
    });

  schedule
    .command('list')
    .description('list rebalancing schedules')
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const client = await connect(loadCliConfig(program));
      const schedules = await listRebalanceSchedules(client);
      if (opts.json) {
        console.log(JSON.stringify(schedules, null, 2));
        return;
      }
      console.log(
        table(
          ['schedule', 'every', 'state', 'policy', 'next run', 'last run'],
          schedules.map((s) => [
            s.scheduleId,
            s.every,
            `${s.paused ? 'paused' : 'active'}${s.dryRun ? ', dry-run' : ''}`,
            s.policy ?? '',
            s.nextRun?.toISOString() ?? '',
            s.lastRun ? `${s.lastRun.at.toISOString()} ${s.lastRun.workflowId}` : '',
          ]),
          'left',
        ),
      );
    });

  schedule
    .command('show')
    .description("a schedule's recent runs: what each moved, skipped (with the reason) and failed")
    .argument('<scheduleId>')
    .option('--json', 'machine-readable output')
    .action(async (scheduleId: string, opts) => {
      const client = await connect(loadCliConfig(program));
      const summary = summarizeSchedule(await client.schedule.getHandle(scheduleId).describe());
      const runs = await recentRebalanceRuns(client, scheduleId);
      if (opts.json) {
        console.log(JSON.stringify({ schedule: summary, runs }, null, 2));
        return;
      }
      console.log(`schedule ${scheduleId}: every ${summary.every}, ${summary.paused ? 'paused' : 'active'}${summary.dryRun ? ', dry-run' : ''}, overlap ${summary.overlap}, policy ${summary.policy ?? '?'}`);
      for (const run of runs) {
        console.log(`\nrun ${run.workflowId} (${run.startedAt.toISOString()}): ${run.status}${run.error ? `: ${run.error}` : ''}`);
        const s = run.summary;
        if (!s) continue;
        const rows = [
          ...(s.dryRun ? s.planned.map((m) => [`${m.from}/${m.namespace}/${m.name}`, 'would move', `→ ${m.to}${m.toNode ? `/${m.toNode}` : ''} (${m.why})`]) : []),
          ...s.moved.map((m) => [`${m.from}/${m.namespace}/${m.name}`, 'moved', `→ ${m.to}, downtime ${seconds(m.downtimeMs)} (${m.why})`]),
          ...s.failed.map((f) => [`${f.from}/${f.namespace}/${f.name}`, `failed${f.type ? ` (${f.type})` : ''}`, f.reason]),
          ...s.skipped.map((k) => [`${k.cluster}/${k.namespace}/${k.name}`, `skipped (${k.type})`, k.reason]),
        ];
        console.log(`${s.candidates} candidate(s)${s.dryRun ? ', dry-run' : ''}`);
        if (rows.length) console.log(table(['pod', 'outcome', 'detail'], rows, 'left'));
      }
    });

  for (const [name, description, act] of [
    ['pause', 'stop starting runs (a running one finishes)', (h: ReturnType<Client['schedule']['getHandle']>) => h.pause('paused with podferry schedule pause')],
    ['unpause', 'start runs again', (h: ReturnType<Client['schedule']['getHandle']>) => h.unpause('unpaused with podferry schedule unpause')],
    ['trigger', 'start a run now (skipped if one is running)', (h: ReturnType<Client['schedule']['getHandle']>) => h.trigger()],
    ['delete', 'delete the schedule (a running run finishes)', (h: ReturnType<Client['schedule']['getHandle']>) => h.delete()],
  ] as const) {
    schedule
      .command(name)
      .description(description)
      .argument('<scheduleId>')
      .action(async (scheduleId: string) => {
        const client = await connect(loadCliConfig(program));
        await act(client.schedule.getHandle(scheduleId));
        console.log(`schedule ${scheduleId}: ${name}${name.endsWith('e') ? 'd' : 'ed'}`);
      });
  }
}

/** Errors whose message is meant for the user as is (no stack, no prefix). */
export function isOperationInputError(err: unknown): boolean {
  return err instanceof PolicyError || err instanceof InvalidOperationInput;
}
