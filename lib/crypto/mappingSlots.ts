// The storage slots of Solidity mappings keyed by an address at a small slot number (an ERC-20's
// balances, an ERC-721's owners): keccak256(address as a 32-byte word ‖ slot as a 32-byte word),
// remembered per process. The same holders come back block after block, and both the EVM
// (KECCAK256 of exactly that input, for every balance it reads or writes) and the executors'
// and scheduler's access-pattern predictions (lib/exec/accessPatterns.ts) hash them. One keccak
// through WebAssembly costs ≈ 8.5k instructions; a lookup here a few hundred.
//
// Only that shape is remembered: 12 zero bytes, 20 address bytes, 31 zero bytes, the slot byte.
// Other inputs (nested mappings, whose second word is a hash) are hashed as before.
//
// Kept in flat typed arrays with open addressing, not as objects in a Map: a memo of objects
// added its own garbage-collection work (every entry an object, a Buffer and a digest array the
// scavenger copies and then promotes), ≈ 6k instructions per ERC-20 transfer. Bounded: when full,
// the next new entry starts it over. Allocated on first use.
import { keccak256 } from './keccak.js';

/** Mapping slots remembered: 32k holders at four slots each, 52 bytes per entry (≈ 8 MB with the table). */
const MAX_ENTRIES = 1 << 17;
/** Slots above this are not remembered (their word would not be 31 zero bytes and one byte). */
export const MAX_MAPPING_SLOT = 255;
const INPUT_BYTES = 64;
const ADDRESS_BYTES = 20;
const DIGEST_BYTES = 32;
const EMPTY = -1;

interface Store {
  /** Open-addressing table of entry indexes (EMPTY when free), twice the entries, a power of two. */
  table: Int32Array;
  addresses: Uint8Array;
  slots: Uint8Array;
  digests: Uint8Array;
  words: DataView;
}

export class MappingSlotDigests {
  private store: Store | null = null;
  private entries = 0;
  private readonly input = new Uint8Array(INPUT_BYTES);

  constructor(private readonly maxEntries: number = MAX_ENTRIES) {
    if (!(maxEntries >= 1)) throw new Error(`MappingSlotDigests: maxEntries must be >= 1, got ${maxEntries}`);
  }

  get size(): number {
    return this.entries;
  }

  /** keccak256(address as a word ‖ slot as a word): `address` of 20 bytes, 0 ≤ slot ≤ 255. A view: do not modify it or keep it. */
  digest(address: Uint8Array, slot: number): Uint8Array {
    if (address.length !== ADDRESS_BYTES || !Number.isInteger(slot) || slot < 0 || slot > MAX_MAPPING_SLOT) {
      throw new Error(`MappingSlotDigests: need a 20-byte address and a slot in 0..${MAX_MAPPING_SLOT}`);
    }
    let at = this.find(address, 0, slot);
    if (at === EMPTY) {
      const input = this.input;
      input.fill(0);
      input.set(address, 12);
      input[63] = slot;
      at = this.remember(address, 0, slot, keccak256(input));
    }
    return this.store!.digests.subarray(at * DIGEST_BYTES, (at + 1) * DIGEST_BYTES);
  }

  /**
   * The digest of a 64-byte KECCAK256 input as a 256-bit number, when the input has the
   * remembered shape (computed and remembered on a miss); null for any other input, which the
   * caller hashes itself.
   */
  wordOfInput(input: Uint8Array): bigint | null {
    if (input.length !== INPUT_BYTES) return null;
    for (let i = 0; i < 12; i++) if (input[i] !== 0) return null;
    for (let i = 32; i < 63; i++) if (input[i] !== 0) return null;
    const slot = input[63]!;
    let at = this.find(input, 12, slot);
    if (at === EMPTY) at = this.remember(input, 12, slot, keccak256(input));
    const words = this.store!.words;
    const o = at * DIGEST_BYTES;
    return (words.getBigUint64(o) << 192n) | (words.getBigUint64(o + 8) << 128n) | (words.getBigUint64(o + 16) << 64n) | words.getBigUint64(o + 24);
  }

  private storeOf(): Store {
    if (this.store === null) {
      let tableSize = 2;
      while (tableSize < 2 * this.maxEntries) tableSize *= 2;
      const digests = new Uint8Array(this.maxEntries * DIGEST_BYTES);
      this.store = {
        table: new Int32Array(tableSize).fill(EMPTY),
        addresses: new Uint8Array(this.maxEntries * ADDRESS_BYTES),
        slots: new Uint8Array(this.maxEntries),
        digests,
        words: new DataView(digests.buffer),
      };
    }
    return this.store;
  }

  /** The entry holding (bytes[from, from + 20), slot), or EMPTY. */
  private find(bytes: Uint8Array, from: number, slot: number): number {
    const { table, addresses, slots } = this.storeOf();
    const mask = table.length - 1;
    for (let i = hashOf(bytes, from, slot) & mask; ; i = (i + 1) & mask) {
      const at = table[i]!;
      if (at === EMPTY) return EMPTY;
      if (slots[at] !== slot) continue;
      const a = at * ADDRESS_BYTES;
      let k = 0;
      while (k < ADDRESS_BYTES && addresses[a + k] === bytes[from + k]) k++;
      if (k === ADDRESS_BYTES) return at;
    }
  }

  private remember(bytes: Uint8Array, from: number, slot: number, digest: Uint8Array): number {
    const store = this.storeOf();
    if (this.entries >= this.maxEntries) {
      store.table.fill(EMPTY);
      this.entries = 0;
    }
    const at = this.entries++;
    store.addresses.set(bytes.subarray(from, from + ADDRESS_BYTES), at * ADDRESS_BYTES);
    store.slots[at] = slot;
    store.digests.set(digest, at * DIGEST_BYTES);
    const mask = store.table.length - 1;
    let i = hashOf(bytes, from, slot) & mask;
    while (store.table[i] !== EMPTY) i = (i + 1) & mask;
    store.table[i] = at;
    return at;
  }
}

/** A hash of the slot and the address's first bytes (addresses are hashes: a few bytes spread them). */
function hashOf(bytes: Uint8Array, from: number, slot: number): number {
  let h = Math.imul(slot + 1, 0x9e3779b1);
  for (let i = from; i < from + 6; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The process's memo, shared by the EVM's KECCAK256 and the access-pattern predictions. */
export const mappingSlotDigests = new MappingSlotDigests();
