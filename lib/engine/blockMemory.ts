// The block's multi-version memory as the in-order validator sees it: for every key, the last
// write by a transaction already committed in block order (tx index and incarnation), over the
// committed base state. Also a VersionedStateSource, so a re-execution reads exactly the serial
// state.
//
// Coinbase fee deltas are resolved here, lazily: a credit is a write of the coinbase account at
// the crediting transaction's version (so validation sees it like any write), but its value is
// only computed when something reads the account (a re-execution) or the block settles. A block
// of 500 transfers paying one coinbase then folds 500 deltas into one account value, not 500.
import { BASE_TX_INDEX, type VersionedRead, type VersionedStateSource } from '../evm/stateView.js';
import { decodeAccount, EMPTY_CODE_HASH, encodeAccount, keyHex, type StateKey } from '../state/keys.js';

/** Which transaction (and incarnation) wrote a key last. */
export interface WriteVersion {
  txIndex: number;
  incarnation: number;
}

export interface MemoryEntry extends WriteVersion {
  value: Buffer | null;
}

/** Reads committed base state (at the block's base height); may answer sync or async. */
export type BaseReader = (key: StateKey) => Buffer | null | Promise<Buffer | null>;

/** Credits to one account not yet folded into its value. */
interface PendingCredits {
  /** The account's entry before the first unfolded credit (undefined: base state). */
  before: MemoryEntry | undefined;
  wei: bigint;
}

export class BlockMemory implements VersionedStateSource {
  private readonly latest = new Map<StateKey, MemoryEntry>();
  private readonly pending = new Map<StateKey, PendingCredits>();

  constructor(private readonly base: BaseReader) {}

  /** The last committed writer of `key`, or undefined when only base state has it. */
  lastWrite(key: StateKey): WriteVersion | undefined {
    return this.latest.get(key);
  }

  /**
   * Records tx `txIndex`'s writes (it is committed in block order after every earlier tx). A
   * write over unfolded credits would drop them: a writer of the account must have read it, and
   * reading folds, so that is a broken invariant.
   */
  commitWrites(txIndex: number, incarnation: number, writes: Iterable<[StateKey, Buffer | null]>): void {
    for (const [key, value] of writes) {
      if (this.pending.has(key)) throw new Error(`BlockMemory: tx ${txIndex} writes ${keyHex(key)} over unfolded credits without reading it`);
      this.latest.set(key, { txIndex, incarnation, value });
    }
  }

  /** Credits `wei` to the account at `key` as a write by tx `txIndex`; its value is computed when read or settled. */
  creditDelta(key: StateKey, txIndex: number, incarnation: number, wei: bigint): void {
    let credits = this.pending.get(key);
    if (credits === undefined) this.pending.set(key, (credits = { before: this.latest.get(key), wei: 0n }));
    credits.wei += wei;
    this.latest.set(key, { txIndex, incarnation, value: null });
  }

  read(key: StateKey): VersionedRead | Promise<VersionedRead> {
    if (this.pending.has(key)) {
      return this.fold(key).then((own) => ({ value: own.value, txIndex: own.txIndex, incarnation: own.incarnation }));
    }
    const own = this.latest.get(key);
    if (own !== undefined) return { value: own.value, txIndex: own.txIndex, incarnation: own.incarnation };
    const v = this.base(key);
    if (v instanceof Promise) return v.then((value) => ({ value, txIndex: BASE_TX_INDEX, incarnation: 0 }));
    return { value: v, txIndex: BASE_TX_INDEX, incarnation: 0 };
  }

  /** The block's write set: the last write of each key. Settle first, or credited accounts have no value yet. */
  blockWrites(): Array<[StateKey, Buffer | null]> {
    if (this.pending.size > 0) throw new Error('BlockMemory: write set asked for before the credits were settled');
    const writes: Array<[StateKey, Buffer | null]> = [];
    for (const [key, entry] of this.latest) writes.push([key, entry.value]);
    return writes;
  }

  /** Folds every unfolded credit: each credited account gets its final value, at its last credit's version. */
  async settle(): Promise<void> {
    for (const key of [...this.pending.keys()]) await this.fold(key);
  }

  private async fold(key: StateKey): Promise<MemoryEntry> {
    const credits = this.pending.get(key)!;
    const version = this.latest.get(key)!;
    const before = credits.before !== undefined ? credits.before.value : await this.base(key);
    const account = before === null ? { nonce: 0n, balance: 0n, codeHash: EMPTY_CODE_HASH } : decodeAccount(before);
    const entry = { txIndex: version.txIndex, incarnation: version.incarnation, value: encodeAccount({ ...account, balance: account.balance + credits.wei }) };
    // Nothing may have changed the key while the base read was in flight: the validator is sequential.
    if (this.latest.get(key) !== version || this.pending.get(key) !== credits) throw new Error(`BlockMemory: ${key} changed while its credits were folded`);
    this.pending.delete(key);
    this.latest.set(key, entry);
    return entry;
  }
}
