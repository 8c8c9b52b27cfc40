// The state root's entry digests, remembered (root.ts). Every committed write costs two 2 KB
// SHAKE256 digests: the old (key, value) entry out of the lattice, the new one in. The old entry
// is, most of the time, one this service put in a few blocks before (a balance, a nonce, a pool's
// reserves are rewritten block after block), so its digest was computed then. Remembering the
// digests of the entries put in lately turns the "out" digest of a rewrite into a lookup: a
// rewrite of hot state then costs one digest, not two.
//
// Remembered by the digest's whole input (the key and the value, compared byte for byte on a
// hit), so a hit is the digest of exactly that entry: nothing can make it stale. No strings and
// no objects per entry (they cost more in allocation and garbage collection than the lookup
// saves): a 30-bit hash of the entry's key finds a slot, and the slots' inputs and digests live in
// typed arrays. A key's new entry takes the place of its old one in the lookup (the old one is
// leaving the state), and two keys with the same hash keep only the later: either costs a digest,
// never a wrong one. Bounded: `capacity` slots, reused in insertion order (the oldest put goes
// first), so hot state, put again every block, stays; the slab (capacity × 2 KB: 64 MB for the
// default 32,768) is taken at start.

/** Longest input remembered: a key (at most 53 bytes) with an account (72) or storage (32) value and the length prefix. Code entries are not. */
export const MAX_REMEMBERED_INPUT = 132;
/** Slots per chunk of the slabs (2 MB of digests each for 2 KB digests): no one huge allocation. */
const CHUNK_SLOTS = 1024;

const u32At = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/**
 * The slot a digest input is looked up by: 30 bits (a small integer, which the Map keeps without
 * allocating) of its key alone, from the key's last 8 bytes and its address's last 4 (input:
 * u32 key length ‖ key ‖ value; an account key is kind ‖ address, a storage key kind ‖ address ‖
 * slot, whose last bytes are a hash for mappings and a small number for fixed slots). So the
 * entries of one key share a slot: putting a key's new entry replaces its old one, which is
 * leaving the state, and a lookup costs a few reads instead of a pass over the input (FNV over
 * 89 bytes cost ≈ 2k instructions here). A hit still compares the whole input.
 */
function hashOf(input: Uint8Array): number {
  const keyEnd = 4 + u32At(input, 0);
  if (keyEnd < 25 || keyEnd > input.length) return fnv(input);
  let h = Math.imul(u32At(input, keyEnd - 4), 0x9e3779b1) ^ u32At(input, keyEnd - 8);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ u32At(input, 21);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0x3fffffff;
}

/** FNV-1a over every byte, 30 bits: inputs that are not a state key and its value. */
function fnv(input: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input[i]!;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  return h & 0x3fffffff;
}

export class EntryDigests {
  private readonly digestChunks: Uint8Array[] = [];
  private readonly inputChunks: Uint8Array[] = [];
  /** Per slot: its input's length (0 = empty) and hash. */
  private readonly lengths: Uint8Array;
  private readonly hashes: Int32Array;
  /** Input hash → slot. */
  private readonly slots = new Map<number, number>();
  private next = 0;
  /** The input last looked up and what was found, so the put after a miss hashes it once. */
  private lastInput: Uint8Array | null = null;
  private lastHash = 0;
  private lastFound = false;
  hits = 0;
  misses = 0;

  /**
   * `capacity` digests at most (≥ 1) of `digestBytes` each (the root's LATTICE_BYTES). The slabs
   * are taken and written here, at start: a page of memory first written costs ≈ 11 µs on these
   * VMs, 5 µs per digest put, which commits of new keys paid while the ring was first filled.
   */
  constructor(readonly capacity: number, readonly digestBytes = 2048) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new Error(`entry digests: capacity must be an integer >= 1, got ${capacity}`);
    this.lengths = new Uint8Array(capacity);
    this.hashes = new Int32Array(capacity);
    for (let first = 0; first < capacity; first += CHUNK_SLOTS) {
      const slots = Math.min(CHUNK_SLOTS, capacity - first);
      this.digestChunks.push(new Uint8Array(slots * digestBytes).fill(1));
      this.inputChunks.push(new Uint8Array(slots * MAX_REMEMBERED_INPUT).fill(1));
    }
  }

  /**
   * The digest of `input`, a view valid until the next put; undefined: not remembered. `counted`:
   * the lookup counts in hits and misses (those of entries going out).
   */
  get(input: Uint8Array, counted = true): Uint8Array | undefined {
    const remembered = input.length <= MAX_REMEMBERED_INPUT;
    const hash = remembered ? hashOf(input) : 0;
    const slot = remembered ? this.slots.get(hash) : undefined;
    const found = slot !== undefined && this.holds(slot, input);
    this.lastInput = input;
    this.lastHash = hash;
    this.lastFound = found;
    if (counted) {
      if (found) this.hits++;
      else this.misses++;
    }
    if (!found) return undefined;
    const at = (slot % CHUNK_SLOTS) * this.digestBytes;
    return this.digestChunks[Math.floor(slot / CHUNK_SLOTS)]!.subarray(at, at + this.digestBytes);
  }

  /** Remembers `digest` (digestBytes) as that of `input`, in the oldest slot; inputs longer than MAX_REMEMBERED_INPUT are not. */
  put(input: Uint8Array, digest: Uint8Array): void {
    if (digest.length !== this.digestBytes) throw new Error(`entry digests: a digest has ${this.digestBytes} bytes, got ${digest.length}`);
    if (input.length === 0 || input.length > MAX_REMEMBERED_INPUT) return;
    let hash: number;
    if (input === this.lastInput) {
      // Looked up just before (a miss, as a rule): hashed and compared already.
      this.lastInput = null;
      if (this.lastFound) return;
      hash = this.lastHash;
    } else {
      hash = hashOf(input);
      const known = this.slots.get(hash);
      if (known !== undefined && this.holds(known, input)) return;
    }
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    if (this.lengths[slot] !== 0 && this.slots.get(this.hashes[slot]!) === slot) this.slots.delete(this.hashes[slot]!);
    const chunk = Math.floor(slot / CHUNK_SLOTS);
    this.digestChunks[chunk]!.set(digest, (slot % CHUNK_SLOTS) * this.digestBytes);
    this.inputChunks[chunk]!.set(input, (slot % CHUNK_SLOTS) * MAX_REMEMBERED_INPUT);
    this.lengths[slot] = input.length;
    this.hashes[slot] = hash;
    this.slots.set(hash, slot);
  }

  /** Entries remembered now. */
  get size(): number {
    return this.slots.size;
  }

  private holds(slot: number, input: Uint8Array): boolean {
    if (this.lengths[slot] !== input.length) return false;
    const stored = this.inputChunks[Math.floor(slot / CHUNK_SLOTS)]!;
    const at = (slot % CHUNK_SLOTS) * MAX_REMEMBERED_INPUT;
    for (let i = 0; i < input.length; i++) if (stored[at + i] !== input[i]) return false;
    return true;
  }
}
