// The state root: a lattice hash (LtHash, as in Solana's accounts hash and Facebook's LtHash
// paper) over every (key, value) entry of the flat state (lib/state/keys.ts). Each entry maps to
// 1024 16-bit lanes by SHAKE256 (an extendable-output function, native in node:crypto: ≈ 8 µs
// per entry here against ≈ 100 µs for pure-JS BLAKE3 XOF) of `len(key) u32 BE ‖ key ‖ value`;
// the lattice is their lane-wise sum mod 2^16; the root is SHA3-256 of the lattice. Why this and
// not a Merkle-Patricia trie:
// - it commits to the whole state: equal roots mean equal sets of entries, with the collision
//   resistance the LtHash paper proves for 2048-byte lattices;
// - updating it costs O(writes): remove the old entry's hash, add the new one's, whatever the
//   size of the state, and the order of updates does not matter (parallel-friendly);
// - it gives no inclusion proofs; light clients are not a goal of this layer.
//
// Every committed write costs two entry hashes (the old value out, the new one in): with the
// durable write, the largest part of a commit in the state service. So the input is spelled into
// one scratch buffer, the digests are folded into the lattice with WebAssembly SIMD
// (latticeFold.ts: the JavaScript loop cost 40 % as much as a digest), and the digests of entries
// put in lately are remembered (entryDigests.ts), so the old entry of a rewrite costs a lookup.
import { createHash } from 'node:crypto';
import type { EntryDigests } from './entryDigests.js';
import { foldDigests } from './latticeFold.js';
import { writeKey, type StateKey } from './keys.js';

export const LATTICE_LANES = 1024;
export const LATTICE_BYTES = LATTICE_LANES * 2;

/** Hash input: 4 length bytes, then a key (at most 53 bytes), then an account or storage value; code values may be longer. */
const SCRATCH_BYTES = 256;
const scratch = Buffer.alloc(SCRATCH_BYTES);

/**
 * Writes the entry's canonical encoding (the digest's input) at `offset` of `out`; returns its
 * length. `bytes`: the key's bytes, if the caller has them (they must be the key's).
 */
function writeEntryInput(key: StateKey, value: Uint8Array, out: Buffer, offset: number, bytes?: Uint8Array): number {
  const keyBytes = key.length;
  out.writeUInt32BE(keyBytes, offset);
  if (bytes !== undefined && bytes.length === keyBytes) out.set(bytes, offset + 4);
  else writeKey(key, out, offset + 4);
  out.set(value, offset + 4 + keyBytes);
  return 4 + keyBytes + value.length;
}

const entryInputBytes = (key: StateKey, value: Uint8Array): number => 4 + key.length + value.length;

function digestOf(input: Uint8Array): Buffer {
  return createHash('shake256', { outputLength: LATTICE_BYTES }).update(input).digest();
}

/**
 * The digest of one entry input: remembered in `digests` if given (an entry going out of the
 * lattice was, most of the time, put in a few blocks before), else computed; an entry coming in
 * (`incoming`) is remembered for when it goes out. A remembered digest is a view that the next
 * remembered one may overwrite: use it before that.
 */
function inputDigest(input: Uint8Array, digests: EntryDigests | undefined, incoming: boolean): Uint8Array {
  if (digests === undefined) return digestOf(input);
  const known = digests.get(input, !incoming);
  if (known !== undefined) return known;
  const digest = digestOf(input);
  if (incoming) digests.put(input, digest);
  return digest;
}

