// Entry point for the workflow bundle (workflowsPath): every workflow the workers run.
export { migratePod } from './migrate-pod.js';
export { drainNode } from './drain-node.js';
export { rebalance } from './rebalance.js';
export { resumeSource } from './resume-source.js';
