// A root hashing thread (rootHashers.ts): takes framed changes, answers their lattice delta. It
// remembers the digests of the entries it puts in (entryDigests.ts; workerData.digestEntries, 0 =
// none): the pool sends each key to the same thread every block, so a rewrite's old entry is found here.
import { parentPort, workerData } from 'node:worker_threads';
import { EntryDigests } from './entryDigests.js';
import { LATTICE_BYTES, latticeOfFramed } from './root.js';

export interface RootJob {
  id: number;
  framed: Uint8Array;
}

export interface RootWorkerData {
  digestEntries: number;
}

/** `ms`: the thread's time on the job (its CPU: hashing does not wait). `hits`/`misses`: its remembered digests. */
export type RootAnswer =
  | { id: number; lanes: Uint16Array; ms: number; hits: number; misses: number; error?: undefined }
  | { id: number; error: string };

const port = parentPort;
if (port === null) throw new Error('rootWorker.js runs as a worker thread (RootHashers), not on its own');
const entries = (workerData as RootWorkerData | undefined)?.digestEntries ?? 0;
const digests = entries > 0 ? new EntryDigests(entries, LATTICE_BYTES) : undefined;
port.on('message', (job: RootJob) => {
  let answer: RootAnswer;
  const started = performance.now();
  const hits = digests?.hits ?? 0;
  const misses = digests?.misses ?? 0;
  try {
    const lanes = latticeOfFramed(job.framed, digests);
    answer = { id: job.id, lanes, ms: performance.now() - started, hits: (digests?.hits ?? 0) - hits, misses: (digests?.misses ?? 0) - misses };
  } catch (err) {
    answer = { id: job.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(answer, answer.error === undefined ? [answer.lanes.buffer as ArrayBuffer] : []);
});