/** SHAKE256 of the entry's canonical encoding: LATTICE_BYTES bytes, its lanes little-endian. */
function entryDigest(key: StateKey, value: Uint8Array, digests?: EntryDigests, incoming = false): Uint8Array {
  const total = entryInputBytes(key, value);
  const input = total <= SCRATCH_BYTES ? scratch : Buffer.alloc(total);
  writeEntryInput(key, value, input, 0);
  return inputDigest(input.subarray(0, total), digests, incoming);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** One entry's change: `before`/`after` are null when the entry is absent. */
export interface RootChange {
  key: StateKey;
  /** The key's bytes, when the caller has them (spares copying them out of the key). */
  keyBytes?: Uint8Array | undefined;
  before: Uint8Array | null;
  after: Uint8Array | null;
}

/**
 * Changes `from`…`to` (exclusive) as the digest inputs to subtract and add, framed for another
 * thread (latticeOfFramed): per entry digest, an i32 LE length, negative to subtract, then the
 * input. Unchanged entries are left out, as update() skips them.
 */
export function frameChanges(changes: readonly RootChange[], from: number, to: number): Buffer {
  let total = 0;
  for (let i = from; i < to; i++) {
    const { key, before, after } = changes[i]!;
    if (before !== null && after !== null && sameBytes(before, after)) continue;
    if (before !== null) total += 4 + entryInputBytes(key, before);
    if (after !== null) total += 4 + entryInputBytes(key, after);
  }
  // Its own memory, not a pool slab: the buffer is transferred to the worker.
  const out = Buffer.from(new ArrayBuffer(total));
  let at = 0;
  const put = (key: StateKey, value: Uint8Array, sign: 1 | -1, bytes: Uint8Array | undefined): void => {
    const length = writeEntryInput(key, value, out, at + 4, bytes);
    out.writeInt32LE(sign * length, at);
    at += 4 + length;
  };
  for (let i = from; i < to; i++) {
    const { key, before, after, keyBytes } = changes[i]!;
    if (before !== null && after !== null && sameBytes(before, after)) continue;
    if (before !== null) put(key, before, -1, keyBytes);
    if (after !== null) put(key, after, 1, keyBytes);
  }
  return out;
}

/**
 * The lattice delta of framed changes (frameChanges): what a root worker computes, with the
 * digests it remembers (entryDigests.ts) when given.
 */
export function latticeOfFramed(framed: Uint8Array, digests?: EntryDigests): Uint16Array {
  const lanes = new Uint16Array(LATTICE_LANES);
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  let at = 0;
  while (at < framed.length) {
    if (at + 4 > framed.length) throw new Error('state root: truncated framed changes');
    const signed = view.getInt32(at, true);
    const length = Math.abs(signed);
    if (signed === 0 || at + 4 + length > framed.length) throw new Error(`state root: bad framed entry at ${at}`);
    const digest = inputDigest(framed.subarray(at + 4, at + 4 + length), digests, signed > 0);
    if (signed < 0) foldDigests(lanes, digest, null);
    else foldDigests(lanes, null, digest);
    at += 4 + length;
  }
  return lanes;
}

/** Accumulates the state lattice; feed it every changed entry with its old and new value. */
export class StateRootAccumulator {
  private readonly lanes: Uint16Array;

  constructor(lattice?: Uint8Array) {
    this.lanes = new Uint16Array(LATTICE_LANES);
    if (lattice !== undefined) {
      if (lattice.length !== LATTICE_BYTES) throw new Error(`lattice must be ${LATTICE_BYTES} bytes, got ${lattice.length}`);
      const view = new DataView(lattice.buffer, lattice.byteOffset, lattice.byteLength);
      for (let i = 0; i < LATTICE_LANES; i++) this.lanes[i] = view.getUint16(i * 2, true);
    }
  }

  /**
   * Replace entry `key`: `before`/`after` are null when the entry is absent. `digests`: entry
   * digests to reuse and remember (entryDigests.ts); the result is the same without.
   */
  update(key: StateKey, before: Uint8Array | null, after: Uint8Array | null, digests?: EntryDigests): void {
    if (before !== null && after !== null && sameBytes(before, after)) return;
    if (digests === undefined && before !== null && after !== null) {
      // Both in one fold; the first digest is a buffer of its own (nothing remembered can overwrite it).
      foldDigests(this.lanes, entryDigest(key, before), entryDigest(key, after));
      return;
    }
    // Out, then in: a remembered digest is a view that remembering the next one may overwrite.
    if (before !== null) foldDigests(this.lanes, entryDigest(key, before, digests, false), null);
    if (after !== null) foldDigests(this.lanes, null, entryDigest(key, after, digests, true));
  }

  /** Adds a lattice delta (latticeOfFramed): the lattice is a sum, so deltas of parts add up to the whole. */
  addLattice(delta: Uint16Array): void {
    if (delta.length !== LATTICE_LANES) throw new Error(`lattice delta must have ${LATTICE_LANES} lanes, got ${delta.length}`);
    const lanes = this.lanes;
    for (let i = 0; i < LATTICE_LANES; i++) lanes[i] = lanes[i]! + delta[i]!;
  }

  /** The lattice, little-endian lanes; persist it to resume accumulation after a restart. */
  serialize(): Buffer {
    const out = Buffer.alloc(LATTICE_BYTES);
    for (let i = 0; i < LATTICE_LANES; i++) out.writeUInt16LE(this.lanes[i]!, i * 2);
    return out;
  }

  root(): Buffer {
    return createHash('sha3-256').update(this.serialize()).digest();
  }

  clone(): StateRootAccumulator {
    return new StateRootAccumulator(this.serialize());
  }
}
