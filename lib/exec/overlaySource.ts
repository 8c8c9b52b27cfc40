// The state a transaction of a block sees when the block runs serially in one executor: the
// writes of earlier transactions of the block (versioned by their index) over committed state at
// the block's base height. Cached values answer synchronously; a miss costs one batched read.
import { BASE_TX_INDEX, type VersionedRead, type VersionedStateSource } from '../evm/stateView.js';
import type { StateKey } from '../state/keys.js';
import type { CommittedStateCache } from './committedState.js';

export class BlockOverlaySource implements VersionedStateSource {
  private readonly overlay = new Map<StateKey, VersionedRead>();
  roundTrips = 0;

  constructor(private readonly committed: CommittedStateCache, private readonly baseHeight: bigint) {}

  read(key: StateKey): VersionedRead | Promise<VersionedRead> {
    const own = this.overlay.get(key);
    if (own !== undefined) return own;
    const cached = this.committed.peek(key, this.baseHeight);
    if (cached !== undefined) return { value: cached, txIndex: BASE_TX_INDEX, incarnation: 0 };
    return this.fetch(key);
  }

  private async fetch(key: StateKey): Promise<VersionedRead> {
    this.roundTrips++;
    const [value] = await this.committed.load([key], this.baseHeight);
    return { value: value ?? null, txIndex: BASE_TX_INDEX, incarnation: 0 };
  }

  /** Loads keys the block will likely read (senders, recipients, code) in one round trip. */
  async prefetch(keys: Iterable<StateKey>): Promise<void> {
    const missing: StateKey[] = [];
    for (const key of keys) {
      if (!this.overlay.has(key) && this.committed.peek(key, this.baseHeight) === undefined) missing.push(key);
    }
    if (missing.length === 0) return;
    this.roundTrips++;
    await this.committed.load([...new Set(missing)], this.baseHeight);
  }

  /** Makes transaction `txIndex`'s writes visible to the transactions after it. */
  applyWrites(txIndex: number, writes: ReadonlyMap<StateKey, Buffer | null>): void {
    for (const [key, value] of writes) this.overlay.set(key, { value, txIndex, incarnation: 0 });
  }
}
