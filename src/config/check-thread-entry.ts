// The worker-thread side of checkPipelineOffThread: loads one file without importing its handler
// and posts back the issues (an empty list when it is valid).
import { parentPort, workerData } from 'node:worker_threads';
import { loadPipelineFile } from './load.ts';

const { file, env } = workerData as { file: string; env: NodeJS.ProcessEnv };
const result = await loadPipelineFile(file, { env, importModules: false });
parentPort?.postMessage(result.ok ? [] : result.issues);
