// A bounded cache of committed state for a backend whose store is shared (FoundationDB): which
// value, written at which height, is the newest at or below the cache's height. Versions at or
// below the committed height never change, so an entry stays right until a later block writes its
// key. This process learns those writes only from its own commits; when the committed height moves
// any other way (another replica committed), the whole cache is dropped.
import type { StateKey } from '../../lib/state/keys.js';

/**
 * A copy with memory of its own. Buffer.from and subarray of a small buffer share an 8 KB pool
 * slab (or the whole decoded message), which one long-lived cache entry would keep alive.
 */
export function ownedCopy(value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(value.length);
  out.set(value);
  return out;
}

interface Entry {
  value: Buffer | null;
  /** Height of the version found; -1 = the key was never written. */
  version: bigint;
}

export class VersionedReadCache {
  private readonly entries = new Map<StateKey, Entry>();
  /** Every entry is the newest version at or below this height; null = nothing known yet. */
  private heightValue: bigint | null = null;

  constructor(private readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new Error(`cache size must be a non-negative integer, got ${maxEntries}`);
  }

  get height(): bigint | null {
    return this.heightValue;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value at `height`, or undefined when the cache cannot answer for that height. */
  get(key: StateKey, height: bigint): Buffer | null | undefined {
    if (this.heightValue === null || height > this.heightValue) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined || entry.version > height) return undefined;
    this.entries.delete(key); // move to the back: least recently used goes first
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Records a value read from the store at `height`; ignored unless `height` is the cache's height. */
  remember(key: StateKey, height: bigint, value: Buffer | null, version: bigint): void {
    if (this.heightValue !== height || this.maxEntries === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, version });
    this.evict();
  }

  /** This process committed block `height` with these writes. */
  applyCommit(height: bigint, writes: { key: StateKey; value: Buffer | null }[]): void {
    if (this.heightValue === null || height !== this.heightValue + 1n) {
      this.reset(height);
      return;
    }
    for (const w of writes) {
      this.entries.delete(w.key);
      // Copied: a decoded commit's values are views into its whole message, which a cached view would keep alive.
      if (this.maxEntries > 0) this.entries.set(w.key, { value: w.value === null ? null : ownedCopy(w.value), version: height });
    }
    this.heightValue = height;
    this.evict();
  }

  /** The store's committed height as just read; drops everything if it moved without us. */
  observeCommitted(height: bigint): void {
    if (this.heightValue === null || height > this.heightValue) this.reset(height);
  }

  private reset(height: bigint): void {
    this.entries.clear();
    this.heightValue = height;
  }

  private evict(): void {
    // Bounded loop: at most the overflow, which is at most the writes of one block.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
