// The process `bench:instructions` runs under callgrind: one side of the comparison (the serial
// baseline, the engine's own serial path in the scheduler's process, or an executor's path for a
// partition) over the first `txs` transactions of a workload written by the parent, block after
// block, then exits. Nothing here
// measures anything: callgrind counts the instructions, the parent takes the difference of two
// runs with different tx counts.
//
// Usage: node instructionRun.js <baseline|engine|partition> <workload file> <txs> <block txs>
import fs from 'node:fs';
import v8 from 'node:v8';
import { pino } from 'pino';
import { ExecRequest, ExecResponse } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { withViews } from '../../lib/bus/protoBytes.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { DEFAULT_ENGINE_OPTIONS, HotKeyTracker, ParallelEngine, type ExecutorPool } from '../../lib/engine/index.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { blockWritesOf, runBlockSerially } from '../../lib/exec/blockRun.js';
import { blockIndexes } from '../../lib/exec/requests.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { blockEnv, SerialBaseline } from './serialBaseline.js';

export type InstructionSide = 'baseline' | 'engine' | 'partition';

/** What the parent writes for its runs: v8-serialized, so Buffers and bigints survive. */
export interface InstructionWorkload {
  genesis: Genesis;
  txs: Tx[];
}

/**
 * One executor that is never asked to run anything: with fewer than two, the engine runs every
 * block in its own process, its path for a dependent block (at 2 accounts `bench:engine` sees
 * mostly those), learning included, without the first blocks' parallel tries. A block it sent
 * out would fail here and fall back, which the run reports on stderr, so a side that is not the
 * serial path cannot pass for it.
 */
function idlePool(): ExecutorPool {
  const refuse = (): Promise<never> => Promise.reject(new Error('bench:instructions runs no executors'));
  return { size: () => 1, run: refuse, lookahead: refuse };
}

async function runEngine(workload: InstructionWorkload, blocks: Tx[][]): Promise<number> {
  const state = genesisStateEntries(workload.genesis);
  const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), 1_000_000);
  cache.reset(0n);
  const local = { executor: await TxExecutor.create({ chainId: workload.genesis.chainId }), cache, patterns: new AccessPatternLearner() };
  const engine = new ParallelEngine(DEFAULT_ENGINE_OPTIONS, new HotKeyTracker(), pino({ level: 'silent' }));
  const pool = idlePool();
  let fallbacks = 0;
  const request = (b: number): ExecRequest | undefined => {
    const txs = blocks[b];
    if (txs === undefined) return undefined;
    const height = BigInt(b + 1);
    return {
      env: blockEnv(workload.genesis, height), baseHeight: height - 1n, txs, txIndexes: blockIndexes(txs.length),
      recentHashes: [], prefetched: [], requestId: height, partition: false,
    };
  };
  for (let b = 0; b < blocks.length; b++) {
    const { writes, report } = await engine.executeBlock(request(b)!, pool, local, request(b + 1));
    fallbacks += report.fallbacks + (report.mode === 'parallel' ? 1 : 0);
    for (const [key, value] of writes) {
      if (value === null) state.delete(key);
      else state.set(key, value);
    }
    cache.applyCommitted(BigInt(b + 1), writes);
  }
  return fallbacks;
}

/**
 * What an executor does with a partition, each block sent whole as one (coinbase fees as deltas,
 * as in a parallel block): decode the request's bytes, run it over its cache with read-sets and
 * write-sets in the results, encode the response. No bus and no yields to the event loop (their
 * timing would move the counts); the block's writes then move the cache, as BlockExecuted does.
 */
async function runPartitions(workload: InstructionWorkload, blocks: Tx[][]): Promise<void> {
  const state = genesisStateEntries(workload.genesis);
  const cache = new CommittedStateCache(async (keys) => keys.map((k) => state.get(k) ?? null), 1_000_000);
  cache.reset(0n);
  const executor = await TxExecutor.create({ chainId: workload.genesis.chainId, coinbaseDeltas: true });
  const patterns = new AccessPatternLearner();
  for (let b = 0; b < blocks.length; b++) {
    const txs = blocks[b]!;
    const height = BigInt(b + 1);
    const wire = ExecRequest.encode({
      env: blockEnv(workload.genesis, height), baseHeight: height - 1n, txs, txIndexes: blockIndexes(txs.length),
      recentHashes: [], prefetched: [], requestId: height, partition: true,
    }).finish();
    const run = await runBlockSerially(executor, withViews(ExecRequest).decode(wire), cache, { patterns });
    const response = ExecResponse.encode({ requestId: height, results: run.results, error: '', stateRoundTrips: run.roundTrips, executorId: 'x', cpuMicros: 0n }).finish();
    // The scheduler's side of the hop, so that the partition's results are paid for as a whole.
    const writes = blockWritesOf(withViews(ExecResponse).decode(response).results);
    for (const [key, value] of writes) {
      if (value === null) state.delete(key);
      else state.set(key, value);
    }
    cache.applyCommitted(height, writes);
  }
}

async function main(argv: string[]): Promise<void> {
  const [side, file, txsArg, blockArg] = argv;
  if (side !== 'baseline' && side !== 'engine' && side !== 'partition') throw new Error(`side must be baseline, engine or partition, got ${side}`);
  const workload = v8.deserialize(fs.readFileSync(file!)) as InstructionWorkload;
  const txs = workload.txs.slice(0, Number(txsArg));
  const blockTxs = Number(blockArg);
  const blocks: Tx[][] = [];
  for (let i = 0; i < txs.length; i += blockTxs) blocks.push(txs.slice(i, i + blockTxs));
  if (side === 'baseline') {
    const serial = await SerialBaseline.create(workload.genesis, genesisStateEntries(workload.genesis));
    for (let b = 0; b < blocks.length; b++) await serial.runBlock(BigInt(b + 1), blocks[b]!, false);
    return;
  }
  if (side === 'partition') {
    await runPartitions(workload, blocks);
    return;
  }
  const notSerial = await runEngine(workload, blocks);
  if (notSerial > 0) process.stderr.write(`not-serial-blocks ${notSerial}\n`);
}

await main(process.argv.slice(2));
