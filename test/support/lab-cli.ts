// Runs the built podferry CLI (dist/) against the lab configuration, on a given task queue (the e2e tests
// run the orchestration in their own worker, so the lab's orchestrator need not be rebuilt for them).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function podferry(args: string[], taskQueue: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'dist/cli/podferry.js'), ...args], {
      env: { ...process.env, NODE_OPTIONS: '', PODFERRY_TASK_QUEUE: taskQueue },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
