// Entry of an engine worker thread: registers tsx in this thread (Node 20 does not apply the
// parent's `--import tsx` hooks to a worker's .ts entry), then runs the TypeScript worker.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
