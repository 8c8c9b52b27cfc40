// The process `bench:instructions` runs under callgrind: one side of the comparison (the serial
// baseline, the engine's own serial path in the scheduler's process, an executor's path for a
// partition, or a whole parallel block: the scheduler's slot and an executor's in one process)
// over the first `txs` transactions of a workload written by the parent, block after block, then
// exits. Nothing here measures anything: callgrind counts the instructions, the parent takes the
// difference of two runs with different tx counts.
//
// Usage: node instructionRun.js <baseline|engine|partition|parallel> <workload file> <txs> <block txs>
import fs from 'node:fs';
import v8 from 'node:v8';
import { ExecRequest, ExecResponse } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { withViews } from '../../lib/bus/protoBytes.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { blockWritesOf, runBlockSerially } from '../../lib/exec/blockRun.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { blockIndexes } from '../../lib/exec/requests.js';
import { EngineParallelSide } from './engineParallelSide.js';
import { EngineSerialSide } from './engineSerialSide.js';
import { blockEnv, SerialBaseline } from './serialBaseline.js';
import { encodeMessage } from '../../lib/bus/encode.js';

export type InstructionSide = 'baseline' | 'engine' | 'partition' | 'parallel';

/** What the parent writes for its runs: v8-serialized, so Buffers and bigints survive. */
export interface InstructionWorkload {
  genesis: Genesis;
  txs: Tx[];
}

/**
 * The scheduler's serial path (engineSerialSide.ts): at 2 accounts `bench:engine` sees mostly
 * dependent blocks, which the engine runs in its own process, learning included, without the
 * first blocks' parallel tries. A block it ran otherwise is reported on stderr.
 */
async function runEngine(workload: InstructionWorkload, blocks: Tx[][]): Promise<number> {
  const side = await EngineSerialSide.create(workload.genesis, blocks);
  let notSerial = 0;
  for (let b = 0; b < blocks.length; b++) if (!(await side.runBlock(b)).serial) notSerial++;
  return notSerial;
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
    // Encoded as the bus does (lib/bus/encode.ts), so the hop costs here what it costs there.
    const wire = encodeMessage(ExecRequest, {
      env: blockEnv(workload.genesis, height), baseHeight: height - 1n, txs, txIndexes: blockIndexes(txs.length),
      recentHashes: [], prefetched: [], requestId: height, partition: true,
    });
    const run = await runBlockSerially(executor, withViews(ExecRequest).decode(wire), cache, { patterns });
    const response = encodeMessage(ExecResponse, { requestId: height, results: run.results, error: '', stateRoundTrips: run.roundTrips, executorId: 'x', cpuMicros: 0n });
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
  if (side !== 'baseline' && side !== 'engine' && side !== 'partition' && side !== 'parallel') throw new Error(`side must be baseline, engine, partition or parallel, got ${side}`);
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
  if (side === 'parallel') {
    const parallel = await EngineParallelSide.create(workload.genesis, blocks);
    let notParallel = 0;
    for (let b = 0; b < blocks.length; b++) if (!(await parallel.runBlock(b)).parallel) notParallel++;
    if (notParallel > 0) process.stderr.write(`not-parallel-blocks ${notParallel}\n`);
    return;
  }
  const notSerial = await runEngine(workload, blocks);
  if (notSerial > 0) process.stderr.write(`not-serial-blocks ${notSerial}\n`);
}

await main(process.argv.slice(2));
