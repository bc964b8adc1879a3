#!/usr/bin/env node
// podferry: start, watch and list pod migrations.
//   podferry migrate <ns>/<pod> --from <cluster> --to <cluster> [--node N] [--target-namespace X] [--sequential] [--transfer direct|registry] [--mode postcopy] [--wait] [--json]
//   podferry status <id> [--json]
//   podferry list [--json]
//   podferry cancel <id>
//   podferry resume <id>   (a source a failed migration kept frozen)
import cliProgress from 'cli-progress';
import { WorkflowFailedError } from '@temporalio/client';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { MigratePodInput, MigrationMode, type MigratePodRequest, type MigrationProgress } from '../api/migration.js';
import { WORKFLOW_TYPE } from '../api/names.js';
import { ConfigError } from '../config/load.js';
import {
  checkedMigrationId,
  describeFailure,
  getProgress,
  InvalidMigrationInput,
  listMigrations,
  resumeHeldSource,
  startMigration,
  watchMigration,
  type MigrationHandle,
} from '../client/migrations.js';
import { checkRequest, connect, loadCliConfig, positiveInt } from './common.js';
import { resultReport, table } from './format.js';
import { isOperationInputError, printOperationStatus, registerOperationCommands } from './operations.js';

function parsePodRef(ref: string): { namespace: string; pod: string } {
  const parts = ref.split('/');
  if (parts.length === 1 && parts[0]) return { namespace: 'default', pod: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], pod: parts[1] };
  throw new InvalidArgumentError(`expected <namespace>/<pod> (or <pod> in namespace default), got "${ref}"`);
}

