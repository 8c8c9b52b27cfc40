// `npm run bench:engine`: the same blocks through the serial reference (the fastest serial path
// Lanes has: the same EVM and state view in one process, no bus; on a worker thread with a heap of
// its own, baselineThread.ts, while this thread plays the scheduler) and through the parallel engine
// driving 1, 2 or 4 real executor processes over NATS, in one run, so every row is a ratio
// measured on the same machine at the same time. Prints a table; writes JSON and an SVG plot.
//
// Timing: the serial baseline and the engine run each block one after the other (alternating
// which goes first), so both sides of a ratio see the same machine at the same moment. The first
// blocks are warm-up, untimed on both sides: the JIT, hot-key and access-pattern learning, and
// the caches. The baseline holds the whole state in memory from the start; executors and the
// scheduler start empty and, in a running cluster, hold the accounts in play. (Executors warm
// their JIT before they say hello, as in any cluster: LANES_WARMUP_TXS, lib/exec/warmUp.ts; the
// bench process, which plays the scheduler, warms on both sides' warm-up blocks.)
// So the default warm-up (--warmup) lasts until the mode chooser has settled (34 blocks: its 8
// parallel warm-up blocks, its early comparisons and their back-off), or for about two touches
// per account (at most 20 blocks of 500), whichever is more: what is timed is the steady state,
// not a cold start.
// Timed: the engine's executeBlock (partitions, validation,
// re-execution); commits to the state service happen between blocks, untimed, because the serial
// baseline commits nothing either. CPU per tx sums the bench process (the scheduler's role) and
// every executor process, from /proc.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { pino } from 'pino';
import {
  BlockRequest, BlockResponse, CommitResponse, StateReadRequest, StateReadResponse,
  type BlockEnv, type ExecRequest, type OrderedBlock,
} from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { startCluster } from '../../cli/cluster.js';
import { request, requestEncoded } from '../../lib/bus/nats.js';
import { BLOCK_EXECUTED_SUBJECT, STATE_BLOCK_SUBJECT, STATE_COMMIT_SUBJECT, STATE_READ_SUBJECT } from '../../lib/bus/subjects.js';
import { genesisToJson, type Genesis } from '../../lib/chain/genesis.js';
import { blocksToSettle, DEFAULT_ENGINE_OPTIONS, DEFAULT_MODE_CHOOSER_OPTIONS, HotKeyTracker, ParallelEngine, type BlockExecution } from '../../lib/engine/index.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { blockIndexes } from '../../lib/exec/requests.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { collectAllNow, settleYoungGeneration } from '../../lib/idleGc.js';
import { keyToBytes } from '../../lib/state/keys.js';
import type { WorkloadKind } from '../../lib/workloads/index.js';
import { encodeCommit } from '../../services/scheduler/assemble.js';
import { NatsExecutorPool } from '../../services/scheduler/executorPool.js';
import { requestKeyFilter } from '../../lib/exec/keyFilterKeeper.js';
import { KeyFilter } from '../../lib/state/keyFilter.js';
import { touchYoungGeneration } from '../../lib/youngGeneration.js';
import { hostIdleSeconds, procCpuSeconds, procMinorFaults, procSchedTimes, procThreadCpuSeconds, schedDelta, threadPlacement, type SchedTimes, type ThreadPlacement } from '../resources.js';
import { measureMachineScaling } from './machineScaling.js';
import { blockEnv } from './serialBaseline.js';
import { generateOffThread, ownHeapBaseline, sharedHeapBaseline, type Baseline } from './baselineThread.js';
import { lineChart } from '../svg.js';
import { currentThreadId, pinCpuOption, pinThread } from '../threadAffinity.js';
import { median } from '../stats.js';

export interface EngineBenchRow {
  workload: WorkloadKind;
  accounts: number;
  executors: number;
  txs: number;
  /** Untimed blocks before the timed ones, on both sides. */
  warmupBlocks: number;
  /** Parallel engine, timed blocks only. */
  tps: number;
  serialTps: number;
  /** tps / serialTps: parallel over serial TPS of the same blocks in the same run. */
  speedup: number;
  /**
   * Median over timed blocks of each block's serial time over its engine time (the two run back
   * to back): a burst of host load that lands on one side of one block moves it less.
   */
  blockSpeedupMedian: number;
  /** Re-executions per tx. */
  reexecutions: number;
  parallelBlocks: number;
  serialBlocks: number;
  cpuMicrosPerTx: number;
  serialCpuMicrosPerTx: number;
  stateRoundTripsPerBlock: number;
  /** The machine's own ceiling measured at the start of the run (2 processes over 1); null with --skip-ceiling. */
  machineCeiling: number | null;
  rootsMatch: boolean;
  /**
   * With --repeat N: every run's speed-up, in run order (each on a fresh cluster). The row's other
   * fields are those of the run whose speed-up is the median, so `speedup` is the median run's.
   */
  speedupRuns: number[];
}

