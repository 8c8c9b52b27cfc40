// `npm run bench:serial-pair`: the scheduler's own serial path (engineSerialSide.ts) against the
// serial baseline, block by block in one process, with no bus, no state service and no executor:
// what `bench:engine` compares at 2 accounts, without the setting around it. Each side runs on a
// worker thread of its own (`--engine-thread main` puts the engine's on the main thread, as in
// `bench:engine`), they alternate which goes first, and the final state roots must match.
//
// Session 29, 2 accounts, the engine's side on a worker thread (3 runs each): transfers 0.88,
// 0.65, 0.71× (block medians 1.08, 0.65, 0.67×), ERC-20 1.09, 0.93, 0.87×; on the main thread
// (2 runs): transfers 1.13, 0.82×, ERC-20 0.89, 0.84×. About what `bench:engine` reads at 2
// accounts (transfers 0.76–0.81×, ERC-20 0.92–0.95×), so the gap is the path's, not the bus's or
// the other services', though the path counts only 1.01–1.05× the baseline's instructions
// (`bench:instructions`). With the scheduler's fixed young generation untouched at start, the
// engine's side took its first page faults in the timed blocks (0.62–0.76× on transfers); it
// touches it first now, as the scheduler does. With V8's own policy on both sides instead, four
// runs on transfers read 0.89–1.09× (the fixed size, touched, alternated with two of them: 0.85,
// 0.87×): the fixed young generation that pays at 10,000 accounts costs the serial path a few
// per cent on cheap txs.
//
// Session 30: both threads now run on one CPU (--pin-cpu, default 0; bench/threadAffinity.ts). One
// of this host's two vCPUs at times runs the same serial code 1.4-1.6× slower than the other, so
// unpinned the tool compared CPUs as much as code: an A/A run (--aa, the baseline on both sides)
// read 0.78, 1.30, 0.87, 0.86× over four runs unpinned and 1.01, 1.00, 1.02, 1.01× pinned. Most of
// the spread above was that. Pinned, with the young generation's pages now all touched at start
// (lib/youngGeneration.ts): transfers 0.95, 0.96, 0.96×, ERC-20 0.94, 0.92, 0.89×. Both sides'
// young generations are then settled after the warm-up, as in bench:engine (lib/idleGc.ts).
import os from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, genesisToJson, parseGenesis, type Genesis } from '../../lib/chain/genesis.js';
import { compiledModule } from '../../lib/compiledModule.js';
import { settleYoungGeneration } from '../../lib/idleGc.js';
import type { WorkloadKind } from '../../lib/workloads/index.js';
import { touchYoungGeneration } from '../../lib/youngGeneration.js';
import { median } from '../stats.js';
import { generateOffThread, withOwnYoungGeneration } from './baselineThread.js';
import { currentThreadId, pinCpuOption, pinThread } from '../threadAffinity.js';
import { EngineSerialSide } from './engineSerialSide.js';
import { SerialBaseline } from './serialBaseline.js';

const KIND = 'lanes-serial-pair';
type Side = 'engine' | 'baseline';

interface Init {
  kind: typeof KIND;
  side: Side;
  genesis: unknown;
  blocks: Uint8Array[][];
}

/** One side, wherever it runs. */
interface Runner {
  /** The kernel's id of the thread it runs on (to pin it). */
  threadId: number;
  /** Wall seconds of block `b`; serial is false when the engine did not run it serially. */
  run(b: number): Promise<{ seconds: number; serial: boolean }>;
  /** Promotes what the warm-up left alive in its young generation (lib/idleGc.ts), as bench:engine does. */
  settle(): Promise<void>;
  root(): Promise<Buffer>;
  stop(): Promise<void>;
}

async function settle(): Promise<void> {
  settleYoungGeneration();
}

async function localRunner(side: Side, genesis: Genesis, blocks: readonly Tx[][]): Promise<Runner> {
  if (side === 'engine') {
    // The scheduler's young generation, taken at start as the scheduler takes it (lib/youngGeneration.ts).
    touchYoungGeneration();
    const engine = await EngineSerialSide.create(genesis, blocks);
    return { threadId: currentThreadId(), run: (b) => engine.runBlock(b), settle, root: async () => engine.root(), stop: async () => {} };
  }
  const serial = await SerialBaseline.create(genesis, genesisStateEntries(genesis));
  return {
    threadId: currentThreadId(),
    run: async (b) => ({ seconds: await serial.runBlock(BigInt(b + 1), blocks[b]! as Tx[], false), serial: true }),
    settle,
    root: async () => serial.root(),
    stop: async () => {},
  };
}

