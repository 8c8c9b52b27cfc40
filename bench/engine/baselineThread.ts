// The serial baseline on a worker thread of the bench process: the same SerialBaseline, but in a
// V8 isolate of its own, so it collects its own garbage and nothing else's.
//
// In the bench's main isolate (the scheduler's role) the two sides shared one young generation.
// A scavenge copies whatever is live when it comes, whoever made it, and comes where the nursery
// fills or, as a task, where the event loop next turns: that is inside the engine's block (it
// awaits the bus), never inside the baseline's (the EVM awaits only microtasks). Plain
// transfers at 10,000 accounts: 2.75 ms of GC pauses per block fell in the engine's blocks
// against 1.27 in the baseline's, though both sides allocate about the same per tx; at ERC-20
// and 10,000 accounts the baseline used 170–203 µs of CPU per tx, 138–174 on its own. In its own
// isolate each side pays for exactly what it allocates and keeps alive. The threads never run
// at once: the main thread waits for each block's answer.
//
// The workload is generated on a thread of its own too (generateOffThread), so neither side's
// isolate has run anything but its own work. Generating it builds the genesis by running the
// contracts' constructors through the EVM and signs thousands of txs; run in the baseline's
// isolate first, it made the baseline 15 % slower (ERC-20 at 2 accounts, two pairs: 149–150
// against 129–130 µs per tx), and the engine's side had always carried it.
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, genesisToJson, parseGenesis, type Genesis } from '../../lib/chain/genesis.js';
import { compiledModule } from '../../lib/compiledModule.js';
import { settleYoungGeneration } from '../../lib/idleGc.js';
import { generateWorkload, type WorkloadOptions } from '../../lib/workloads/index.js';
import { currentThreadId } from '../threadAffinity.js';
import { SerialBaseline } from './serialBaseline.js';

const KIND = 'lanes-serial-baseline';
const GENERATE_KIND = 'lanes-generate-workload';

/** This module compiled: itself, or its copy in dist/ when it runs from its TypeScript source (vitest). */
function compiledFile(): string {
  return compiledModule(import.meta.url, 'baselineThread');
}

interface Init {
  kind: typeof KIND;
  genesis: unknown;
  /** Each block's txs, protobuf-encoded. */
  blocks: Uint8Array[][];
}

type Request = { op: 'run'; id: number; block: number; timed: boolean } | { op: 'totals'; id: number } | { op: 'settle'; id: number };
/** A request before it is numbered (Omit over each member of the union). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface BaselineBlock {
  /**
   * The block's wall time, plus (on its own heap) the GC pauses its isolate took since its last
   * block: a serial node would have paid them between its blocks too, and the thread would
   * otherwise do its collecting for free while the engine's side runs.
   */
  seconds: number;
  /** GC pauses of the baseline's isolate that started during the block (NaN: on the caller's heap, the caller's to count). */
  gcMs: number;
  /** GC pauses of its isolate between its blocks, charged to this one (0 on the caller's heap). */
  idleGcMs: number;
}

export interface BaselineTotals {
  seconds: number;
  cpuMicros: number;
  txs: number;
  root: Buffer;
  /** The size of the baseline's new space when its thread started (V8's `new_space`). */
  startNewSpaceBytes: number;
  /** The kernel's id of the thread the baseline runs on (to pin it: bench/threadAffinity.ts). */
  threadId: number;
}

/** Where the serial baseline runs: a worker thread (its own heap) or the calling thread. */
export interface Baseline {
  /** The kernel's id of the thread it runs on. */
  readonly threadId: number;
  runBlock(block: number, timed: boolean): Promise<BaselineBlock>;
  /**
   * Promotes what the warm-up left alive in the baseline's young generation (settleYoungGeneration)
   * and forgets the GC pauses so far, so none is charged to a timed block. Nothing to do on the
   * caller's heap: the caller settles that one.
   */
  settle(): Promise<void>;
  totals(): Promise<BaselineTotals>;
  stop(): Promise<void>;
}

