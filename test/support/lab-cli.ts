// Runs the built podferry CLI (dist/) against the lab configuration, on a given task queue (the e2e tests
// run the orchestration in their own worker, so the lab's orchestrator need not be rebuilt for them).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessOutcome } from './run-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function podferry(args: string[], taskQueue: string): Promise<ProcessOutcome> {
  return runProcess(process.execPath, [path.join(root, 'dist/cli/podferry.js'), ...args], { PODFERRY_TASK_QUEUE: taskQueue });
}
