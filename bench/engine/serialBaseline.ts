// The serial reference of the engine benchmarks: the fastest serial path Lanes has (the same EVM
// and journaled state view as an executor, in one process, over the whole state in a Map, no
// bus), and the block environment both sides of a benchmark run a block in.
import type { BlockEnv, ExecRequest } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import type { Genesis } from '../../lib/chain/genesis.js';
import { MapStateSource, TxExecutor } from '../../lib/evm/index.js';
import { blockIndexes } from '../../lib/exec/requests.js';
import { bigintToBytes } from '../../lib/state/keys.js';
import { StateRootAccumulator } from '../../lib/state/root.js';

export function blockEnv(genesis: Genesis, height: bigint): BlockEnv {
  return {
    number: height, timestamp: genesis.timestamp + height, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
    baseFeePerGas: bigintToBytes(genesis.baseFeePerGas), prevRandao: Buffer.alloc(32, Number(height % 256n)), chainId: genesis.chainId,
  };
}

/** Block `b` (0-based; height b + 1) as the engine is handed it, or undefined past the last. */
export function blockRequest(genesis: Genesis, blocks: readonly Tx[][], b: number): ExecRequest | undefined {
  const txs = blocks[b];
  if (txs === undefined) return undefined;
  const height = BigInt(b + 1);
  return {
    env: blockEnv(genesis, height), baseHeight: height - 1n, txs, txIndexes: blockIndexes(txs.length),
    recentHashes: [], prefetched: [], requestId: height, partition: false,
  };
}

/** The state root of a whole state held in a Map: for equality between the sides, untimed. */
export function stateRoot(state: ReadonlyMap<string, Buffer>): Buffer {
  const root = new StateRootAccumulator();
  for (const [key, value] of state) root.update(key, null, value);
  return root.root();
}

/**
 * The serial baseline: one TxExecutor (same EVM, same journaled state view) over the whole state
 * in a Map, each tx's writes applied before the next; no bus, no root per write (the root is
 * computed once at the end, for the equality check, untimed). It runs block by block, interleaved
 * with the engine's run of the same block, so both see the same machine at the same moment: on
 * a shared 2-vCPU host, throughput drifts by ±20 % over a minute, which would otherwise land on
 * whichever side ran during the slow stretch.
 */
export class SerialBaseline {
  private readonly state: Map<string, Buffer>;
  private readonly source: MapStateSource;
  seconds = 0;
  cpuMicros = 0;
  txs = 0;

  private constructor(private readonly genesis: Genesis, private readonly executor: TxExecutor, entries: Map<string, Buffer>) {
    this.state = new Map(entries);
    this.source = new MapStateSource(this.state);
  }

  static async create(genesis: Genesis, entries: Map<string, Buffer>): Promise<SerialBaseline> {
    return new SerialBaseline(genesis, await TxExecutor.create({ chainId: genesis.chainId }), entries);
  }

  /** Runs one block; returns its wall seconds. */
  async runBlock(height: bigint, block: Tx[], timed: boolean): Promise<number> {
    const env = blockEnv(this.genesis, height);
    const evmEnv = {
      chainId: env.chainId, number: env.number, timestampSec: env.timestamp, coinbase: env.coinbase, gasLimit: env.gasLimit,
      baseFeePerGas: this.genesis.baseFeePerGas, prevRandao: env.prevRandao,
    };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const tx of block) {
      const outcome = await this.executor.execute(tx, evmEnv, this.source);
      for (const [key, value] of outcome.writes) {
        if (value === null) this.state.delete(key);
        else this.state.set(key, value);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    if (!timed) return seconds;
    this.seconds += seconds;
    const used = process.cpuUsage(cpu0);
    this.cpuMicros += used.user + used.system;
    this.txs += block.length;
    return seconds;
  }

  root(): Buffer {
    return stateRoot(this.state);
  }
}
