// The serial baseline: the reference executor (lib/evm) runs the very blocks the cluster
// committed, from the same genesis, one transaction after another in one thread. Its speed gives
// every report a ratio (cluster TPS / serial TPS) that survives a noisy machine, and its state
// root after each block must equal the root in the cluster's header (serial equivalence).
import { genesisStateEntries, type Genesis } from '../lib/chain/genesis.js';
import { ReferenceExecutor, type TxInput, type TxOutcome } from '../lib/evm/index.js';
import type { BlockHeader } from '../gen/lanes/v1/types.js';
import { bytesToBigint } from '../lib/state/keys.js';

export interface BaselineBlock {
  header: BlockHeader;
  /** The block's txs in order; null when one of them is not known to the bench (foreign). */
  txs: TxInput[] | null;
}

export interface BaselineResult {
  blocks: number;
  txs: number;
  /** Time spent in executeBlock only. */
  seconds: number;
  tps: number;
  gasUsed: bigint;
  rootMismatches: Array<{ height: bigint; cluster: string; reference: string }>;
  /** Set when replay had to stop (a foreign tx): later blocks cannot be compared. */
  stoppedAt?: { height: bigint; reason: string };
  outcomes: Map<string, TxOutcome>;
}

export class SerialBaseline {
  private nextHeight = 1n;
  private readonly hashes = new Map<bigint, Uint8Array>();
  private stopped: { height: bigint; reason: string } | undefined;

  private constructor(private readonly reference: ReferenceExecutor, private readonly genesis: Genesis) {}

  static async create(genesis: Genesis): Promise<SerialBaseline> {
    const reference = await ReferenceExecutor.create({ chainId: genesis.chainId, genesis: genesisStateEntries(genesis) });
    return new SerialBaseline(reference, genesis);
  }

  get genesisRoot(): Buffer {
    return this.reference.stateRoot();
  }

  get replayedHeight(): bigint {
    return this.nextHeight - 1n;
  }

  setGenesisHash(hash: Uint8Array): void {
    this.hashes.set(0n, hash);
  }

  /** Replays `blocks` (consecutive, starting at the next unreplayed height). */
  async replay(blocks: readonly BaselineBlock[]): Promise<BaselineResult> {
    const result: BaselineResult = { blocks: 0, txs: 0, seconds: 0, tps: 0, gasUsed: 0n, rootMismatches: [], outcomes: new Map() };
    for (const block of blocks) {
      const h = block.header;
      if (h.number !== this.nextHeight) throw new Error(`baseline: expected block ${this.nextHeight}, got ${h.number}`);
      this.nextHeight++;
      if (this.stopped !== undefined) continue;
      if (block.txs === null) {
        this.stopped = { height: h.number, reason: 'the block holds transactions this run did not send' };
        continue;
      }
      const env = {
        chainId: this.genesis.chainId, number: h.number, timestampSec: h.timestamp, coinbase: h.coinbase, gasLimit: h.gasLimit,
        baseFeePerGas: bytesToBigint(h.baseFeePerGas), prevRandao: h.mixHash, blockHashes: new Map(this.hashes),
      };
      const t0 = performance.now();
      const outcomes = block.txs.length === 0 ? [] : await this.reference.executeBlock(env, block.txs);
      result.seconds += (performance.now() - t0) / 1000;
      this.hashes.set(h.number, h.hash);
      if (this.hashes.size > 260) this.hashes.delete(h.number - 257n);
      result.blocks++;
      result.txs += block.txs.length;
      for (const o of outcomes) { result.gasUsed += o.gasUsed; result.outcomes.set(o.hash.toString('hex'), o); }
      const root = this.reference.stateRoot();
      if (!root.equals(Buffer.from(h.stateRoot))) {
        result.rootMismatches.push({ height: h.number, cluster: Buffer.from(h.stateRoot).toString('hex'), reference: root.toString('hex') });
      }
    }
    if (this.stopped !== undefined) result.stoppedAt = this.stopped;
    result.tps = result.seconds > 0 ? result.txs / result.seconds : 0;
    return result;
  }
}