interface Options {
  workloads: WorkloadKind[];
  accounts: number[];
  executors: number[];
  /** Timed txs per cell; undefined = by workload (DEFAULT_TIMED_TXS). */
  txs: number | undefined;
  blockTxs: number;
  json: string | undefined;
  out: string;
  seed: string;
  /** Directory for CPU profiles of the service processes (node --cpu-prof). */
  profile: string | undefined;
  /** Extra Node.js flags for every service process (e.g. --trace-gc-nvp), space-separated. */
  nodeArgs: string[];
  /** Per-block breakdown: partition round trips, executor CPU, scheduler-side time. */
  verbose: boolean;
  /** Leave out the machine-ceiling measurement (about ten seconds; the smoke test skips it). */
  skipCeiling: boolean;
  /** Untimed blocks first (JIT, executor caches, hot keys), on both sides; undefined = by accounts. */
  warmupBlocks: number | undefined;
  /**
   * The engine's mode chooser (LANES_ADAPTIVE_MODE): on; off = every eligible block runs in
   * parallel; serial = every block runs serially in the bench process, the scheduler's own serial
   * path against the baseline (a diagnosis, not a setting the scheduler has).
   */
  adaptiveMode: AdaptiveMode;
  /** Hand the engine the next block, as the scheduler does when blocks queue; off = each block loads its own state. */
  lookahead: boolean;
  /** Tail partitions per executor, handed to whichever is free (LANES_TAILS_PER_EXECUTOR); 0 = assigned up front. */
  tailsPerExecutor: number;
  /** Tails queued at an executor behind the partition it runs (LANES_EXEC_QUEUE_AHEAD); 0 = one request at a time. */
  queueAhead: number;
  /** The state writer's key filter on the engine's cache (LANES_KEY_FILTER); off = absent keys are read. */
  keyFilter: boolean;
  /** While at most this many executors are alive, the scheduler's role runs a share of each parallel block itself (LANES_LOCAL_PARTITION_MAX_EXECUTORS). */
  localPartitionMaxExecutors: number;
  /** Runs per cell, each on a fresh cluster: on a host whose load drifts, one run's ratio moves by a fifth. */
  repeat: number;
  /** The serial baseline on a worker thread with a heap of its own (own), or on the bench's main thread (shared; baselineThread.ts). */
  baselineHeap: 'own' | 'shared';
  /**
   * The CPU the bench's main thread (the scheduler's role, and its serial path) and the
   * baseline's thread are both pinned to while a cell runs (null, the default: left to the
   * kernel). The cluster's processes are not pinned. Pinned, serial blocks compare code on one
   * CPU, but the baseline then always runs on that CPU, fast or slow at the moment, and the
   * scheduler's role cannot move off it: two pairs at 10,000 ERC-20 accounts read 0.87, 1.06×
   * pinned against 1.00, 0.86× not, so the default stays as every earlier session measured.
   */
  pinCpu: number | null;
  /**
   * After the warm-up, promote what it left alive in both sides' young generations and forget the
   * GC pauses so far (settleYoungGeneration), so the timed blocks start from the steady state
   * rather than paying the warm-up's first promotion; off = the timed blocks pay it.
   */
  settle: boolean;
}

const CHAIN_ID = 31337n;