function progressPrinter(json: boolean): { update(p: MigrationProgress): void; stop(): void } {
  if (json) return { update: () => undefined, stop: () => undefined };
  if (!process.stderr.isTTY) {
    let lastPhase = '';
    return {
      update(p) {
        if (p.phase !== lastPhase) {
          lastPhase = p.phase;
          process.stderr.write(`[${new Date().toISOString()}] ${p.phase} (${p.stepsDone}/${p.stepsTotal})\n`);
        }
      },
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: ' {bar} {value}/{total} steps | {phase} {containers}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const containers = Object.entries(p.containers)
        .map(([name, c]) => `${name}:${c.state}`)
        .join(' ');
      if (!started) {
        bar.start(p.stepsTotal, p.stepsDone, { phase: p.phase, containers });
        started = true;
      }
      bar.setTotal(p.stepsTotal);
      bar.update(p.stepsDone, { phase: p.phase, containers });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

async function follow(handle: MigrationHandle, json: boolean): Promise<void> {
  const printer = progressPrinter(json);
  let finalProgress: MigrationProgress | undefined;
  try {
    const result = await watchMigration(handle, (p) => {
      finalProgress = p;
      printer.update(p);
    });
    printer.stop();
    console.log(json ? JSON.stringify({ migrationId: handle.workflowId, status: 'Succeeded', result }, null, 2) : `\n${resultReport(result)}`);
  } catch (err) {
    printer.stop();
    const failure = describeFailure(err);
    if (json) {
      console.log(JSON.stringify({ migrationId: handle.workflowId, status: 'Failed', type: failure.type, error: failure.chain, progress: finalProgress }, null, 2));
    } else {
      console.error(`\nmigration ${handle.workflowId} did not complete (${failure.type ?? "failed"}): ${failure.chain.join(": ")}`);
      if (finalProgress?.compensations.length) {
        console.error(`compensations (in order): ${finalProgress.compensations.map((c) => `${c.name}${c.ok ? '' : ` FAILED (${c.error})`}`).join(' → ')}`);
      }
    }
    process.exitCode = 1;
  }
}

/** The command line, built afresh for each run. Parse errors throw (exitOverride) instead of exiting the process. */
function podferryProgram(): Command {
  const program = new Command()
    .name('podferry')
    .description('Live-migrate Kubernetes pods between clusters (durable Temporal workflow)')
    .exitOverride() // set before the subcommands are added: they inherit it
    .option('-c, --config <file>', 'configuration file (default: $PODFERRY_CONFIG or config/lab.yaml)');

  program
    .command('migrate')
    .description('migrate a running pod to another cluster, or to another node of its own cluster')
    .argument('<pod>', '<namespace>/<pod> in the source cluster', parsePodRef)
    .requiredOption('--from <cluster>', 'source cluster (a name under `clusters:` in the configuration)')
    .requiredOption('--to <cluster>', 'target cluster (the source cluster itself: the pod moves to another node; see --node)')
    .option('--node <node>', 'bind the target pod to this node (or Liqo virtual node)')
    .option('--target-namespace <namespace>', 'namespace in the target cluster (default: the source namespace)')
    .option('--sequential', 'checkpoint and push containers one after another (baseline for benchmarks)')
    .addOption(
      new Option('--transfer <how>', 'how checkpoint images reach the target: through the registry, or node to node (direct; needs --node)')
        .choices(['registry', 'direct'])
        .default('registry'),
    )
    .addOption(
      new Option('--mode <mode>', 'stop-and-copy: all memory inside the downtime; postcopy: the target starts first and pulls the memory from the frozen source (needs --node)')
        .choices(MigrationMode.options)
        .default('stop-and-copy'),
    )
    .option('--checkpoint-timeout <seconds>', 'kubelet checkpoint timeout per container', positiveInt)
    .option('--ready-timeout <seconds>', 'how long the target pod may take to become Ready', positiveInt)
    .option('--keep-images', 'keep the checkpoint images in the registry after success')
    .option('--keep-archives', 'keep the checkpoint archives on the source node after success')
    .option('--allow-secrets-to-other-namespace', 'with --target-namespace: copy the Secrets the pod references into that namespace')
    .option('--allow-unschedulable-node', 'with --node: place the pod there even if the node is cordoned or has taints the pod does not tolerate')
    .option('--id <migrationId>', 'workflow id to use (default: generated)')
    .option('--wait', 'follow the migration until it ends and print the timing table')
    .option('--json', 'machine-readable output')
    .action(async (pod: { namespace: string; pod: string }, opts) => {
      const config = loadCliConfig(program);
      const request: MigratePodRequest = {
        source: { cluster: opts.from, namespace: pod.namespace, pod: pod.pod },
        target: {
          cluster: opts.to,
          // An empty value given is refused, not taken for "not given".
          ...(opts.targetNamespace !== undefined ? { namespace: opts.targetNamespace } : {}),
          ...(opts.node !== undefined ? { node: opts.node } : {}),
        },
        options: {
          parallel: !opts.sequential,
          transfer: opts.transfer,
          mode: opts.mode,
          ...(opts.checkpointTimeout ? { checkpointTimeoutSeconds: opts.checkpointTimeout } : {}),
          ...(opts.readyTimeout ? { readyTimeoutSeconds: opts.readyTimeout } : {}),
          cleanup: { images: opts.keepImages ? 'keep' : 'delete', archives: opts.keepArchives ? 'keep' : 'delete' },
          allowSecretsToOtherNamespace: Boolean(opts.allowSecretsToOtherNamespace),
          allowUnschedulableTargetNode: Boolean(opts.allowUnschedulableNode),
        },
      };
      checkRequest(MigratePodInput, request, 'migration', InvalidMigrationInput);
      for (const name of [opts.from, opts.to]) {
        if (!Object.hasOwn(config.clusters, name)) {
          throw new InvalidMigrationInput(
            `cluster "${name}" is not in the configuration (known: ${Object.keys(config.clusters).join(', ') || 'none'}): add it under clusters: or fix --from/--to`,
          );
        }
      }
      if (opts.id !== undefined) checkedMigrationId(opts.id);
      const client = await connect(config);
      const handle = await startMigration(client, request, { taskQueue: config.temporal.taskQueue, migrationId: opts.id });
      if (!opts.wait) {
        console.log(opts.json ? JSON.stringify({ migrationId: handle.workflowId }) : `started migration ${handle.workflowId}\nfollow it: podferry status ${handle.workflowId}`);
        return;
      }
      if (!opts.json) console.error(`migration ${handle.workflowId}: ${pod.namespace}/${pod.pod} ${opts.from} → ${opts.to}`);
      await follow(handle, Boolean(opts.json));
    });

  program
    .command('status')
    .description('show the progress or the result of a migration (or of a drain or rebalancing run)')
    .argument('<migrationId>')
    .option('--wait', 'follow it until it ends')
    .option('--json', 'machine-readable output')
    .action(async (migrationId: string, opts) => {
      const client = await connect(loadCliConfig(program));
      const handle = client.workflow.getHandle(migrationId) as MigrationHandle;
      const description = await handle.describe();
      if (description.type !== WORKFLOW_TYPE) return printOperationStatus(handle, description.type, description.status.name, Boolean(opts.json));
      if (opts.wait && description.status.name === 'RUNNING') return follow(handle, Boolean(opts.json));
      const progress = await getProgress(handle).catch(() => undefined);
      let result: unknown;
      let failure: ReturnType<typeof describeFailure> | undefined;
      if (description.status.name === 'COMPLETED') result = await handle.result();
      else if (description.status.name !== 'RUNNING') await handle.result().catch((err) => (failure = describeFailure(err)));
      if (opts.json) {
        console.log(JSON.stringify({ migrationId, status: description.status.name, progress, result, failure }, null, 2));
        return;
      }
      console.log(`migration ${migrationId}: ${description.status.name}${progress ? `, phase ${progress.phase} (${progress.stepsDone}/${progress.stepsTotal} steps)` : ''}`);
      if (progress) {
        console.log(table(['container', 'state', 'image'], Object.entries(progress.containers).map(([n, c]) => [n, c.state, c.image ?? ''])));
        if (progress.error) console.log(`error: ${progress.error}`);
        if (progress.compensations.length) console.log(`compensations: ${progress.compensations.map((c) => `${c.name}${c.ok ? '' : ' (failed)'}`).join(' → ')}`);
      }
      if (result) console.log(`\n${resultReport(result as never)}`);
      if (failure) console.log(`failure: ${failure.chain.join(': ')}`);
    });

  program
    .command('cancel')
    .description('cancel a running migration: everything done so far is undone and the source continues (no effect after the commit point)')
    .argument('<migrationId>')
    .option('--wait', 'wait until the rollback is complete')
    .action(async (migrationId: string, opts) => {
      const client = await connect(loadCliConfig(program));
      const handle = client.workflow.getHandle(migrationId) as MigrationHandle;
      await handle.cancel();
      console.log(`cancellation requested for ${migrationId}`);
      if (opts.wait) {
        const outcome = await handle.result().then(
          () => 'it had already passed the commit point and completed',
          (err: unknown) => describeFailure(err).chain.join(': ') || 'cancelled',
        );
        const progress = await getProgress(handle).catch(() => undefined);
        console.log(`${migrationId}: ${outcome}${progress ? ` (phase ${progress.phase}; undone: ${progress.compensations.map((c) => c.name).join(' → ') || 'nothing'})` : ''}`);
      }
    });

  program
    .command('resume')
    .description(
      'resume the source a failed migration kept frozen because its target pod could not be proven stopped; refused while any target pod of that migration exists',
    )
    .argument('<migrationId>')
    .option('--json', 'machine-readable output')
    .action(async (migrationId: string, opts) => {
      const config = loadCliConfig(program);
      checkedMigrationId(migrationId);
      const client = await connect(config);
      const resumed = await resumeHeldSource(client, migrationId, { taskQueue: config.temporal.taskQueue }).catch((err: unknown) => {
        // The workflow's refusal (a target pod still exists, nothing held) is the message, not "workflow failed".
        throw err instanceof WorkflowFailedError ? new Error(`cannot resume ${migrationId}: ${describeFailure(err).message}`) : err;
      });
      if (opts.json) console.log(JSON.stringify(resumed, null, 2));
      else {
        const s = resumed.source;
        console.log(
          `${migrationId}: pod ${s.namespace}/${s.name} in ${s.cluster} on ${s.node} ${resumed.thawed ? 'runs again' : 'was not frozen (already thawed)'}; ` +
            `lock ${resumed.lockReleased ? 'released' : 'already gone'}`,
        );
      }
    });

  program
    .command('list')
    .description('list migrations')
    .option('--limit <n>', 'at most this many', positiveInt, 50)
    .option('--json', 'machine-readable output')
    .action(async (opts) => {
      const client = await connect(loadCliConfig(program));
      const migrations = await listMigrations(client, { limit: opts.limit });
      if (opts.json) {
        console.log(JSON.stringify(migrations, null, 2));
        return;
      }
      console.log(
        table(
          ['migration', 'status', 'phase', 'source', 'target', 'started'],
          migrations.map((m) => [m.migrationId, m.status, m.phase ?? '', m.source ?? '', m.target ?? '', m.startTime.toISOString()]),
        ),
      );
    });

  registerOperationCommands(program); // drain, schedule (src/cli/operations.ts)
  return program;
}

/**
 * Runs one command line (argv as in process.argv). Resolves to the exit code of a failure, after printing
 * it, or to undefined when the command ran (it sets process.exitCode itself when its outcome is bad).
 */
export async function runPodferry(argv: string[]): Promise<number | undefined> {
  try {
    await podferryProgram().parseAsync(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander has printed it (or the help)
    if (err instanceof ConfigError || err instanceof InvalidMigrationInput || isOperationInputError(err)) console.error((err as Error).message);
    else console.error(`podferry: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

// Run as the podferry command, not when imported (tests run it in-process). The gRPC connection would keep
// the process alive: leave once the command is done.
if (import.meta.main) process.exit(await runPodferry(process.argv));
