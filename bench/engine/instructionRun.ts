// The process `bench:instructions` runs under callgrind: one side of the comparison (the serial
// baseline, or the engine's own serial path in the scheduler's process) over the first `txs`
// transactions of a workload written by the parent, block after block, then exits. Nothing here
// measures anything: callgrind counts the instructions, the parent takes the difference of two
// runs with different tx counts.
//
// Usage: node instructionRun.js <baseline|engine> <workload file> <txs> <block txs>
import fs from 'node:fs';
import v8 from 'node:v8';
import { pino } from 'pino';
import type { ExecRequest } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { DEFAULT_ENGINE_OPTIONS, HotKeyTracker, ParallelEngine, type ExecutorPool } from '../../lib/engine/index.js';
import { TxExecutor } from '../../lib/evm/index.js';
import { AccessPatternLearner } from '../../lib/exec/accessPatterns.js';
import { CommittedStateCache } from '../../lib/exec/committedState.js';
import { blockEnv, SerialBaseline } from './serialBaseline.js';

export type InstructionSide = 'baseline' | 'engine';

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
      env: blockEnv(workload.genesis, height), baseHeight: height - 1n, txs, txIndexes: txs.map((_, i) => i),
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

async function main(argv: string[]): Promise<void> {
  const [side, file, txsArg, blockArg] = argv;
  if (side !== 'baseline' && side !== 'engine') throw new Error(`side must be baseline or engine, got ${side}`);
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
  const notSerial = await runEngine(workload, blocks);
  if (notSerial > 0) process.stderr.write(`not-serial-blocks ${notSerial}\n`);
}

await main(process.argv.slice(2));
