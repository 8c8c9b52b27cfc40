// The block's multi-version memory as the in-order validator sees it: for every key, the last
// write by a transaction already committed in block order (tx index and incarnation), over the
// committed base state. Coinbase fee deltas are resolved here: a delta becomes a write of the
// coinbase account at the delta's transaction, so later readers and the final write set see the
// serial value. Also a VersionedStateSource, so a re-execution reads exactly the serial state.
import { BASE_TX_INDEX, type VersionedRead, type VersionedStateSource } from '../evm/stateView.js';
import { decodeAccount, EMPTY_CODE_HASH, encodeAccount, type StateKey } from '../state/keys.js';

export interface MemoryEntry {
  txIndex: number;
  incarnation: number;
  value: Buffer | null;
}

/** Reads committed base state (at the block's base height); may answer sync or async. */
export type BaseReader = (key: StateKey) => Buffer | null | Promise<Buffer | null>;

export class BlockMemory implements VersionedStateSource {
  private readonly latest = new Map<StateKey, MemoryEntry>();

  constructor(private readonly base: BaseReader) {}

  /** The last committed writer of `key`, or undefined when only base state has it. */
  lastWrite(key: StateKey): MemoryEntry | undefined {
    return this.latest.get(key);
  }

  /** Records tx `txIndex`'s writes (it is committed in block order after every earlier tx). */
  commitWrites(txIndex: number, incarnation: number, writes: Iterable<[StateKey, Buffer | null]>): void {
    for (const [key, value] of writes) this.latest.set(key, { txIndex, incarnation, value });
  }

  /** Credits `delta` wei to the account at `key` as a write by tx `txIndex`; returns the new value. */
  async creditDelta(key: StateKey, txIndex: number, incarnation: number, delta: bigint): Promise<Buffer> {
    const current = this.latest.get(key);
    const before = current !== undefined ? current.value : await this.base(key);
    const account = before === null ? { nonce: 0n, balance: 0n, codeHash: EMPTY_CODE_HASH } : decodeAccount(before);
    const value = encodeAccount({ ...account, balance: account.balance + delta });
    this.latest.set(key, { txIndex, incarnation, value });
    return value;
  }

  read(key: StateKey): VersionedRead | Promise<VersionedRead> {
    const own = this.latest.get(key);
    if (own !== undefined) return { value: own.value, txIndex: own.txIndex, incarnation: own.incarnation };
    const v = this.base(key);
    if (v instanceof Promise) return v.then((value) => ({ value, txIndex: BASE_TX_INDEX, incarnation: 0 }));
    return { value: v, txIndex: BASE_TX_INDEX, incarnation: 0 };
  }
}
