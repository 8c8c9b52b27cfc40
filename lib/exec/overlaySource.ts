// The state a transaction of a block sees when the block runs serially in one executor: the
// writes of earlier transactions of the block (versioned by their index) over committed state at
// the block's base height. Cached values answer synchronously; a miss costs one batched read.
import { BASE_TX_INDEX, type VersionedRead, type VersionedStateSource } from '../evm/stateView.js';
import type { StateKey } from '../state/keys.js';
import type { CommittedStateCache } from './committedState.js';

/** Batched loads a block's misses may widen (see companions); later misses load one key each. */
export const MISS_BATCHES_MAX = 3;
/**
 * Misses per block that may look for companions at all (each look walks the rest of the block).
 * A look that found nothing is not repeated until companionsGeneration changes (patterns learned
 * something), so the looks go where they can help: after the block's first calls have taught
 * the patterns, not all on the cold misses of its first transaction.
 */
const COMPANION_LOOKS_MAX = 48;
/** A widened load counts against MISS_BATCHES_MAX when it brings at least this many new keys. */
const COMPANIONS_MIN = 8;

export class BlockOverlaySource implements VersionedStateSource {
  private readonly overlay = new Map<StateKey, VersionedRead>();
  roundTrips = 0;
  private missBatches = 0;
  private companionLooks = 0;
  /**
   * Keys worth loading along with a miss: what the rest of the block will likely read, as far as
   * is known by now (patterns keep learning during the block). A cold block then costs a few
   * round trips instead of one per key it did not predict.
   */
  companions: (() => Iterable<StateKey>) | null = null;
  /** What companions() would say changes only when this does (null: it may change at any time). */
  companionsGeneration: (() => number) | null = null;
  private barrenGeneration: number | null = null;

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
    const keys = [key];
    const generation = this.companionsGeneration?.() ?? null;
    const barren = generation !== null && generation === this.barrenGeneration;
    if (this.companions !== null && !barren && this.missBatches < MISS_BATCHES_MAX && this.companionLooks < COMPANION_LOOKS_MAX) {
      this.companionLooks++;
      const seen = new Set(keys);
      for (const k of this.companions()) {
        if (seen.has(k) || this.overlay.has(k) || this.committed.peek(k, this.baseHeight) !== undefined) continue;
        seen.add(k);
        keys.push(k);
      }
      // A few extra keys ride along for free; only a real widening spends the budget.
      if (keys.length - 1 >= COMPANIONS_MIN) this.missBatches++;
      this.barrenGeneration = keys.length === 1 ? generation : null;
    }
    const [value] = await this.committed.load(keys, this.baseHeight);
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

  /** The block's writes so far: the last value of each key written. */
  blockWrites(): Array<[StateKey, Buffer | null]> {
    const writes: Array<[StateKey, Buffer | null]> = [];
    for (const [key, own] of this.overlay) writes.push([key, own.value]);
    return writes;
  }

  /** Makes transaction `txIndex`'s writes visible to the transactions after it. */
  applyWrites(txIndex: number, writes: ReadonlyMap<StateKey, Buffer | null>): void {
    for (const [key, value] of writes) this.overlay.set(key, { value, txIndex, incarnation: 0 });
  }
}
