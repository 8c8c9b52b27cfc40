// Hot keys learned from recent blocks: keys that invalidated many optimistic results, and called
// contracts most of whose calls conflicted. The addresses behind them become partition hints
// (their txs run together), and the share of conflicting txs predicts whether the next block is
// worth running in parallel at all.
//
// Why contracts too: the contended key often lives in another contract than the one a tx calls
// (a router's swaps meet on a pair's reserves), and only the called address is known before
// execution, so that is what partitioning can group by. The rule is per contract and relative to
// that contract's own calls, so a token whose transfers conflict now and then (a few per cent at
// 10,000 holders) stays parallel while a router in front of one pool (nearly every call) groups.
import { keyAddress, keyKind, KEY_ACCOUNT, KEY_STORAGE, type StateKey } from '../state/keys.js';

export interface HotKeyOptions {
  /** Addresses remembered at most. */
  maxAddresses: number;
  /** A key is hot when it caused at least this share of a block's txs to conflict… */
  minShare: number;
  /** …and at least this many conflicts (also the least conflicting calls of a hot contract). */
  minCount: number;
  /** A called contract is hot when at least this share of its calls in a block conflicted. */
  contractShare: number;
  /** Blocks an address stays hot after it was last seen hot. */
  ttlBlocks: number;
}

export const DEFAULT_HOT_KEY_OPTIONS: HotKeyOptions = { maxAddresses: 256, minShare: 0.05, minCount: 4, contractShare: 0.3, ttlBlocks: 32 };

/** Calls of one contract in a block, and how many of them conflicted. */
export interface ContractCalls {
  calls: number;
  conflicts: number;
}

/** What one block showed: conflicts per key, calls per called contract (hex address, no 0x). */
export interface BlockConflicts {
  height: bigint;
  txs: number;
  conflictingTxs: number;
  conflicts: ReadonlyMap<StateKey, number>;
  contracts: ReadonlyMap<string, ContractCalls>;
}

export class HotKeyTracker {
  private readonly hot = new Map<string, number>(); // address hex -> last block seen hot
  private lastConflictShare = 0;

  constructor(private readonly options: HotKeyOptions = DEFAULT_HOT_KEY_OPTIONS) {}

  /** Learns from one block. */
  observe(block: BlockConflicts): void {
    const { txs } = block;
    const height = Number(block.height);
    this.lastConflictShare = txs === 0 ? 0 : block.conflictingTxs / txs;
    for (const [key, count] of block.conflicts) {
      if (count < this.options.minCount || count < txs * this.options.minShare) continue;
      const kind = keyKind(key);
      if (kind !== KEY_ACCOUNT && kind !== KEY_STORAGE) continue;
      this.hot.set(keyAddress(key).toString('hex'), height);
    }
    for (const [address, c] of block.contracts) {
      if (c.conflicts >= this.options.minCount && c.conflicts >= c.calls * this.options.contractShare) this.hot.set(address, height);
    }
    for (const [address, seen] of this.hot) if (height - seen > this.options.ttlBlocks) this.hot.delete(address);
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

/** Counts calls and conflicting calls per called contract over a block. */
export class ContractCallCounter {
  readonly contracts = new Map<string, ContractCalls>();

  /** One tx of the block: the contract it called (null for none / creation), and whether it conflicted. */
  add(to: string | null, conflicted: boolean): void {
    if (to === null) return;
    let c = this.contracts.get(to);
    if (c === undefined) this.contracts.set(to, (c = { calls: 0, conflicts: 0 }));
    c.calls++;
    if (conflicted) c.conflicts++;
  }
}
