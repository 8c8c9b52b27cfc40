// Hot keys learned from recent blocks: keys that invalidated many optimistic results. The
// addresses behind them become partition hints (their txs run together), and the share of
// conflicting txs predicts whether the next block is worth running in parallel at all.
import { keyAddress, keyKind, KEY_ACCOUNT, KEY_STORAGE, type StateKey } from '../state/keys.js';

export interface HotKeyOptions {
  /** Addresses remembered at most. */
  maxAddresses: number;
  /** A key is hot when it caused at least this share of a block's txs to conflict… */
  minShare: number;
  /** …and at least this many conflicts. */
  minCount: number;
  /** Blocks an address stays hot after it was last seen hot. */
  ttlBlocks: number;
}

export const DEFAULT_HOT_KEY_OPTIONS: HotKeyOptions = { maxAddresses: 256, minShare: 0.05, minCount: 4, ttlBlocks: 32 };

export class HotKeyTracker {
  private readonly hot = new Map<string, number>(); // address hex -> last block seen hot
  private lastConflictShare = 0;

  constructor(private readonly options: HotKeyOptions = DEFAULT_HOT_KEY_OPTIONS) {}

  /** Learns from one block: conflict counts per key, and how many txs it had. */
  observe(height: bigint, txs: number, conflicts: ReadonlyMap<StateKey, number>, conflictingTxs: number): void {
    this.lastConflictShare = txs === 0 ? 0 : conflictingTxs / txs;
    for (const [key, count] of conflicts) {
      if (count < this.options.minCount || count < txs * this.options.minShare) continue;
      const kind = keyKind(key);
      if (kind !== KEY_ACCOUNT && kind !== KEY_STORAGE) continue;
      this.hot.set(keyAddress(key).toString('hex'), Number(height));
    }
    for (const [address, seen] of this.hot) if (Number(height) - seen > this.options.ttlBlocks) this.hot.delete(address);
    if (this.hot.size > this.options.maxAddresses) {
      const oldest = [...this.hot.entries()].sort((a, b) => a[1] - b[1]).slice(0, this.hot.size - this.options.maxAddresses);
      for (const [address] of oldest) this.hot.delete(address);
    }
  }

  addresses(): ReadonlySet<string> {
    return new Set(this.hot.keys());
  }

  /** Share of the last observed block's txs that conflicted (or would have, if it ran serially). */
  conflictShare(): number {
    return this.lastConflictShare;
  }
}
