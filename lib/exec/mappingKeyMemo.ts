// The storage keys of predicted mapping entries, remembered by what they are derived from: the
// contract, the mapping's slot, and the one or two address-shaped keys into it. Each saves a
// keccak256 (two for a nested mapping) when the same holder shows up again.
//
// Looked up without making a string: the lookahead predicts every tx of a block on the scheduler
// and on an executor, and a memo keyed by `contract:slot:outer:inner` made four strings per
// lookup (the address bytes as latin1, then the concatenation that a Map flattens and hashes), a
// few thousand instructions each time. Here a number hashed from a few bytes finds the bucket and
// a byte comparison the entry.

import { sameBytes } from '../bytes.js';

interface Entry {
  contract: string;
  slot: number;
  outer: Buffer;
  inner: Buffer | null;
  key: string;
}

/** Bytes of each address mixed into the bucket's number: addresses are hashes, so a few suffice. */
const HASHED_BYTES = 6;

function mix(h: number, bytes: Uint8Array): number {
  let x = h;
  for (let i = 0; i < HASHED_BYTES && i < bytes.length; i++) x = Math.imul(x ^ bytes[i]!, 0x01000193);
  return x;
}


export class MappingKeyMemo {
  private readonly buckets = new Map<number, Entry[]>();
  private entries = 0;

  /** Holds at most `maxEntries`; when full, the next new entry starts it over. */
  constructor(private readonly maxEntries: number) {
    if (!(maxEntries >= 1)) throw new Error(`MappingKeyMemo: maxEntries must be >= 1, got ${maxEntries}`);
  }

  get size(): number {
    return this.entries;
  }

  /** The key remembered for (contract, slot, outer, inner), or undefined. */
  get(contract: string, slot: number, outer: Uint8Array, inner: Uint8Array | null): string | undefined {
    const bucket = this.buckets.get(bucketOf(slot, outer, inner));
    if (bucket === undefined) return undefined;
    for (const e of bucket) {
      if (e.slot === slot && sameBytes(e.outer, outer) && (inner === null ? e.inner === null : e.inner !== null && sameBytes(e.inner, inner)) && e.contract === contract) return e.key;
    }
    return undefined;
  }

  /** Remembers `key`; the address bytes are copied (they are often views into a tx or its calldata). */
  set(contract: string, slot: number, outer: Uint8Array, inner: Uint8Array | null, key: string): void {
    if (this.entries >= this.maxEntries) {
      this.buckets.clear();
      this.entries = 0;
    }
    const at = bucketOf(slot, outer, inner);
    const entry: Entry = { contract, slot, outer: Buffer.from(outer), inner: inner === null ? null : Buffer.from(inner), key };
    const bucket = this.buckets.get(at);
    if (bucket === undefined) this.buckets.set(at, [entry]);
    else bucket.push(entry);
    this.entries++;
  }
}

/** A small integer (a Smi, which a Map hashes without allocating) from the slot and the addresses' first bytes. */
function bucketOf(slot: number, outer: Uint8Array, inner: Uint8Array | null): number {
  let h = Math.imul(slot + 1, 0x9e3779b1);
  h = mix(h, outer);
  if (inner !== null) h = mix(h ^ 0x5bd1e995, inner);
  return h & 0x3fffffff;
}