/** The baseline on the calling thread, sharing its heap (--baseline-heap shared). */
export async function sharedHeapBaseline(genesis: Genesis, entries: Map<string, Buffer>, blocks: readonly Tx[][]): Promise<Baseline> {
  const startNewSpaceBytes = newSpaceBytes();
  const serial = await SerialBaseline.create(genesis, entries);
  return {
    threadId: currentThreadId(),
    runBlock: async (b, timed) => ({ seconds: await serial.runBlock(BigInt(b + 1), blocks[b]!, timed), gcMs: Number.NaN, idleGcMs: 0 }),
    settle: async () => {},
    totals: async () => ({ seconds: serial.seconds, cpuMicros: serial.cpuMicros, txs: serial.txs, root: serial.root(), startNewSpaceBytes, threadId: currentThreadId() }),
    stop: async () => {},
  };
}

/**
 * Starts the baseline's thread with V8's own young-generation policy (a new space grown after
 * scavenges that find much alive, shrunk when allocation slows), not the fixed 256 MB the bench
 * process takes in the scheduler's role (--min-semi-space-size, lib/nodeFlags.ts): the baseline
 * is the fastest serial path, and the fixed size is there for what the scheduler keeps alive
 * between blocks, which a serial loop does not keep. V8 reads its heap flags, process-wide, when
 * it creates an isolate, so the flag is lifted until the thread's isolate exists.
 * Measured alone (one process, ERC-20 and transfers at 2 accounts, alternated), a serial run read
 * the same with either (medians 112 against 112 µs per ERC-20 tx); inside the bench, transfers'
 * baseline read 20–30 % lower with the fixed size in 5 of 6 runs.
 */
export async function withOwnYoungGeneration(start: () => Worker): Promise<Worker> {
  const fixed = process.execArgv.find((f) => f.startsWith('--min-semi-space-size='));
  if (fixed === undefined) return start();
  setFlagsFromString('--min-semi-space-size=0');
  try {
    const worker = start();
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('online', () => {
        worker.off('error', reject);
        resolve();
      });
    });
    return worker;
  } finally {
    setFlagsFromString(fixed);
  }
}

