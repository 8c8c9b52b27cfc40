// Byte layouts both state backends store: the meta record and framed lists of encoded messages.
// One definition, so an lmdb store and an FDB store hold the same bytes for the same block.
import { LATTICE_BYTES } from '../../lib/state/root.js';
import { LogEntry } from '../../gen/lanes/v1/bus.js';
import type { Log } from '../../gen/lanes/v1/types.js';
import { keyToBytes } from '../../lib/state/keys.js';
import { StateCorruptionError, type LogMatch, type StateMeta, type StateWrite } from './backend.js';

const HASH_BYTES = 32;

/** A stored state version's value: 0x00 (absent), or 0x01 ‖ value. */
export const TAG_ABSENT = 0x00;
export const TAG_PRESENT = 0x01;

/** A write's key bytes: the ones it came with, else converted from its key. */
export function writeKeyBytes(w: StateWrite): Buffer {
  return w.keyBytes ?? keyToBytes(w.key);
}

/** A write's stored value (TAG_ABSENT, or TAG_PRESENT ‖ value), in one allocation. */
export function taggedValue(value: Buffer | null): Buffer {
  if (value === null) return Buffer.from([TAG_ABSENT]);
  const out = Buffer.allocUnsafe(1 + value.length);
  out[0] = TAG_PRESENT;
  out.set(value, 1);
  return out;
}
export const META_BYTES = 8 + 8 + HASH_BYTES + HASH_BYTES + LATTICE_BYTES;

/** [u32 BE length ‖ bytes]*, after an optional fixed prefix: a list of messages in one value. */
export function encodeFramed(parts: Uint8Array[], prefix?: Uint8Array): Buffer {
  let size = prefix?.length ?? 0;
  for (const p of parts) size += 4 + p.length;
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  if (prefix !== undefined) {
    out.set(prefix, 0);
    offset = prefix.length;
  }
  for (const p of parts) {
    out.writeUInt32BE(p.length, offset);
    out.set(p, offset + 4);
    offset += 4 + p.length;
  }
  return out;
}

export function decodeFramed<T>(value: Buffer, start: number, decode: (bytes: Uint8Array) => T, where: string): T[] {
  const out: T[] = [];
  let offset = start;
  while (offset < value.length) {
    if (offset + 4 > value.length) throw new StateCorruptionError('truncated frame header', where);
    const length = value.readUInt32BE(offset);
    if (offset + 4 + length > value.length) throw new StateCorruptionError('truncated frame', where);
    out.push(decode(value.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  return out;
}

export function encodeMeta(meta: StateMeta): Buffer {
  const out = Buffer.alloc(META_BYTES);
  out.writeBigUInt64BE(meta.height, 0);
  out.writeBigUInt64BE(meta.lastTxStreamSeq, 8);
  meta.stateRoot.copy(out, 16);
  meta.headHash.copy(out, 16 + HASH_BYTES);
  meta.lattice.copy(out, 16 + 2 * HASH_BYTES);
  return out;
}

export function decodeMeta(value: Buffer): StateMeta {
  if (value.length !== META_BYTES) throw new StateCorruptionError(`meta is ${value.length} bytes, expected ${META_BYTES}`, 'meta');
  return {
    height: value.readBigUInt64BE(0),
    lastTxStreamSeq: value.readBigUInt64BE(8),
    stateRoot: Buffer.from(value.subarray(16, 16 + HASH_BYTES)),
    headHash: Buffer.from(value.subarray(16 + HASH_BYTES, 16 + 2 * HASH_BYTES)),
    lattice: Buffer.from(value.subarray(16 + 2 * HASH_BYTES)),
  };
}

/**
 * Appends the logs of one block's framed LogEntry list (from byte `start`) that pass `matches`,
 * stopping at `maxResults`; returns true when that limit was reached.
 */
export function collectLogs(
  framed: Buffer, start: number, matches: (log: Log) => boolean, out: LogMatch[], maxResults: number,
): boolean {
  for (const entry of decodeFramed(framed, start, (b) => LogEntry.decode(b), 'logs')) {
    if (entry.log === undefined || !matches(entry.log)) continue;
    out.push({
      log: entry.log, blockNumber: entry.blockNumber, blockHash: entry.blockHash,
      txHash: entry.txHash, txIndex: entry.txIndex, logIndex: entry.logIndex,
    });
    if (out.length >= maxResults) return true;
  }
  return false;
}

/** State key bytes by kind (lib/state/keys.ts): account 21, storage 53, code 33; none is a prefix of another. */
export const STATE_KEY_BYTES: Record<number, number> = { 1: 21, 2: 53, 3: 33 };

/** One key a block wrote, as its change list keeps it for pruning. */
export interface StateChange {
  keyBytes: Buffer;
  /** The block deleted the key (its version is a tombstone). */
  deleted: boolean;
}

/**
 * A block's change list: [deleted u8 ‖ state key bytes]*, the key's length known from its kind.
 * Pruning reads it to find, without a scan, which keys gained a version at that height.
 */
export function encodeChanges(writes: readonly StateWrite[]): Buffer {
  const keys = writes.map(writeKeyBytes);
  const out = Buffer.allocUnsafe(keys.reduce((n, k) => n + 1 + k.length, 0));
  let offset = 0;
  keys.forEach((k, i) => {
    out[offset] = writes[i]!.value === null ? 1 : 0;
    k.copy(out, offset + 1);
    offset += 1 + k.length;
  });
  return out;
}

export function decodeChanges(value: Buffer): StateChange[] {
  const out: StateChange[] = [];
  let offset = 0;
  while (offset < value.length) {
    const length = STATE_KEY_BYTES[value[offset + 1] ?? -1];
    if (length === undefined || offset + 1 + length > value.length || value[offset]! > 1) {
      throw new StateCorruptionError(`bad change list entry at byte ${offset}`, 'changes');
    }
    out.push({ keyBytes: value.subarray(offset + 1, offset + 1 + length), deleted: value[offset] === 1 });
    offset += 1 + length;
  }
  return out;
}
