// What an executor knows of committed state: a bounded cache of values at one height, kept
// warm by applying each committed block's writes, with misses fetched in batches from the state
// service. The cache never serves a height it does not hold: reads for another height go to the
// fetcher, which reads at that exact version.
//
// A block whose execution is final but whose commit has not landed yet (the scheduler runs the
// next block while it commits) is applied with applyExecuted: the cache moves to its height and
// keeps its writes aside until confirm(height). A miss at that height is read at the height
// before, which is committed: a key the block did not write has the same value at both.
import type { KeyFilter } from '../state/keyFilter.js';
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
  /** Misses answered absent by the key filter, without a round trip. */
  absentByFilter: number;
}

/** Blocks whose written keys are kept to bring a lagging key filter up to the cache. */
const RECENT_BLOCKS = 8;

export class CommittedStateCache {
  private readonly values = new Map<StateKey, Buffer | null>();
  private cacheHeight = -1n;
  private readonly counters = { hits: 0, misses: 0, roundTrips: 0, clears: 0, absentByFilter: 0 };
  /**
   * Which keys were ever written, up to keyFilter.height: a miss on a key it has never seen is
   * absent, no round trip. Kept current with every block applied; dropped after a gap.
   */
  private keyFilter: KeyFilter | null = null;
  /** The keys of the last RECENT_BLOCKS blocks applied: what a filter fetched a little behind the cache lacks. */
  private readonly recentKeys: Array<{ height: bigint; keys: StateKey[] }> = [];
  private lastRunMissed = true;
  /**
   * The block at cacheHeight while its commit is not confirmed: its whole write set, as given, and
   * by key once a miss at that height needs it (most blocks are confirmed before any: building the
   * map for every block cost one Map.set per write, ≈ 2,500 per 500-tx ERC-20 block).
   */
  private pending: { height: bigint; given: ReadonlyArray<readonly [StateKey, Buffer | null]>; writes: Map<StateKey, Buffer | null> | null } | null = null;

  constructor(private readonly fetcher: CommittedFetcher, private readonly maxEntries: number) {}

  get height(): bigint {
    return this.cacheHeight;
  }

  /**
   * Uses `filter` (holding every key written up to filter.height) for misses from now on. A
   * filter behind the cache is brought up to it with the recent blocks' keys, when it is at most
   * RECENT_BLOCKS behind (a filter fetched from the state service lags the blocks the scheduler
   * has executed but not committed); false if it cannot be.
   */
  setKeyFilter(filter: KeyFilter | null): boolean {
    if (filter !== null) {
      for (const block of this.recentKeys) if (block.height === filter.height + 1n) filter.addBlock(block.height, block.keys);
      if (filter.height < this.cacheHeight) return false;
    }
    this.keyFilter = filter;
    return true;
  }

  /** The key filter in use, if any (null after a gap dropped it). */
  get filter(): KeyFilter | null {
    return this.keyFilter;
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
    this.pending = { height, given: writes, writes: null };
  }

  /** Block `height` has committed: misses there are read there again. */
  confirm(height: bigint): void {
    if (this.pending !== null && this.pending.height <= height) this.pending = null;
  }

  /** The block at the cache's height is executed but not confirmed committed. */
  get unconfirmed(): boolean {
    return this.pending !== null;
  }

  private apply(height: bigint, given: Iterable<readonly [StateKey, Buffer | null]>): void {
    const writes = Array.isArray(given) ? (given as ReadonlyArray<readonly [StateKey, Buffer | null]>) : [...given];
    const keys = writes.map(([key]) => key);
    this.recentKeys.push({ height, keys });
    if (this.recentKeys.length > RECENT_BLOCKS) this.recentKeys.shift();
    const filter = this.keyFilter;
    // A filter ahead of the cache (fetched while the cache caught up) already holds these blocks.
    if (filter !== null && height > filter.height && !filter.addBlock(height, keys)) {
      this.keyFilter = null; // a gap: it no longer holds every written key
    }
    // Every written key is cached: what a block wrote is what the next blocks most likely read
    // (the same senders, recipients and pools), on whichever executor their txs land. Bounded:
    // past maxEntries the cache starts over (the size is checked first: below the bound, nearly
    // always, a write then costs one map operation, not two).
    for (const [key, value] of writes) {
      if (this.values.size >= this.maxEntries && !this.values.has(key)) {
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

  /** Empties the cache and pins it to `height` (a key filter that does not reach it goes too). */
  reset(height: bigint): void {
    if (this.keyFilter !== null && height > this.keyFilter.height) this.keyFilter = null;
    if (this.values.size > 0) this.counters.clears++;
    this.values.clear();
    this.cacheHeight = height;
    this.lastRunMissed = true;
    this.pending = null;
  }

  /**
   * The cached value at `height`, or undefined when not cached (or the cache is elsewhere). A key
   * the key filter has never seen reads as cached absent.
   */
  peek(key: StateKey, height: bigint): Buffer | null | undefined {
    if (height !== this.cacheHeight) return undefined;
    const v = this.values.get(key);
    if (v === undefined) {
      const filter = this.keyFilter;
      if (filter !== null && height <= filter.height && !filter.mayContain(key)) {
        this.counters.absentByFilter++;
        return null;
      }
      return undefined;
    }
    this.counters.hits++;
    return v;
  }

  /**
   * Fetches `keys` at `height` in one round trip, caching them when the cache is at that height.
   * Keys the key filter has never seen are absent without one.
   */
  async load(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    this.counters.misses += keys.length;
    const filter = this.keyFilter;
    let values: (Buffer | null)[];
    if (filter !== null && height <= filter.height) {
      // Decided before the fetch: the filter takes more keys while it is awaited.
      const maybe = keys.map((key) => filter.mayContain(key));
      const unknown = keys.filter((_, i) => maybe[i]);
      this.counters.absentByFilter += keys.length - unknown.length;
      let fetched: (Buffer | null)[] = [];
      if (unknown.length > 0) {
        this.counters.roundTrips++;
        fetched = await this.fetchAt(unknown, height);
      }
      let next = 0;
      values = unknown.length === keys.length ? fetched : keys.map((_, i) => (maybe[i] ? fetched[next++]! : null));
    } else {
      this.counters.roundTrips++;
      values = await this.fetchAt(keys, height);
    }
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
    const written = (pending.writes ??= new Map(pending.given));
    const below: StateKey[] = [];
    for (const key of keys) if (!written.has(key)) below.push(key);
    const fetched = below.length === 0 ? [] : this.checked(below, await this.fetcher(below, height - 1n));
    let next = 0;
    return keys.map((key) => {
      const value = written.get(key);
      return value !== undefined ? value : fetched[next++]!;
    });
  }

  private checked(keys: StateKey[], values: (Buffer | null)[]): (Buffer | null)[] {
    if (values.length !== keys.length) throw new Error(`state read returned ${values.length} values for ${keys.length} keys`);
    return values;
  }
}
