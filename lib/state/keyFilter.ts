// Which state keys were ever written, as a Bloom filter: a key the filter has never seen is
// absent at every height the filter covers, so a cache miss on it needs no round trip to the
// state service. Why: a contract that creates state per call (an ERC-721 mint writes five slots
// keyed by the new token id, which no pattern predicts) made the scheduler's serial path ask the
// state service for five absent keys per tx, one round trip each, and run NFT blocks at 0.12× the
// serial baseline.
//
// Only "never written" is answered: a key that was written and later deleted stays in the
// filter, and a false positive (≈ 1 % at capacity) costs the round trip it would have cost
// anyway. (At 14 bits per key, ≈ 0.2 %, NFT blocks paid the same 11-23 round trips each: reads
// of keys that exist.)
// `height` is the last block whose writes the filter holds; it says nothing about later heights.
import type { StateKey } from './keys.js';

/** Bits per key at capacity and hashes per key: ≈ 1 % false positives. */
const BITS_PER_KEY = 10;
const HASHES = 7;
/** Filters are sized for at least this many keys. */
export const MIN_FILTER_KEYS = 100_000;

/** The second hash's seed: a key's bits are h1 + i·h2 (Kirsch-Mitzenmacher), for i below the hash count. */
const H2_SEED = 0x5bd1e995;

/**
 * How a filter hashes keys: form 2 hashes their characters as they are now, one per byte
 * (keys.ts); form 0, the default of a message from before forms, hashed the hex spelling. A
 * filter goes from the state writer to schedulers and executors, which may run another version
 * during an upgrade: a filter of another form would say "never written" of keys that were.
 */
export const KEY_FILTER_FORM = 2;

/** FNV-1a over the key's characters, with a seed. */
function fnv(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // A final mix: FNV's low bits are weak for short, similar strings.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

export interface KeyFilterData {
  height: bigint;
  /** Distinct keys added (a key whose bits were all set already is not counted). */
  added: number;
  /** Keys it was sized for; past that its false-positive rate grows. */
  capacity: number;
  hashes: number;
  bits: Uint8Array;
}

export class KeyFilter {
  private readonly bits: Uint8Array;
  private readonly m: number;
  private readonly hashes: number;
  height: bigint;
  added: number;
  readonly capacity: number;

  private constructor(data: KeyFilterData) {
    if (data.bits.length === 0 || !(data.hashes >= 1 && data.hashes <= 32)) throw new Error('key filter: empty bits or bad hash count');
    this.bits = data.bits;
    this.m = data.bits.length * 8;
    this.hashes = data.hashes;
    this.height = data.height;
    this.added = data.added;
    this.capacity = data.capacity;
  }

  /** An empty filter for `capacity` keys (at least MIN_FILTER_KEYS), holding nothing up to `height`. */
  static create(capacity: number, height: bigint): KeyFilter {
    const keys = Math.max(MIN_FILTER_KEYS, Math.ceil(capacity));
    return new KeyFilter({ height, added: 0, capacity: keys, hashes: HASHES, bits: new Uint8Array(Math.ceil((keys * BITS_PER_KEY) / 8)) });
  }

  /** Bytes of a filter for `capacity` keys: what it costs to keep and to send. */
  static bytesFor(capacity: number): number {
    return Math.ceil((Math.max(MIN_FILTER_KEYS, capacity) * BITS_PER_KEY) / 8);
  }

  static from(data: KeyFilterData): KeyFilter {
    return new KeyFilter({ ...data, bits: Uint8Array.from(data.bits) });
  }

  data(): KeyFilterData {
    return { height: this.height, added: this.added, capacity: this.capacity, hashes: this.hashes, bits: this.bits };
  }

  /** Past its capacity: still right, but with more false positives. */
  get full(): boolean {
    return this.added > this.capacity;
  }

  /** Adds `key`; `added` counts only keys that set a bit (a key seen before adds nothing). */
  add(key: StateKey): void {
    this.addHashed(fnv(key, 0), fnv(key, H2_SEED) | 1);
  }

  /** Adds every key `hashes` holds. */
  addAll(hashes: KeyHashes): void {
    const pairs = hashes.pairs();
    for (let i = 0; i < pairs.length; i += 2) this.addHashed(pairs[i]!, pairs[i + 1]!);
  }

  private addHashed(h1: number, h2: number): void {
    let changed = false;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % this.m;
      const byte = this.bits[at >>> 3]!;
      const mask = 1 << (at & 7);
      if ((byte & mask) === 0) {
        this.bits[at >>> 3] = byte | mask;
        changed = true;
      }
    }
    if (changed) this.added++;
  }

  /** False: `key` was never written at or below `height`. True: it may have been. */
  mayContain(key: StateKey): boolean {
    const h1 = fnv(key, 0);
    const h2 = fnv(key, H2_SEED) | 1;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % this.m;
      if ((this.bits[at >>> 3]! & (1 << (at & 7))) === 0) return false;
    }
    return true;
  }

  /** Adds block `height`'s written keys; false (and nothing added) unless it is the next block. */
  addBlock(height: bigint, keys: Iterable<StateKey>): boolean {
    if (height !== this.height + 1n) return false;
    for (const key of keys) this.add(key);
    this.height = height;
    return true;
  }
}

/**
 * Keys as their two filter hashes (8 bytes each), for a filter whose size is known only once
 * they are all in: a scan of the store collects millions of keys before it knows how large a
 * filter they need, and as hex strings they would take ≈ 100 bytes each. Bounded: past `limit`
 * keys, add() returns false and keeps nothing more.
 */
export class KeyHashes {
  private data = new Uint32Array(2 * 1024);
  private count = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.count;
  }

  /** False once `limit` keys are in (the key is not kept). */
  add(key: StateKey): boolean {
    if (this.count >= this.limit) return false;
    if (2 * this.count === this.data.length) {
      const grown = new Uint32Array(Math.min(2 * this.limit, 2 * this.data.length));
      grown.set(this.data);
      this.data = grown;
    }
    this.data[2 * this.count] = fnv(key, 0);
    this.data[2 * this.count + 1] = fnv(key, H2_SEED) | 1;
    this.count++;
    return true;
  }

  /** h1, h2 of each key in turn. */
  pairs(): Uint32Array {
    return this.data.subarray(0, 2 * this.count);
  }
}