/** This module compiled: itself, or its copy in dist/ when it runs from its TypeScript source (vitest). */
function compiledFile(): string {
  return compiledModule(import.meta.url, 'serialPair');
}

async function threadRunner(side: Side, genesis: Genesis, blocks: readonly Tx[][]): Promise<Runner> {
  const init: Init = { kind: KIND, side, genesis: genesisToJson(genesis), blocks: blocks.map((txs) => txs.map((tx) => Tx.encode(tx).finish())) };
  const start = (): Worker => new Worker(compiledFile(), { workerData: init });
  // The baseline with V8's own young-generation policy, as in bench:engine (baselineThread.ts).
  const worker = side === 'baseline' ? await withOwnYoungGeneration(start) : start();
  let pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;
  let failure: Error | null = null;
  const fail = (err: Error): void => {
    failure = err;
    pending?.reject(err);
    pending = null;
  };
  worker.on('message', (msg: { error?: string; value?: unknown }) => {
    const p = pending;
    pending = null;
    if (msg.error !== undefined) p?.reject(new Error(`serial pair, ${side} side: ${msg.error}`));
    else p?.resolve(msg.value);
  });
  worker.on('error', (err) => fail(new Error(`serial pair, ${side} side failed: ${err.message}`)));
  worker.on('exit', (code) => fail(new Error(`serial pair, ${side} side exited (code ${code})`)));
  const ask = <T>(req: number | 'root' | 'ready' | 'thread' | 'settle'): Promise<T> => {
    if (failure !== null) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      pending = { resolve: resolve as (v: unknown) => void, reject };
      worker.postMessage(req);
    });
  };
  await ask('ready');
  return {
    threadId: await ask<number>('thread'),
    run: (b) => ask(b),
    settle: () => ask<void>('settle'),
    root: async () => Buffer.from(await ask<Uint8Array>('root')),
    stop: async () => {
      worker.removeAllListeners('exit');
      await worker.terminate();
    },
  };
}

async function serve(init: Init): Promise<void> {
  const blocks = init.blocks.map((txs) => txs.map((bytes) => Tx.decode(bytes)));
  const runner = await localRunner(init.side, parseGenesis(init.genesis), blocks);
  const port = parentPort!;
  port.on('message', (req: number | 'root' | 'ready' | 'thread' | 'settle') => {
    void (async () => {
      try {
        if (req === 'ready') port.postMessage({ value: true });
        else if (req === 'thread') port.postMessage({ value: runner.threadId });
        else if (req === 'settle') port.postMessage({ value: await runner.settle() });
        else if (req === 'root') port.postMessage({ value: await runner.root() });
        else port.postMessage({ value: await runner.run(req) });
      } catch (err) {
        port.postMessage({ error: (err as Error).message });
      }
    })();
  });
}

export interface PairOptions {
  workload: WorkloadKind;
  accounts: number;
  blocks: number;
  /** Untimed blocks first. */
  warmup: number;
  blockTxs: number;
  engineThread: 'worker' | 'main';
  seed: string;
  /** The CPU both sides' threads run on (null: left to the kernel; bench/threadAffinity.ts). */
  pinCpu: number | null;
  /** The baseline on both sides (an A/A run): what the tool reads when there is no difference to find. */
  aa: boolean;
}

export interface PairRun {
  /** Baseline seconds over the engine's, timed blocks only. */
  speedup: number;
  blockMedian: number;
  engineMicrosPerTx: number;
  baselineMicrosPerTx: number;
  rootsMatch: boolean;
}

