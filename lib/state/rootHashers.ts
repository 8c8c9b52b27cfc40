// The state root's entry hashes on worker threads. A commit's root update costs two SHAKE256
// digests of 2 KB per written key (≈ 8-20 µs each here): 40 % of an ERC-20 block's commit in the
// state service, which is one process per chain and cannot add replicas. The lattice is a sum, so
// a block's changes split into parts whose deltas add up (StateRootAccumulator.addLattice): each
// thread hashes one part, the commit's other work (header roots, encoding) runs meanwhile on the
// main thread, and on a machine with cores to spare the root's cost divides by the threads.
//
// Each key goes to the same thread every block (by its last hex digits), and each thread remembers
// the digests of the entries it put in lately (entryDigests.ts), so the old entry of a rewrite is
// a lookup there rather than a second digest.
//
// Bounded: one job per thread at a time (commits are serial), each with a deadline. A thread that
// fails, exits or misses its deadline is replaced on the next call; after MAX_FAILURES in a row
// the pool stops and every call throws, and the caller hashes on its own thread (the same result).
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { compiledModule } from '../compiledModule.js';
import type { StateKey } from './keys.js';
import { LATTICE_LANES, frameChanges, type RootChange } from './root.js';
import type { RootAnswer, RootJob, RootWorkerData } from './rootWorker.js';

/** Below this many changes, a block is not worth the hop to the threads. */
export const MIN_CHANGES_FOR_THREADS = 64;
/** A job that takes longer fails (its thread is replaced). */
export const ROOT_JOB_TIMEOUT_MS = 30_000;
/** Consecutive failed calls after which the pool stops. */
export const MAX_FAILURES = 5;

export class RootHashersError extends Error {
  override readonly name = 'RootHashersError';
}

/** The compiled worker: beside this module, or in dist/ when this module runs from its TypeScript source (vitest). */
function defaultWorkerFile(): string {
  return compiledModule(import.meta.url, 'rootWorker');
}

interface Delta {
  lanes: Uint16Array;
  ms: number;
  hits: number;
  misses: number;
}

interface Pending {
  resolve: (answer: Delta) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class Slot {
  worker: Worker | null = null;
  readonly pending = new Map<number, Pending>();

  constructor(private readonly file: string, private readonly data: RootWorkerData) {}

  run(job: RootJob): Promise<Delta> {
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new RootHashersError(`root thread missed its ${ROOT_JOB_TIMEOUT_MS} ms deadline`)), ROOT_JOB_TIMEOUT_MS);
      this.pending.set(job.id, { resolve, reject, timer });
      worker.postMessage(job, [job.framed.buffer as ArrayBuffer]);
    });
  }

  private start(): Worker {
    const worker = new Worker(this.file, { workerData: this.data });
    worker.unref(); // an idle pool never keeps the process alive
    worker.on('message', (answer: RootAnswer) => {
      const pending = this.pending.get(answer.id);
      if (pending === undefined) return;
      this.pending.delete(answer.id);
      clearTimeout(pending.timer);
      if (answer.error !== undefined) pending.reject(new RootHashersError(`root thread: ${answer.error}`));
      else pending.resolve(answer);
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

/** The thread a key's entries go to, the same every block: by its last 4 bytes, big-endian (an address's or a hashed slot's: spread evenly). */
export function threadOf(key: StateKey, threads: number): number {
  if (threads === 1) return 0;
  const n = key.length;
  const last = ((key.charCodeAt(n - 4) << 24) | (key.charCodeAt(n - 3) << 16) | (key.charCodeAt(n - 2) << 8) | key.charCodeAt(n - 1)) >>> 0;
  return last % threads;
}

export class RootHashers {
  private readonly slots: Slot[];
  private nextId = 0;
  private failures = 0;
  private closed = false;
  /** The threads' time on answered jobs, ms: root hashing that left the caller's thread. */
  threadMs = 0;
  /** Old entries whose digest a thread remembered, and those it computed. */
  readonly digestStats = { hits: 0, misses: 0 };

  /**
   * `threads` ≥ 1 worker threads, started on first use; `digestEntries` remembered entry digests
   * in all (LATTICE_BYTES each), shared out among the threads (0: none).
   */
  constructor(readonly threads: number, workerFile: string = defaultWorkerFile(), digestEntries = 0) {
    if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`root hashers: threads must be an integer >= 1, got ${threads}`);
    if (!(Number.isInteger(digestEntries) && digestEntries >= 0)) throw new Error(`root hashers: digestEntries must be an integer >= 0, got ${digestEntries}`);
    if (!existsSync(workerFile)) throw new Error(`root hashers: worker ${workerFile} not found (run npm run build)`);
    const data: RootWorkerData = { digestEntries: Math.ceil(digestEntries / threads) };
    this.slots = Array.from({ length: threads }, () => new Slot(workerFile, data));
  }

  /** Whether `changes` are worth splitting across the threads (else: hash them on the caller's thread). */
  worthIt(changes: number): boolean {
    return !this.closed && this.failures < MAX_FAILURES && changes >= MIN_CHANGES_FOR_THREADS;
  }

  /**
   * The lattice delta of `changes`, hashed on the threads. Throws RootHashersError when a thread
   * fails or the pool has stopped; the caller then hashes on its own thread.
   */
  async delta(changes: readonly RootChange[]): Promise<Uint16Array> {
    if (this.closed) throw new RootHashersError('root hashers closed');
    if (this.failures >= MAX_FAILURES) throw new RootHashersError(`root hashers stopped after ${MAX_FAILURES} failures in a row`);
    // Every thread, each taking its own keys: the thread that put an entry in finds it when it goes out.
    const parts: RootChange[][] = this.slots.map(() => []);
    for (const change of changes) parts[threadOf(change.key, parts.length)]!.push(change);
    const jobs: Promise<Delta>[] = [];
    parts.forEach((part, p) => {
      if (part.length > 0) jobs.push(this.slots[p]!.run({ id: this.nextId++, framed: frameChanges(part, 0, part.length) }));
    });
    let deltas: Delta[];
    try {
      deltas = await Promise.all(jobs);
    } catch (err) {
      this.failures++;
      throw err instanceof RootHashersError ? err : new RootHashersError(String(err), { cause: err });
    }
    this.failures = 0;
    const sum = new Uint16Array(LATTICE_LANES);
    for (const { lanes, ms, hits, misses } of deltas) {
      this.threadMs += ms;
      this.digestStats.hits += hits;
      this.digestStats.misses += misses;
      for (let i = 0; i < LATTICE_LANES; i++) sum[i] = sum[i]! + lanes[i]!;
    }
    return sum;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.close()));
  }
}
