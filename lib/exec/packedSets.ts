// A transaction's read-set and write-set on the wire between an executor and the scheduler,
// packed: one bytes field each (TxResult.reads_packed, writes_packed) instead of one protobuf
// message per entry. Counted under callgrind (`bench:instructions --partition`, ERC-20), an
// executor's path for a partition cost 1.124× the serial baseline's instructions per tx, and most
// of the excess was the hop's objects: a message object and a copied Buffer per key and value on
// both sides, and the garbage collection of them (+53k per tx over the baseline's GC alone).
//
//   reads:  per entry  u8 key length ‖ key ‖ varint (txIndex + 1) ‖ varint incarnation
//           (txIndex −1 is committed state, so it is sent as 0)
//   writes: per entry  u8 key length ‖ key ‖ u8 absent ‖ varint value length ‖ value
//
// Decoding checks every length against the buffer and throws PackedSetError on a malformed one;
// the engine then treats the answer as one that does not fit (the block runs serially).
import type { VersionedRead } from '../evm/stateView.js';
import { keyFromRange, StateKeyBytes, type StateKey } from '../state/keys.js';

export class PackedSetError extends Error {
  override readonly name = 'PackedSetError';
}

export interface PackedRead {
  key: StateKey;
  txIndex: number;
  incarnation: number;
}

/** The set being packed; grown when a set needs more, copied out when done. */
let scratch = Buffer.allocUnsafe(16 << 10);

function room(used: number, more: number): void {
  if (used + more <= scratch.length) return;
  const grown = Buffer.allocUnsafe(Math.max(2 * scratch.length, used + more));
  scratch.copy(grown, 0, 0, used);
  scratch = grown;
}

function putVarint(value: number, at: number): number {
  let v = value;
  let o = at;
  while (v >= 0x80) {
    scratch[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  scratch[o++] = v;
  return o;
}

/** Key bytes of recurring keys, shared (never written into). */
const keyBytes = new StateKeyBytes(1 << 16);

function putKey(key: StateKey, at: number): number {
  const bytes = keyBytes.bytes(key);
  if (bytes.length > 255) throw new PackedSetError(`state key of ${bytes.length} bytes cannot be packed`);
  scratch[at] = bytes.length;
  bytes.copy(scratch, at + 1);
  return at + 1 + bytes.length;
}

const done = (used: number): Buffer => Buffer.from(scratch.subarray(0, used));

export function packReads(reads: ReadonlyMap<StateKey, Pick<VersionedRead, 'txIndex' | 'incarnation'>>): Buffer {
  let o = 0;
  for (const [key, v] of reads) {
    room(o, 1 + key.length + 10);
    o = putKey(key, o);
    o = putVarint(v.txIndex + 1, o);
    o = putVarint(v.incarnation, o);
  }
  return done(o);
}

export function packWrites(writes: ReadonlyMap<StateKey, Buffer | null>): Buffer {
  let o = 0;
  for (const [key, value] of writes) {
    const length = value === null ? 0 : value.length;
    room(o, 1 + key.length + 1 + 5 + length);
    o = putKey(key, o);
    scratch[o++] = value === null ? 1 : 0;
    o = putVarint(length, o);
    if (value !== null) {
      value.copy(scratch, o);
      o += length;
    }
  }
  return done(o);
}

/** Reads a packed set in order; every length is checked against the buffer. */
class Cursor {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get more(): boolean {
    return this.at < this.bytes.length;
  }

  key(): StateKey {
    const length = this.byte();
    if (length === 0 || this.at + length > this.bytes.length) throw new PackedSetError(`packed set: key of ${length} bytes at ${this.at} overruns ${this.bytes.length}`);
    const key = keyFromRange(this.bytes, this.at, this.at + length);
    this.at += length;
    return key;
  }

  byte(): number {
    if (this.at >= this.bytes.length) throw new PackedSetError('packed set: truncated');
    return this.bytes[this.at++]!;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new PackedSetError('packed set: varint longer than 5 bytes');
  }
}

export function unpackReads(bytes: Uint8Array): PackedRead[] {
  const c = new Cursor(bytes);
  const out: PackedRead[] = [];
  while (c.more) {
    const key = c.key();
    const txIndex = c.varint() - 1;
    out.push({ key, txIndex, incarnation: c.varint() });
  }
  return out;
}

/** The write-set; values are copies (a view would pin the whole response for as long as a cache keeps the value). */
export function unpackWrites(bytes: Uint8Array): Array<[StateKey, Buffer | null]> {
  const c = new Cursor(bytes);
  const out: Array<[StateKey, Buffer | null]> = [];
  while (c.more) {
    const key = c.key();
    const absent = c.byte();
    if (absent > 1) throw new PackedSetError(`packed set: absent flag ${absent}`);
    const length = c.varint();
    if (c.at + length > bytes.length) throw new PackedSetError(`packed set: value of ${length} bytes at ${c.at} overruns ${bytes.length}`);
    out.push([key, absent === 1 ? null : Buffer.from(bytes.subarray(c.at, c.at + length))]);
    c.at += length;
  }
  return out;
}