export async function runPair(o: PairOptions): Promise<PairRun> {
  if (o.warmup >= o.blocks) throw new Error(`--warmup (${o.warmup}) must be below --blocks (${o.blocks})`);
  const w = await generateOffThread({ workload: o.workload, accounts: o.accounts, hotShare: 0, chainId: 31337n, seed: o.seed, txCount: o.blocks * o.blockTxs });
  const blocks: Tx[][] = [];
  for (let i = 0; i < w.txs.length; i += o.blockTxs) blocks.push(w.txs.slice(i, i + o.blockTxs));
  const first: Side = o.aa ? 'baseline' : 'engine';
  const engine = o.engineThread === 'main' ? await localRunner(first, w.genesis, blocks) : await threadRunner(first, w.genesis, blocks);
  const baseline = await threadRunner('baseline', w.genesis, blocks);
  const unpin: Array<() => void> = [];
  try {
    // Inside the try: a pin that fails still stops both sides and restores the one already set.
    if (o.pinCpu !== null) for (const side of [engine, baseline]) unpin.push(pinThread(side.threadId, o.pinCpu));
    let [engineSeconds, baselineSeconds, txs] = [0, 0, 0];
    const ratios: number[] = [];
    for (let b = 0; b < blocks.length; b++) {
      if (b === o.warmup) {
        await engine.settle();
        await baseline.settle();
      }
      // Alternate which side goes first, so neither always runs right after the other.
      const first = b % 2 === 0 ? baseline : engine;
      const second = first === engine ? baseline : engine;
      const a = await first.run(b);
      const c = await second.run(b);
      const [e, s] = first === engine ? [a, c] : [c, a];
      if (!e.serial) throw new Error(`the engine did not run block ${b} serially: not its serial path`);
      if (b < o.warmup) continue;
      engineSeconds += e.seconds;
      baselineSeconds += s.seconds;
      txs += blocks[b]!.length;
      ratios.push(s.seconds / e.seconds);
    }
    const [engineRoot, baselineRoot] = [await engine.root(), await baseline.root()];
    return {
      speedup: baselineSeconds / engineSeconds, blockMedian: median(ratios),
      engineMicrosPerTx: (engineSeconds * 1e6) / txs, baselineMicrosPerTx: (baselineSeconds * 1e6) / txs,
      rootsMatch: engineRoot.equals(baselineRoot),
    };
  } finally {
    for (const put of unpin) put();
    await engine.stop();
    await baseline.stop();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string', default: 'transfer,erc20' }, accounts: { type: 'string', default: '2' },
      blocks: { type: 'string', default: '48' }, warmup: { type: 'string', default: '12' }, block: { type: 'string', default: '500' },
      'engine-thread': { type: 'string', default: 'worker' }, repeat: { type: 'string', default: '3' }, seed: { type: 'string', default: 'serial-pair' },
      'pin-cpu': { type: 'string', default: '0' }, aa: { type: 'boolean', default: false },
    },
  });
  const int = (s: string, name: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${s}`);
    return n;
  };
  const engineThread = values['engine-thread'];
  if (engineThread !== 'worker' && engineThread !== 'main') throw new Error(`--engine-thread must be worker or main, got ${engineThread}`);
  const workloads = values.workload!.split(',') as WorkloadKind[];
  for (const wl of workloads) if (!['transfer', 'erc20', 'amm', 'nft', 'mixed'].includes(wl)) throw new Error(`unknown workload ${wl}`);
  const out = (line: string): void => { process.stdout.write(`${line}\n`); };
  const pin = pinCpuOption(values['pin-cpu']!);
  const aa = values.aa!;
  const what = aa ? 'A/A: the baseline against itself' : 'the scheduler\'s serial path against the baseline';
  out(`${what}, one process, no bus; engine side on the ${engineThread} thread, ${os.cpus().length} cores, ${pin === null ? 'threads not pinned' : `both threads on CPU ${pin}`}`);
  out('workload  accounts  run  speedup  (block median)  engine µs/tx  baseline µs/tx  roots');
  for (const workload of workloads) {
    for (const accounts of values.accounts!.split(',').map((s) => int(s, 'accounts'))) {
      for (let r = 0; r < int(values.repeat!, 'repeat'); r++) {
        const run = await runPair({
          workload, accounts, blocks: int(values.blocks!, 'blocks'), warmup: int(values.warmup!, 'warmup'), blockTxs: int(values.block!, 'block'),
          engineThread, seed: `${values.seed!}-${workload}-${accounts}`, pinCpu: pin, aa,
        });
        out([
          workload.padEnd(8), String(accounts).padStart(9), String(r + 1).padStart(4), `${run.speedup.toFixed(2)}×`.padStart(8),
          `(${run.blockMedian.toFixed(2)}×)`.padStart(15), run.engineMicrosPerTx.toFixed(1).padStart(13), run.baselineMicrosPerTx.toFixed(1).padStart(15),
          run.rootsMatch ? '  equal' : '  DIFFER',
        ].join(' '));
        if (!run.rootsMatch) return 1;
      }
    }
  }
  return 0;
}

const kind = isMainThread ? undefined : (workerData as { kind?: string } | null)?.kind;
if (kind === KIND) void serve(workerData as Init);
else if (isMainThread && process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`bench:serial-pair: ${err.message}\n`);
    process.exit(1);
  });
}
