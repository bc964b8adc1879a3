// A worker process for the "worker killed mid-migration" test: the orchestrator worker and the node worker
// with recording stand-in activities, in a child process the test can SIGKILL.
// Run: node --import ./test/support/ts-resolve.mjs test/support/worker-process.ts
// Env: TEMPORAL_ADDRESS, TASK_QUEUE, WORKFLOW_BUNDLE (path of a prebuilt bundle), RECORD_FILE, SCRIPT (JSON),
// TARGET_NODE (the target node whose worker pre-pulls images).
import { NativeConnection, Worker } from '@temporalio/worker';
import { nodeTaskQueue } from '../../src/api/names.js';
import { createRecordingStandInActivities, Recorder, type Script } from './recording-activities.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`worker-process: env ${name} is required`);
  return value;
};

const script = JSON.parse(env('SCRIPT')) as Script;
const activities = createRecordingStandInActivities(new Recorder(env('RECORD_FILE')), script);
const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
const orchestrator = await Worker.create({
  connection,
  taskQueue: env('TASK_QUEUE'),
  workflowBundle: { codePath: env('WORKFLOW_BUNDLE') },
  activities: activities.orchestrator,
});
const node = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-a', script.node), activities: activities.node });
const targetNode = await Worker.create({ connection, taskQueue: nodeTaskQueue('lab-b', env('TARGET_NODE')), activities: activities.node });
process.stdout.write('ready\n');
await Promise.all([orchestrator.run(), node.run(), targetNode.run()]);
