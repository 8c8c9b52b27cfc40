// What an executor knows of committed state: a bounded cache of values at one height, kept
// warm by applying each committed block's writes, with misses fetched in batches from the state
// service. The cache never serves a height it does not hold: reads for another height go to the
// fetcher, which reads at that exact version.
//
// A block whose execution is final but whose commit has not landed yet (the scheduler runs the
// next block while it commits) is applied with applyExecuted: the cache moves to its height and
// keeps its writes aside until confirm(height). A miss at that height is read at the height
// before, which is committed: a key the block did not write has the same value at both.
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
  /** The block at cacheHeight while its commit is not confirmed: its whole write set. */
  private pending: { height: bigint; writes: Map<StateKey, Buffer | null> } | null = null;

  constructor(private readonly fetcher: CommittedFetcher, private readonly maxEntries: number) {}

  get height(): bigint {
    return this.cacheHeight;
  }

  stats(): CommittedCacheStats {
    return { height: this.cacheHeight, entries: this.values.size, ...this.counters };
  }

  /** Moves the cache to `height` by applying that block's writes; a gap drops the cache. */
  applyCommitted(height: bigint, writes: Iterable<[StateKey, Buffer | null]>): void {
    if (height <= this.cacheHeight) {
      this.confirm(height);
      return;
    }
    if (height !== this.cacheHeight + 1n) {
      this.reset(height);
      return;
    }
    this.apply(height, writes);
    this.pending = null;
  }

  /**
   * Moves the cache to `height`, a block executed but maybe not committed yet, whose every write
   * is in `writes`. The block before it must be committed (the scheduler publishes a block's
   * writes only once the block before has committed). Until confirm(height), misses at `height`
   * are read at `height - 1`. After a gap the cache holds just these writes.
   */
  applyExecuted(height: bigint, writes: ReadonlyArray<readonly [StateKey, Buffer | null]>): void {
    if (height <= this.cacheHeight) return;
    if (height !== this.cacheHeight + 1n) this.reset(height - 1n);
    this.apply(height, writes);
    this.pending = { height, writes: new Map(writes) };
  }

  /** Block `height` has committed: misses there are read there again. */
  confirm(height: bigint): void {
    if (this.pending !== null && this.pending.height <= height) this.pending = null;
  }

  /** The block at the cache's height is executed but not confirmed committed. */
  get unconfirmed(): boolean {
    return this.pending !== null;
  }

  private apply(height: bigint, writes: Iterable<readonly [StateKey, Buffer | null]>): void {
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
    this.pending = null;
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
    const values = await this.fetchAt(keys, height);
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

  /** One round trip; at an unconfirmed height, the block's own writes and the rest one height down. */
  private async fetchAt(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]> {
    const pending = this.pending;
    if (pending === null || pending.height !== height) return this.checked(keys, await this.fetcher(keys, height));
    const below: StateKey[] = [];
    for (const key of keys) if (!pending.writes.has(key)) below.push(key);
    const fetched = below.length === 0 ? [] : this.checked(below, await this.fetcher(below, height - 1n));
    let next = 0;
    return keys.map((key) => {
      const written = pending.writes.get(key);
      return written !== undefined ? written : fetched[next++]!;
    });
  }

  private checked(keys: StateKey[], values: (Buffer | null)[]): (Buffer | null)[] {
    if (values.length !== keys.length) throw new Error(`state read returned ${values.length} values for ${keys.length} keys`);
    return values;
  }
}
