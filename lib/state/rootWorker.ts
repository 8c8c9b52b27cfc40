// A root hashing thread (rootHashers.ts): takes framed changes, answers their lattice delta.
import { parentPort } from 'node:worker_threads';
import { latticeOfFramed } from './root.js';

export interface RootJob {
  id: number;
  framed: Uint8Array;
}

/** `ms`: the thread's time on the job (its CPU: hashing does not wait). */
export type RootAnswer = { id: number; lanes: Uint16Array; ms: number; error?: undefined } | { id: number; error: string };

const port = parentPort;
if (port === null) throw new Error('rootWorker.js runs as a worker thread (RootHashers), not on its own');
port.on('message', (job: RootJob) => {
  let answer: RootAnswer;
  const started = performance.now();
  try {
    answer = { id: job.id, lanes: latticeOfFramed(job.framed), ms: 0 };
    answer.ms = performance.now() - started;
  } catch (err) {
    answer = { id: job.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(answer, answer.error === undefined ? [answer.lanes.buffer as ArrayBuffer] : []);
});