function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** The baseline on a worker thread of its own (--baseline-heap own, the default). */
export async function ownHeapBaseline(genesis: Genesis, blocks: readonly Tx[][]): Promise<Baseline> {
  const init: Init = { kind: KIND, genesis: genesisToJson(genesis), blocks: blocks.map((txs) => txs.map((tx) => Tx.encode(tx).finish())) };
  const worker = await withOwnYoungGeneration(() => new Worker(compiledFile(), { workerData: init }));
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let failure: Error | null = null;
  const failAll = (err: Error): void => {
    failure = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (msg: { id: number; error?: string; value?: unknown }) => {
    const w = waiting.get(msg.id);
    if (w === undefined) return;
    waiting.delete(msg.id);
    if (msg.error !== undefined) w.reject(new Error(`serial baseline: ${msg.error}`));
    else w.resolve(msg.value);
  });
  worker.on('error', (err) => failAll(new Error(`serial baseline thread failed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`serial baseline thread exited (code ${code})`)));
  let nextId = 0;
  const ask = <T>(req: Unnumbered<Request>): Promise<T> => {
    if (failure !== null) return Promise.reject(failure);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...req, id });
    });
  };
  // The thread's first answer tells it has built its state and is ready.
  const { threadId } = await ask<BaselineTotals>({ op: 'totals' });
  return {
    threadId,
    runBlock: (block, timed) => ask<BaselineBlock>({ op: 'run', block, timed }),
    settle: () => ask<void>({ op: 'settle' }),
    totals: async () => {
      const t = await ask<BaselineTotals>({ op: 'totals' });
      return { ...t, root: Buffer.from(t.root) };
    },
    stop: async () => {
      failAll(new Error('serial baseline thread stopped'));
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}

interface GenerateInit {
  kind: typeof GENERATE_KIND;
  options: WorkloadOptions & { txCount: number };
}

/** A generated workload as the bench uses it: the genesis and the signed txs in order. */
export interface ThreadWorkload {
  genesis: Genesis;
  txs: Tx[];
}

/** Generates a workload (lib/workloads) on a thread that ends with it (see the top of this file). */
export async function generateOffThread(options: WorkloadOptions & { txCount: number }): Promise<ThreadWorkload> {
  const init: GenerateInit = { kind: GENERATE_KIND, options };
  const worker = new Worker(compiledFile(), { workerData: init });
  try {
    const made = await new Promise<{ genesis: unknown; txs: Uint8Array[] }>((resolve, reject) => {
      worker.once('message', (msg: { error?: string; genesis?: unknown; txs?: Uint8Array[] }) => {
        if (msg.error !== undefined) reject(new Error(`workload generation: ${msg.error}`));
        else resolve({ genesis: msg.genesis, txs: msg.txs! });
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`workload generation thread exited (code ${code})`)));
    });
    return { genesis: parseGenesis(made.genesis), txs: made.txs.map((bytes) => Tx.decode(bytes)) };
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}

async function generate(init: GenerateInit): Promise<void> {
  const port = parentPort!;
  try {
    const w = await generateWorkload(init.options);
    port.postMessage({ genesis: genesisToJson(w.genesis), txs: w.txs.map((t) => Tx.encode({ raw: t.raw, hash: t.hash, sender: t.sender }).finish()) });
  } catch (err) {
    port.postMessage({ error: (err as Error).message });
  }
}

/** The worker thread's side: builds the state, then runs blocks on request. */
async function serve(init: Init): Promise<void> {
  const startNewSpaceBytes = newSpaceBytes();
  const threadId = currentThreadId();
  const genesis = parseGenesis(init.genesis);
  const blocks = init.blocks.map((txs) => txs.map((bytes) => Tx.decode(bytes)));
  const serial = await SerialBaseline.create(genesis, genesisStateEntries(genesis));
  let pauses: Array<{ start: number; ms: number }> = [];
  /** Timed blocks' GC pauses between blocks, in seconds: part of the baseline's time. */
  let idleGcSeconds = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  const port = parentPort!;
  port.on('message', (req: Request) => {
    void (async () => {
      try {
        if (req.op === 'settle') {
          settleYoungGeneration();
          for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
          pauses = [];
          port.postMessage({ id: req.id, value: undefined });
          return;
        }
        if (req.op === 'totals') {
          const totals: BaselineTotals = {
            seconds: serial.seconds + idleGcSeconds, cpuMicros: serial.cpuMicros, txs: serial.txs, root: serial.root(), startNewSpaceBytes, threadId,
          };
          port.postMessage({ id: req.id, value: totals });
          return;
        }
        const block = blocks[req.block];
        if (block === undefined) throw new Error(`no block ${req.block} (${blocks.length} blocks)`);
        const started = performance.now();
        const seconds = await serial.runBlock(BigInt(req.block + 1), block, req.timed);
        // GC entries reach the observer two immediates later (Node's GC callback, then the observer's queue).
        for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        const end = started + seconds * 1000;
        const sum = (list: typeof pauses): number => list.reduce((a, p) => a + p.ms, 0);
        const gcMs = sum(pauses.filter((p) => p.start >= started && p.start < end));
        const idleGcMs = sum(pauses.filter((p) => p.start < started));
        // Pauses after the block (while its answer is prepared) are the next block's idle ones.
        pauses = pauses.filter((p) => p.start >= end);
        if (req.timed) idleGcSeconds += idleGcMs / 1000;
        port.postMessage({ id: req.id, value: { seconds: seconds + idleGcMs / 1000, gcMs, idleGcMs } });
      } catch (err) {
        port.postMessage({ id: req.id, error: (err as Error).message });
      }
    })();
  });
}

const kind = isMainThread ? undefined : (workerData as { kind?: string } | null)?.kind;
if (kind === KIND) void serve(workerData as Init);
if (kind === GENERATE_KIND) void generate(workerData as GenerateInit);
