// The state root's entry hashes on worker threads. A commit's root update costs two SHAKE256
// digests of 2 KB per written key (≈ 8-20 µs each here): 40 % of an ERC-20 block's commit in the
// state service, which is one process per chain and cannot add replicas. The lattice is a sum, so
// a block's changes split into parts whose deltas add up (StateRootAccumulator.addLattice): each
// thread hashes one part, the commit's other work (header roots, encoding) runs meanwhile on the
// main thread, and on a machine with cores to spare the root's cost divides by the threads.
//
// Bounded: one job per thread at a time (commits are serial), each with a deadline. A thread that
// fails, exits or misses its deadline is replaced on the next call; after MAX_FAILURES in a row
// the pool stops and every call throws, and the caller hashes on its own thread (the same result).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LATTICE_LANES, frameChanges, type RootChange } from './root.js';
import type { RootAnswer, RootJob } from './rootWorker.js';

/** Below this many changes per thread, a part is not worth a hop to a thread. */
export const MIN_CHANGES_PER_THREAD = 64;
/** A job that takes longer fails (its thread is replaced). */
export const ROOT_JOB_TIMEOUT_MS = 30_000;
/** Consecutive failed calls after which the pool stops. */
export const MAX_FAILURES = 5;

export class RootHashersError extends Error {
  override readonly name = 'RootHashersError';
}

/** The compiled worker: beside this module, or in dist/ when this module runs from its TypeScript source (vitest). */
function defaultWorkerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = path.join(path.dirname(here), 'rootWorker.js');
  if (here.endsWith('.js')) return sibling;
  return path.resolve(path.dirname(here), '..', '..', 'dist', 'lib', 'state', 'rootWorker.js');
}

interface Pending {
  resolve: (answer: { lanes: Uint16Array; ms: number }) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class Slot {
  worker: Worker | null = null;
  readonly pending = new Map<number, Pending>();

  constructor(private readonly file: string) {}

  run(job: RootJob): Promise<{ lanes: Uint16Array; ms: number }> {
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new RootHashersError(`root thread missed its ${ROOT_JOB_TIMEOUT_MS} ms deadline`)), ROOT_JOB_TIMEOUT_MS);
      this.pending.set(job.id, { resolve, reject, timer });
      worker.postMessage(job, [job.framed.buffer as ArrayBuffer]);
    });
  }

  private start(): Worker {
    const worker = new Worker(this.file);
    worker.unref(); // an idle pool never keeps the process alive
    worker.on('message', (answer: RootAnswer) => {
      const pending = this.pending.get(answer.id);
      if (pending === undefined) return;
      this.pending.delete(answer.id);
      clearTimeout(pending.timer);
      if (answer.error !== undefined) pending.reject(new RootHashersError(`root thread: ${answer.error}`));
      else pending.resolve({ lanes: answer.lanes, ms: answer.ms });
    });
    worker.on('error', (err) => this.fail(new RootHashersError(`root thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.fail(new RootHashersError(`root thread exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  /** Rejects what the thread holds and drops it; the next job starts a new one. */
  fail(err: Error): void {
    const worker = this.worker;
    this.worker = null;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(err);
      this.pending.delete(id);
    }
    if (worker !== null) void worker.terminate();
  }

  async close(): Promise<void> {
    this.fail(new RootHashersError('root hashers closed'));
  }
}

export class RootHashers {
  private readonly slots: Slot[];
  private nextId = 0;
  private failures = 0;
  private closed = false;
  /** The threads' time on answered jobs, ms: root hashing that left the caller's thread. */
  threadMs = 0;

  /** `threads` ≥ 1 worker threads, started on first use. */
  constructor(readonly threads: number, workerFile: string = defaultWorkerFile()) {
    if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`root hashers: threads must be an integer >= 1, got ${threads}`);
    if (!existsSync(workerFile)) throw new Error(`root hashers: worker ${workerFile} not found (run npm run build)`);
    this.slots = Array.from({ length: threads }, () => new Slot(workerFile));
  }

  /** Whether `changes` are worth splitting across the threads (else: hash them on the caller's thread). */
  worthIt(changes: number): boolean {
    return !this.closed && this.failures < MAX_FAILURES && changes >= MIN_CHANGES_PER_THREAD;
  }

  /**
   * The lattice delta of `changes`, hashed on the threads. Throws RootHashersError when a thread
   * fails or the pool has stopped; the caller then hashes on its own thread.
   */
  async delta(changes: readonly RootChange[]): Promise<Uint16Array> {
    if (this.closed) throw new RootHashersError('root hashers closed');
    if (this.failures >= MAX_FAILURES) throw new RootHashersError(`root hashers stopped after ${MAX_FAILURES} failures in a row`);
    const parts = Math.max(1, Math.min(this.slots.length, Math.floor(changes.length / MIN_CHANGES_PER_THREAD)));
    const jobs: Promise<{ lanes: Uint16Array; ms: number }>[] = [];
    for (let p = 0; p < parts; p++) {
      const from = Math.floor((changes.length * p) / parts);
      const to = Math.floor((changes.length * (p + 1)) / parts);
      jobs.push(this.slots[p]!.run({ id: this.nextId++, framed: frameChanges(changes, from, to) }));
    }
    let deltas: { lanes: Uint16Array; ms: number }[];
    try {
      deltas = await Promise.all(jobs);
    } catch (err) {
      this.failures++;
      throw err instanceof RootHashersError ? err : new RootHashersError(String(err), { cause: err });
    }
    this.failures = 0;
    const sum = new Uint16Array(LATTICE_LANES);
    for (const { lanes, ms } of deltas) {
      this.threadMs += ms;
      for (let i = 0; i < LATTICE_LANES; i++) sum[i] = sum[i]! + lanes[i]!;
    }
    return sum;
  }

  /** Ends a thread as if it had crashed (tests). */
  crashForTest(slot: number): void {
    void this.slots[slot]?.worker?.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.close()));
  }
}
