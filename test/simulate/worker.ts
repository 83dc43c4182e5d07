/** One simulator thread: a range of healthy cohorts, progress as it goes. */
import { parentPort, workerData } from 'node:worker_threads';
import { healthyChunk } from './run.ts';

const { from, to, options } = workerData as { from: number; to: number; options: Parameters<typeof healthyChunk>[2] };
const result = healthyChunk(from, to, { ...options, onProgress: (n) => parentPort!.postMessage({ progress: n }) });
parentPort!.postMessage({ result });
