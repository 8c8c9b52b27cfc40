// What an executor knows of committed state: a bounded cache of values at one height, kept
// warm by applying each committed block's writes, with misses fetched in batches from the state
// service. The cache never serves a height it does not hold: reads for another height go to the
// fetcher, which reads at that exact version.
import type { StateKey } from '../state/keys.js';

/** Reads committed values at `height` (one round trip per call); null = absent. */
export type CommittedFetcher = (keys: StateKey[], height: bigint) => Promise<(Buffer | null)[]>;

export interface CommittedCacheStats {
  height: bigint;
  entries: number;
  hits: number;
  misses: number;
  roundTrips: number;
  clears: number;
}

export class CommittedStateCache {
  private readonly values = new Map<StateKey, Buffer | null>();
  private cacheHeight = -1n;
  private readonly counters = { hits: 0, misses: 0, roundTrips: 0, clears: 0 };
  private lastRunMissed = true;

  constructor(private readonly fetcher: CommittedFetcher, private readonly maxEntries: number) {}

  get height(): bigint {
    return this.cacheHeight;
  }

  stats(): CommittedCacheStats {
    return { height: this.cacheHeight, entries: this.values.size, ...this.counters };
  }

  /** Moves the cache to `height` by applying that block's writes; a gap drops the cache. */
  applyCommitted(height: bigint, writes: Iterable<[StateKey, Buffer | null]>): void {
    if (height <= this.cacheHeight) return;
    if (height !== this.cacheHeight + 1n) {
      this.reset(height);
      return;
    }
    // Every written key is cached: what a block wrote is what the next blocks most likely read
    // (the same senders, recipients and pools), on whichever executor their txs land. Bounded:
    // past maxEntries the cache starts over.
    for (const [key, value] of writes) {
      if (!this.values.has(key) && this.values.size >= this.maxEntries) {
        this.values.clear();
        this.counters.clears++;
        this.lastRunMissed = true;
      }
      this.values.set(key, value);
    }
    this.cacheHeight = height;
  }

  /**
   * Warm: the last block run over this cache met no key it lacked after its prefetch, so the next
   * run may skip predicting keys when every account it touches is cached. A reset makes it cold.
   */
  get warm(): boolean {
    return !this.lastRunMissed;
  }

  /** Records how many reads of a block run missed the cache after its prefetch. */
  noteRun(misses: number): void {
    this.lastRunMissed = misses > 0;
  }

  /** Empties the cache and pins it to `height`. */
  reset(height: bigint): void {
    if (this.values.size > 0) this.counters.clears++;
    this.values.clear();
    this.cacheHeight = height;
    this.lastRunMissed = true;
  }

  /** The cached value at `height`, or undefined when not cached (or the cache is elsewhere). */
  peek(key: StateKey, height: bigint): Buffer | null | undefined {
    if (height !== this.cacheHeight) return undefined;
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    this.counters.hits++;
    return v;
  }

  /** Fetches `keys` at `height` in one round trip, caching them when the cache is at that height. */
  async load(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    this.counters.misses += keys.length;
    this.counters.roundTrips++;
    const values = await this.fetcher(keys, height);
    if (values.length !== keys.length) throw new Error(`state read returned ${values.length} values for ${keys.length} keys`);
    if (height === this.cacheHeight) {
      if (this.values.size + keys.length > this.maxEntries) {
        this.values.clear();
        this.counters.clears++;
        this.lastRunMissed = true;
      }
      keys.forEach((k, i) => this.values.set(k, values[i]!));
    }
    return values;
  }
}