function list(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string' }, accounts: { type: 'string' }, executors: { type: 'string' },
      txs: { type: 'string' }, block: { type: 'string', default: '500' },
      json: { type: 'string' }, out: { type: 'string', default: 'bench/results' }, seed: { type: 'string', default: 'engine-bench' },
      profile: { type: 'string' },
      'node-args': { type: 'string', default: '' },
      verbose: { type: 'boolean', default: false },
      'skip-ceiling': { type: 'boolean', default: false },
      warmup: { type: 'string' },
      adaptive: { type: 'string', default: 'on' },
      lookahead: { type: 'string', default: 'on' },
      'key-filter': { type: 'string', default: 'on' },
      'baseline-heap': { type: 'string', default: 'own' },
      tails: { type: 'string', default: String(DEFAULT_ENGINE_OPTIONS.tailsPerExecutor) },
      'queue-ahead': { type: 'string', default: String(DEFAULT_ENGINE_OPTIONS.queueAhead) },
      'local-partition-max': { type: 'string', default: String(DEFAULT_ENGINE_OPTIONS.localPartitionMaxExecutors) },
      repeat: { type: 'string', default: '1' },
      'pin-cpu': { type: 'string', default: 'off' },
      settle: { type: 'string', default: 'on' },
    },
  });
  const workloads = list(values.workload, 'transfer,erc20,amm') as WorkloadKind[];
  for (const w of workloads) if (!['transfer', 'erc20', 'amm', 'nft', 'mixed'].includes(w)) throw new Error(`unknown workload ${w}`);
  const int = (s: string, name: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${s}`);
    return n;
  };
  return {
    workloads,
    accounts: list(values.accounts, '2,10,100,1000,10000').map((s) => int(s, 'accounts')),
    executors: list(values.executors, '1,2,4').map((s) => int(s, 'executors')),
    txs: values.txs === undefined ? undefined : int(values.txs, 'txs'),
    blockTxs: int(values.block!, 'block'),
    json: values.json,
    out: values.out!,
    seed: values.seed!,
    profile: values.profile,
    nodeArgs: values['node-args']!.split(' ').filter((a) => a !== ''),
    verbose: values.verbose!,
    skipCeiling: values['skip-ceiling']!,
    warmupBlocks: values.warmup === undefined ? undefined : Number(values.warmup),
    adaptiveMode: adaptiveMode(values.adaptive!),
    lookahead: onOff(values.lookahead!, 'lookahead'),
    keyFilter: onOff(values['key-filter']!, 'key-filter'),
    baselineHeap: baselineHeap(values['baseline-heap']!),
    tailsPerExecutor: values.tails === '0' ? 0 : int(values.tails!, 'tails'),
    queueAhead: values['queue-ahead'] === '0' ? 0 : int(values['queue-ahead']!, 'queue-ahead'),
    localPartitionMaxExecutors: values['local-partition-max'] === '0' ? 0 : int(values['local-partition-max']!, 'local-partition-max'),
    repeat: int(values.repeat!, 'repeat'),
    pinCpu: pinCpuOption(values['pin-cpu']!),
    settle: onOff(values.settle!, 'settle'),
  };
}

function baselineHeap(value: string): 'own' | 'shared' {
  if (value !== 'own' && value !== 'shared') throw new Error(`--baseline-heap must be own or shared, got ${value}`);
  return value;
}

type AdaptiveMode = 'on' | 'off' | 'serial';

function adaptiveMode(value: string): AdaptiveMode {
  if (value !== 'on' && value !== 'off' && value !== 'serial') throw new Error(`--adaptive must be on, off or serial, got ${value}`);
  return value;
}

function onOff(value: string, name: string): boolean {
  if (value !== 'on' && value !== 'off') throw new Error(`--${name} must be on or off, got ${value}`);
  return value === 'on';
}

/**
 * Timed txs per cell by workload: at least a second of serial work each on a 2-vCPU host, so a
 * cheap workload is not judged on 0.2 s of timing, which a burst of host load can move by a
 * third (a plain transfer costs ≈ 100 µs, an ERC-20 transfer ≈ 400, a router swap ≈ 2,500:
 * 1,500 swaps are 3 blocks, the fewest a block median means something over).
 */
export const DEFAULT_TIMED_TXS: Record<WorkloadKind, number> = { transfer: 30_000, erc20: 8_000, amm: 2_500, nft: 4_000, mixed: 5_000 };

/**
 * Blocks before the mode chooser has settled (lib/engine/modeChooser.ts, blocksToSettle: its 8
 * parallel warm-up blocks, probes every 2 blocks until each mode has its early figures, then
 * probes backing off to 16 blocks apart), whether parallel pays on this host or not: 34 with the
 * default options. Until then a few blocks in every ten run in the mode not chosen; a settled
 * chooser probes one in 17. With 20 warm-up blocks, 3–5 of an ERC-20 run's 16 timed blocks at
 * 10,000 accounts ran serially (session 33), with 34 one.
 */
const MIN_WARMUP_BLOCKS = Math.max(blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, 0.75), blocksToSettle(DEFAULT_MODE_CHOOSER_OPTIONS, 1.2));


/** Warm-up: until the mode chooser settles, or about two touches per account (2 per tx, at most 20 blocks) if that is longer. */
export function defaultWarmupBlocks(accounts: number, blockTxs: number): number {
  return Math.max(MIN_WARMUP_BLOCKS, Math.min(20, Math.ceil(accounts / blockTxs)));
}

interface CellOptions {
  executors: number;
  workDir: string;
  profileDir: string | undefined;
  nodeArgs: string[];
  verbose: boolean;
  warmupBlocks: number;
  adaptiveMode: AdaptiveMode;
  lookahead: boolean;
  tailsPerExecutor: number;
  /** Tails queued at an executor behind the partition it runs (LANES_EXEC_QUEUE_AHEAD); 0 = one request at a time. */
  queueAhead: number;
  keyFilter: boolean;
  localPartitionMaxExecutors: number;
  baselineHeap: 'own' | 'shared';
  pinCpu: number | null;
  settle: boolean;
}

async function runCell(
  genesis: Genesis, entries: Map<string, Buffer>, blocks: Tx[][], cellOptions: CellOptions,
): Promise<Omit<EngineBenchRow, 'workload' | 'accounts' | 'warmupBlocks' | 'machineCeiling' | 'rootsMatch' | 'speedupRuns'> & { root: Buffer; serialRoot: Buffer }> {
  const { executors, workDir, profileDir, nodeArgs, verbose, warmupBlocks, adaptiveMode, lookahead, tailsPerExecutor, queueAhead, localPartitionMaxExecutors } = cellOptions;
  // What an earlier cell or --repeat run left in the bench process's old space is collected
  // before this one starts, not by a major GC in its timed blocks on whichever side runs then (a
  // second --repeat run read lower in 5 of 6 pairs). Before the warm-up, not after it: a full GC
  // discards compiled code, and one between warm-up and the timed blocks made V8 compile for
  // ≈ 0.5 s of helper-thread time over the first timed blocks. Needs --expose-gc (the npm script).
  collectAllNow();
  const serial: Baseline = cellOptions.baselineHeap === 'own' ? await ownHeapBaseline(genesis, blocks) : await sharedHeapBaseline(genesis, entries, blocks);
  const dataDir = fs.mkdtempSync(path.join(workDir, `x${executors}-`));
  const genesisPath = path.join(dataDir, 'genesis.json');
  fs.writeFileSync(genesisPath, JSON.stringify(genesisToJson(genesis)));
  const cluster = await startCluster({
    dataDir, executors, genesisPath, executionOnly: true, env: { LANES_LOG_LEVEL: verbose ? 'debug' : 'warn', LANES_KEY_FILTER: cellOptions.keyFilter ? '1' : '0' },
    nodeArgs: [...nodeArgs, ...(profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [])],
  }).catch(async (err: unknown) => {
    await serial.stop();
    throw err;
  });
  const nc = await connect({ servers: cluster.natsUrl, name: 'bench-engine' });
  // Pinned after the cluster has started (a process inherits the affinity of the thread that
  // spawns it), and put back before the next cell starts its own.
  const unpin: Array<() => void> = [];
  try {
    if (cellOptions.pinCpu !== null) {
      const self = currentThreadId();
      unpin.push(pinThread(self, cellOptions.pinCpu));
      if (serial.threadId !== self) unpin.push(pinThread(serial.threadId, cellOptions.pinCpu));
    }
    const timeoutMs = 120_000;
    const natsPool = new NatsExecutorPool(nc, timeoutMs);
    natsPool.start();
    const calls: Array<{ ms: number; cpuMs: number; txs: number; mgas: number; executor: string }> = [];
    const pool = {
      size: () => natsPool.size(),
      live: () => natsPool.live(),
      stop: () => natsPool.stop(),
      lookahead: (req: ExecRequest, slot: number) => natsPool.lookahead(req, slot),
      run: async (req: ExecRequest, slot: number) => {
        const t = performance.now();
        const res = await natsPool.run(req, slot);
        calls.push({
          ms: performance.now() - t, cpuMs: Number(res.cpuMicros) / 1000, txs: req.txs.length,
          mgas: Number(res.results.reduce((sum, r) => sum + r.gasUsed, 0n)) / 1e6, executor: res.executorId,
        });
        return res;
      },
    };
    const deadline = Date.now() + 10_000;
    while (pool.live().length < executors && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (pool.live().length < executors) throw new Error(`only ${pool.live().length} of ${executors} executors said hello`);
    const cache = new CommittedStateCache(async (keys, height) => {
      const res = await request(nc, STATE_READ_SUBJECT, StateReadRequest, { height, keys: keys.map(keyToBytes), latest: false }, StateReadResponse, timeoutMs);
      if (res.error !== '') throw new Error(res.error);
      return res.entries.map((e) => (e.absent ? null : e.value));
    }, 1_000_000);
    if (cellOptions.keyFilter) {
      // As the scheduler does: misses on keys never written need no read.
      // The writer builds it in the background from its start: wait for it, as the cells compare with it on.
      let filter = await requestKeyFilter(nc, timeoutMs);
      for (const until = Date.now() + 60_000; !(filter instanceof KeyFilter) && filter.building && Date.now() < until;) {
        await new Promise((r) => setTimeout(r, 100));
        filter = await requestKeyFilter(nc, timeoutMs);
      }
      if (!(filter instanceof KeyFilter) || !cache.setKeyFilter(filter)) {
        throw new Error(`no key filter from the state service: ${filter instanceof KeyFilter ? 'not usable' : filter.reason}`);
      }
    }
    const local = {
      executor: await TxExecutor.create({ chainId: CHAIN_ID }), cache, patterns: new AccessPatternLearner(),
      ...(localPartitionMaxExecutors > 0 ? { partitionExecutor: await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true }) } : {}),
    };
    const silent = pino({ level: 'silent' });
    const modeOptions = adaptiveMode === 'serial' ? { adaptiveMode: false, minParallelTxs: Number.POSITIVE_INFINITY } : { adaptiveMode: adaptiveMode === 'on' };
    const engine = new ParallelEngine({ ...DEFAULT_ENGINE_OPTIONS, ...modeOptions, tailsPerExecutor, queueAhead, localPartitionMaxExecutors }, new HotKeyTracker(), silent);
    const genesisBlock = await request(nc, STATE_BLOCK_SUBJECT, BlockRequest, { number: 0n, hash: Buffer.alloc(0), latest: false }, BlockResponse, timeoutMs);
    const hashes: Buffer[] = [genesisBlock.header!.hash];
    const pids = cluster.services.filter((s) => s.name.startsWith('executor')).map((s) => s.child.pid!);
    const cpuOf = (): number => pids.reduce((sum, pid) => sum + (procCpuSeconds(pid) ?? 0), 0) * 1e6;
    const faultsOf = (): number => pids.reduce((sum, pid) => sum + (procMinorFaults(pid) ?? 0), 0);
    // Verbose: each process's CPU over the block, to tell the engine's own excess from what the
    // other processes (the state service serving the lookahead, executors applying the last block)
    // took from it on a host with 2 cores. /proc's clock ticks are 10 ms.
    const others = [
      ...cluster.services.filter((s) => !s.name.startsWith('executor')).map((s) => ({ name: s.name, pid: s.child.pid! })),
      { name: 'nats', pid: cluster.natsPid },
    ];
    const othersCpu = (): number[] => others.map((s) => (procCpuSeconds(s.pid) ?? 0) * 1e3);
    // Verbose: each process's time on a CPU and time runnable but waiting for one (schedstat, in
    // ns), main thread and helper threads apart. On 2 cores the two EVM threads (this process's
    // main thread and an executor's) wait whenever anything else runs: how long they wait, and
    // who ran, is what the /proc ticks above cannot tell.
    const schedProcs = [{ name: 'bench', pid: process.pid }, ...cluster.services.map((s) => ({ name: s.name, pid: s.child.pid! })), { name: 'nats', pid: cluster.natsPid }];
    const schedOf = (): Array<{ main: SchedTimes; helpers: SchedTimes } | undefined> => schedProcs.map((p) => procSchedTimes(p.pid));
    const schedSum = schedProcs.map(() => ({ main: { runMs: 0, waitMs: 0, slices: 0 }, helpers: { runMs: 0, waitMs: 0, slices: 0 } }));
    // Verbose: the bench process's own threads (V8's GC and compiler helpers run beside the main
    // thread and take a core from the executors) and its main thread's GC pauses, per block.
    // Each pause with its start on the performance clock: entries arrive asynchronously, so a
    // block's pauses are those that started within it, read once the block and its commit are done.
    const gcPauses: Array<{ start: number; ms: number; major: boolean }> = [];
    const mainThreadId = currentThreadId();
    // With the baseline on its own heap (the default), every pause of this isolate is the engine's:
    // those outside its blocks (during the commits, or while the baseline runs on its thread) are
    // added to the next block's time, as the baseline's thread adds those between its blocks.
    const chargeAllGc = cellOptions.baselineHeap === 'own';
    const gcObserver = verbose || chargeAllGc ? new PerformanceObserver((list) => {
      // detail.kind: perf_hooks.constants.NODE_PERFORMANCE_GC_MAJOR for a mark-compact; scavenges, incremental marking steps and weak callbacks otherwise.
      for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration, major: (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR });
    }) : undefined;
    gcObserver?.observe({ entryTypes: ['gc'] });
    let seconds = 0;
    let cpu = 0;
    let txs = 0;
    let reexecutions = 0;
    let parallelBlocks = 0;
    let serialBlocks = 0;
    let roundTrips = 0;
    const blockSpeedups: number[] = [];
    let root: Buffer = Buffer.alloc(0);
    // Verbose: where the CPU of the timed parallel blocks went, summed, for the cell's summary line.
    const budget = { blocks: 0, wallMs: 0, baselineMs: 0, mainMs: 0, helpersMs: 0, executorsMs: 0, othersMs: others.map(() => 0), idleMs: 0, gcMs: 0, baselineGcMs: 0 };
    for (const [b, block] of blocks.entries()) {
      const height = BigInt(b + 1);
      const timed = b >= warmupBlocks;
      if (b === warmupBlocks && cellOptions.settle) {
        // Untimed, on both heaps; the pauses it takes (and any the warm-up left uncounted) are nobody's.
        await serial.settle();
        settleYoungGeneration();
        for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        gcPauses.length = 0;
      }
      // Alternate which side goes first, so neither always runs right after the other's work.
      let serialSeconds = 0;
      // The baseline's block on the performance clock: its GC pauses, for the budget line.
      let serialT0 = 0;
      // The baseline's GC pauses during its block: its own isolate's (NaN: it shares this one's, counted below).
      let serialGcMs = Number.NaN;
      let serialIdleGcMs = 0;
      // Verbose: the CPU each side's thread ran its block on; one vCPU of these hosts is at times
      // much slower than the other (bench/README.md, session 30).
      let serialPlace: ThreadPlacement | undefined;
      if (b % 2 === 0) {
        serialT0 = performance.now();
        ({ seconds: serialSeconds, gcMs: serialGcMs, idleGcMs: serialIdleGcMs } = await serial.runBlock(b, timed));
        if (verbose) serialPlace = threadPlacement(process.pid, serial.threadId);
      }
      const env = blockEnv(genesis, height);
      const req: ExecRequest = {
        env, baseHeight: height - 1n, txs: block, txIndexes: blockIndexes(block.length), recentHashes: hashes.slice(-256),
        prefetched: [], requestId: height, partition: false,
      };
      // The next block, as a scheduler has it when blocks queue: its state loads while this one runs.
      const nextBlock = blocks[b + 1];
      const next: ExecRequest | undefined = nextBlock === undefined ? undefined : {
        env: blockEnv(genesis, height + 1n), baseHeight: height, txs: nextBlock, txIndexes: blockIndexes(nextBlock.length), recentHashes: [],
        prefetched: [], requestId: height + 1n, partition: false,
      };
      const execCpu0 = cpuOf();
      const faults0 = verbose ? faultsOf() : 0;
      const ownFaults0 = verbose ? procMinorFaults(process.pid) ?? 0 : 0;
      const others0 = verbose ? othersCpu() : [];
      const threads0 = verbose ? procThreadCpuSeconds(process.pid) : undefined;
      const idle0 = verbose ? hostIdleSeconds() : undefined;
      const sched0 = verbose ? schedOf() : [];
      const own0 = process.cpuUsage();
      const enginePlace0 = verbose ? threadPlacement(process.pid, mainThreadId) : undefined;
      const t0 = performance.now();
      let execution: BlockExecution | null = await engine.executeBlock(req, pool, local, lookahead ? next : undefined);
      const enginePlace = verbose ? threadPlacement(process.pid, mainThreadId) : undefined;
      const { writes, report } = execution;
      const blockSeconds = (performance.now() - t0) / 1000;
      const sched1 = verbose ? schedOf() : [];
      const own = process.cpuUsage(own0);
      const execCpu = cpuOf() - execCpu0;
      const faults = verbose ? `; page faults: bench ${(procMinorFaults(process.pid) ?? 0) - ownFaults0}, executors ${faultsOf() - faults0}` : '';
      const threads1 = verbose ? procThreadCpuSeconds(process.pid) : undefined;
      const idle1 = verbose ? hostIdleSeconds() : undefined;
      const othersBlock = verbose ? othersCpu().map((ms, i) => ms - others0[i]!) : [];
      const othersMs = othersBlock.map((ms, i) => `${others[i]!.name} ${ms.toFixed(0)}`).join(', ');
      const ordered: OrderedBlock = { height, parentDigest: Buffer.alloc(32), timestamp: env.timestamp, txRoot: Buffer.alloc(32), txs: block, digest: env.prevRandao, lastTxStreamSeq: 0n };
      // As the scheduler does: encoded once, after which the results die (encodeCommit); executors'
      // caches move to this height by its writes (BlockExecuted).
      const encoded = encodeCommit(ordered, env, execution.results, writes);
      execution = null;
      nc.publish(BLOCK_EXECUTED_SUBJECT, encoded.executed);
      const commit = await requestEncoded(nc, STATE_COMMIT_SUBJECT, encoded.commit, CommitResponse, timeoutMs);
      if (commit.error !== '' || commit.header === undefined) throw new Error(`commit of block ${height}: ${commit.error}`);
      hashes.push(commit.header.hash);
      cache.applyCommitted(height, writes);
      root = commit.header.stateRoot;
      if (b % 2 === 1) {
        serialT0 = performance.now();
        ({ seconds: serialSeconds, gcMs: serialGcMs, idleGcMs: serialIdleGcMs } = await serial.runBlock(b, timed));
        if (verbose) serialPlace = threadPlacement(process.pid, serial.threadId);
      }
      const t1 = t0 + blockSeconds * 1000;
      // GC entries reach the observer two immediates later: let the last block's arrive.
      if (verbose || chargeAllGc) for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      const blockGc = gcPauses.filter((g) => g.start >= t0 && g.start < t1);
      const serialWindowEnd = serialT0 + (serialSeconds - serialIdleGcMs / 1000) * 1000;
      if (Number.isNaN(serialGcMs)) serialGcMs = gcPauses.filter((g) => g.start >= serialT0 && g.start < serialWindowEnd).reduce((a, g) => a + g.ms, 0);
      // Pauses before both sides' blocks can no longer be counted: bounded by what one block and its commit produce.
      const done = Math.max(t1, serialWindowEnd);
      let idleGcMs = 0;
      while (gcPauses.length > 0 && gcPauses[0]!.start < done) {
        const g = gcPauses.shift()!;
        if (chargeAllGc && (g.start < t0 || g.start >= t1)) idleGcMs += g.ms;
      }
      const elapsed = blockSeconds + idleGcMs / 1000;
      if (verbose && timed && report.mode === 'parallel' && threads0 !== undefined && threads1 !== undefined && idle0 !== undefined && idle1 !== undefined) {
        budget.blocks++;
        budget.wallMs += elapsed * 1000;
        budget.baselineMs += serialSeconds * 1000;
        budget.mainMs += (threads1.main - threads0.main) * 1000;
        budget.helpersMs += (threads1.helpers - threads0.helpers) * 1000;
        budget.executorsMs += execCpu / 1000;
        othersBlock.forEach((ms, i) => { budget.othersMs[i]! += ms; });
        budget.idleMs += (idle1 - idle0) * 1000;
        budget.gcMs += blockGc.reduce((a, g) => a + g.ms, 0) + idleGcMs;
        budget.baselineGcMs += serialGcMs + serialIdleGcMs;
        sched1.forEach((after, i) => {
          const before = sched0[i];
          if (after === undefined || before === undefined) return;
          for (const part of ['main', 'helpers'] as const) {
            const d = schedDelta(before[part], after[part]);
            const sum = schedSum[i]![part];
            sum.runMs += d.runMs;
            sum.waitMs += d.waitMs;
            sum.slices += d.slices;
          }
        });
      }
      if (verbose) {
        const line = calls.map((c) => `${c.executor}: ${c.txs} txs ${c.mgas.toFixed(1)} Mgas ${c.ms.toFixed(0)} ms (cpu ${c.cpuMs.toFixed(0)} ms)`).join(', ');
        const phases = report.mode === 'parallel'
          ? ` (plan ${report.planMs.toFixed(1)}, executors ${report.executorsMs.toFixed(0)}, validate ${report.validateMs.toFixed(0)}, re-execute ${report.reexecuteMs.toFixed(0)} ms)`
          : '';
        const split = threads0 !== undefined && threads1 !== undefined
          ? ` (main ${((threads1.main - threads0.main) * 1000).toFixed(0)}, helpers ${((threads1.helpers - threads0.helpers) * 1000).toFixed(0)}; gc ${blockGc.length} pauses ${blockGc.reduce((a, b) => a + b.ms, 0).toFixed(0)} ms, ${blockGc.filter((g) => g.major).reduce((a, b) => a + b.ms, 0).toFixed(0)} of them major, + ${idleGcMs.toFixed(0)} ms between blocks)`
          : '';
        // The txs the scheduler's role ran itself (EngineOptions.localPartitionMaxExecutors): the block's less what executors answered.
        const localTxs = report.mode === 'parallel' ? block.length - calls.reduce((n, c) => n + c.txs, 0) : 0;
        const idle = idle0 !== undefined && idle1 !== undefined ? `, host idle ${((idle1 - idle0) * 1000).toFixed(0)}` : '';
        process.stderr.write(`  block ${height}: ${report.mode} ${(elapsed * 1000).toFixed(0)} ms (serial baseline ${(serialSeconds * 1000).toFixed(0)} ms, gc ${serialGcMs.toFixed(0)} ms + ${serialIdleGcMs.toFixed(0)} between blocks)${phases}, re-exec ${report.reexecutions}, round trips ${report.stateRoundTrips}, lookahead ${report.lookaheadKeys} keys in ${report.lookaheadRoundTrips}; cpu ms: bench ${((own.user + own.system) / 1000).toFixed(0)}${split}, executors ${(execCpu / 1000).toFixed(0)}, ${othersMs}${idle}${faults}; ${placement(enginePlace0, enginePlace, serialPlace)}; ${localTxs > 0 ? `local: ${localTxs} txs, ` : ''}${line}\n`);
      }
      calls.length = 0;
      if (!timed) continue;
      blockSpeedups.push(serialSeconds / elapsed);
      seconds += elapsed;
      cpu += own.user + own.system + execCpu;
      txs += block.length;
      reexecutions += report.reexecutions;
      roundTrips += report.stateRoundTrips;
      if (report.mode === 'parallel') parallelBlocks++;
      else serialBlocks++;
    }
    pool.stop();
    gcObserver?.disconnect();
    if (verbose && budget.blocks > 0) {
      // /proc counts in 10 ms ticks: per block these are averages over the timed parallel blocks.
      const per = (ms: number): string => (ms / budget.blocks).toFixed(1);
      const othersLine = others.map((o, i) => `${o.name} ${per(budget.othersMs[i]!)}`).join(', ');
      const cpuMs = budget.mainMs + budget.helpersMs + budget.executorsMs + budget.othersMs.reduce((a, b) => a + b, 0);
      process.stderr.write(`  per timed parallel block (${budget.blocks}): wall ${per(budget.wallMs)} ms against the baseline's ${per(budget.baselineMs)} ms (its GC pauses ${per(budget.baselineGcMs)}); ` +
        `cpu ms: bench main ${per(budget.mainMs)} (GC pauses ${per(budget.gcMs)}), bench helpers ${per(budget.helpersMs)}, executors ${per(budget.executorsMs)}, ${othersLine}; ` +
        `${per(cpuMs)} in all, ${(cpuMs / budget.baselineMs).toFixed(2)}× the baseline's wall; host idle ${per(budget.idleMs)}\n`);
      // nats-server's threads are its Go runtime's: one figure for all of them.
      const sched = schedProcs.map((p, i) => {
        const { main, helpers } = schedSum[i]!;
        const times = (t: SchedTimes): string => `${per(t.runMs)}/${per(t.waitMs)} (${per(t.slices)} slices)`;
        return p.name === 'nats'
          ? `nats ${times({ runMs: main.runMs + helpers.runMs, waitMs: main.waitMs + helpers.waitMs, slices: main.slices + helpers.slices })}`
          : `${p.name} main ${times(main)}, helpers ${times(helpers)}`;
      });
      if (schedSum.some((t) => t.main.runMs > 0)) process.stderr.write(`  on a CPU / waiting for one, ms per timed parallel block (schedstat): ${sched.join('; ')}\n`);
    }
    const tps = txs / seconds;
    const serialTotals = await serial.totals();
    const serialTps = serialTotals.txs / serialTotals.seconds;
    return {
      executors, txs, tps, serialTps, speedup: tps / serialTps, blockSpeedupMedian: median(blockSpeedups),
      reexecutions: reexecutions / txs, parallelBlocks, serialBlocks,
      cpuMicrosPerTx: cpu / txs, serialCpuMicrosPerTx: serialTotals.cpuMicros / serialTotals.txs,
      stateRoundTripsPerBlock: roundTrips / Math.max(1, blocks.length - warmupBlocks), root, serialRoot: serialTotals.root,
    };
  } finally {
    for (const put of unpin) put();
    await serial.stop();
    await nc.close();
    await cluster.stop();
    if (verbose) process.stderr.write(`  service logs kept in ${cluster.logDir}\n`);
    else fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Verbose: which CPU each side's block ran on, and the engine thread's moves between CPUs during its block. */
function placement(engineBefore: ThreadPlacement | undefined, engine: ThreadPlacement | undefined, baseline: ThreadPlacement | undefined): string {
  const moves = engineBefore !== undefined && engine !== undefined && engine.migrations >= 0 ? ` (${engine.migrations - engineBefore.migrations} moves)` : '';
  return `; on CPU: engine ${engine?.cpu ?? '?'}${moves}, baseline ${baseline?.cpu ?? '?'}`;
}

/** The run whose speed-up is the median (the lower middle one for an even count). */
function medianRun<T extends { speedup: number }>(runs: T[]): T {
  const sorted = [...runs].sort((a, b) => a.speedup - b.speedup);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function plot(rows: EngineBenchRow[], ceiling: number | null): string {
  const series = [];
  for (const workload of [...new Set(rows.map((r) => r.workload))]) {
    for (const executors of [...new Set(rows.map((r) => r.executors))]) {
      const points = rows.filter((r) => r.workload === workload && r.executors === executors).map((r) => [r.accounts, r.speedup] as [number, number]);
      if (points.length > 0) series.push({ name: `${workload}, ${executors} executor${executors > 1 ? 's' : ''}`, points });
    }
  }
  const accounts = rows.map((r) => r.accounts);
  const span = (y: number): Array<[number, number]> => [[Math.min(...accounts), y], [Math.max(...accounts), y]];
  series.push({ name: 'serial (1.0)', points: span(1), dashed: true });
  if (ceiling !== null) series.push({ name: `machine ceiling, 2 processes (${ceiling.toFixed(2)})`, points: span(ceiling), dashed: true });
  return lineChart({ title: 'Parallel engine speed-up over the serial reference (same blocks, same run)', xLabel: 'accounts (log)', yLabel: 'speed-up ×', series, logX: true });
}

export async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  // The process plays the scheduler, with its fixed young generation (the npm script's flags): its
  // pages are taken here, as the scheduler takes them at start, not in the first cell's blocks.
  touchYoungGeneration();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-engine-bench-'));
  const rows: EngineBenchRow[] = [];
  const out = (line: string): void => { process.stdout.write(line + '\n'); };
  const timedTxs = (workload: WorkloadKind): number => options.txs ?? DEFAULT_TIMED_TXS[workload];
  const timedLine = options.workloads.map((w) => `${timedTxs(w)} ${w}`).join(', ');
  out(`engine benchmark: timed txs per cell ${timedLine}, in blocks of ${options.blockTxs} after untimed warm-up blocks, machine ${os.cpus().length} cores`);
  const scaling = options.skipCeiling ? null : await measureMachineScaling(2);
  if (scaling !== null) {
    out(`machine: one process ${scaling.singleMicrosPerTx.toFixed(0)} µs/tx alone, ${scaling.concurrentMicrosPerTx.toFixed(0)} µs/tx each with 2 at once: ` +
      `2 processes give ${scaling.ceiling.toFixed(2)}× one (median of rounds ${scaling.roundCeilings.map((c) => c.toFixed(2)).join(', ')}), ` +
      'the ceiling of any parallel speed-up on this machine');
  }
  out('workload  accounts  executors      tps   serial tps  speedup  (block median)  re-exec/tx  par/ser blocks  cpu µs/tx (serial)  roots');
  try {
    for (const workload of options.workloads) {
      for (const accounts of options.accounts) {
        const warmupBlocks = options.warmupBlocks ?? defaultWarmupBlocks(accounts, options.blockTxs);
        const total = timedTxs(workload) + options.blockTxs * warmupBlocks;
        // On a thread of its own: this process plays the scheduler (baselineThread.ts).
        const w = await generateOffThread({ workload, accounts, hotShare: 0, chainId: CHAIN_ID, seed: `${options.seed}-${workload}-${accounts}`, txCount: total });
        const txs: Tx[] = w.txs;
        const blocks: Tx[][] = [];
        for (let i = 0; i < txs.length; i += options.blockTxs) blocks.push(txs.slice(i, i + options.blockTxs));
        const { genesisStateEntries } = await import('../../lib/chain/genesis.js');
        const entries = genesisStateEntries(w.genesis);
        for (const executors of options.executors) {
          const runs: Array<Awaited<ReturnType<typeof runCell>>> = [];
          for (let r = 0; r < options.repeat; r++) {
            const run = await runCell(w.genesis, entries, blocks, {
              executors, workDir, profileDir: options.profile, nodeArgs: options.nodeArgs, verbose: options.verbose, warmupBlocks, adaptiveMode: options.adaptiveMode, lookahead: options.lookahead, tailsPerExecutor: options.tailsPerExecutor, queueAhead: options.queueAhead, keyFilter: options.keyFilter, localPartitionMaxExecutors: options.localPartitionMaxExecutors, baselineHeap: options.baselineHeap, pinCpu: options.pinCpu, settle: options.settle,
            });
            if (!run.root.equals(run.serialRoot)) throw new Error(`state roots differ for ${workload}/${accounts}/${executors}: the engine broke serial equivalence`);
            runs.push(run);
          }
          const speedupRuns = runs.map((run) => run.speedup);
          const { root, serialRoot, ...cell } = medianRun(runs);
          const row: EngineBenchRow = {
            workload, accounts, warmupBlocks, ...cell, machineCeiling: scaling?.ceiling ?? null, rootsMatch: root.equals(serialRoot), speedupRuns,
          };
          rows.push(row);
          out([
            workload.padEnd(9), String(accounts).padStart(8), String(executors).padStart(10), row.tps.toFixed(0).padStart(8),
            row.serialTps.toFixed(0).padStart(12), `${row.speedup.toFixed(2)}×`.padStart(8), `(${row.blockSpeedupMedian.toFixed(2)}×)`.padStart(15),
            row.reexecutions.toFixed(3).padStart(11),
            `${row.parallelBlocks}/${row.serialBlocks}`.padStart(15), `${row.cpuMicrosPerTx.toFixed(0)} (${row.serialCpuMicrosPerTx.toFixed(0)})`.padStart(19),
            row.rootsMatch ? '  equal' : '  DIFFER',
            speedupRuns.length > 1 ? `  runs ${speedupRuns.map((x) => `${x.toFixed(2)}×`).join(' ')}` : '',
          ].join(' '));
        }
      }
    }
  } finally {
    if (!options.verbose) fs.rmSync(workDir, { recursive: true, force: true });
  }
  fs.mkdirSync(options.out, { recursive: true });
  const jsonPath = options.json ?? path.join(options.out, 'engine.json');
  fs.writeFileSync(jsonPath, JSON.stringify(rows, null, 2) + '\n');
  if (scaling !== null) fs.writeFileSync(path.join(options.out, 'engine-machine.json'), JSON.stringify(scaling, null, 2) + '\n');
  const svgPath = path.join(options.out, 'engine-speedup.svg');
  fs.writeFileSync(svgPath, plot(rows, scaling?.ceiling ?? null));
  out(`wrote ${jsonPath} and ${svgPath}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`bench:engine failed: ${err.message}\n`);
    process.exit(1);
  });
}
