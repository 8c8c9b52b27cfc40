// The few fields of a signed transaction that scheduling needs before execution (`to`, calldata,
// the EIP-2930 access list), read by walking RLP headers in place: no copies, no decoded field
// arrays. Partitioning, prefetch and access-pattern learning call it once per tx per block, so it
// must stay a small fraction of a plain transfer's execution (≈ 100 µs); a full RLP.decode plus
// copies cost several µs each time. Anything malformed reads as "no fields" (to null, no data):
// the executor is what rejects such a transaction, with a reason.
import { RLP } from '@ethereumjs/rlp';

export interface TxCallFields {
  /** 20 bytes, a view into the raw tx; null for a contract creation or an undecodable tx. */
  readonly to: Buffer | null;
  /** Calldata, a view into the raw tx (empty when there is none). */
  readonly data: Buffer;
  /** The access list's RLP (header included), a view; null when the type has none or it is empty. */
  readonly accessList: Buffer | null;
}

/** Calldata of every tx without any (plain payments): one shared empty Buffer, not a view per tx. */
const NO_DATA = Buffer.alloc(0);
const NO_FIELDS: TxCallFields = Object.freeze({ to: null, data: NO_DATA, accessList: null }) as TxCallFields;

/** A Buffer over the same memory (no copy). */
function view(bytes: Uint8Array, start: number, end: number): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
}

/** Position of one RLP item: where its payload starts and ends, and where the item ends. */
interface RlpItem {
  payloadStart: number;
  payloadEnd: number;
  isList: boolean;
}

function readLength(buf: Uint8Array, at: number, bytes: number): number {
  if (bytes > 4 || at + bytes > buf.length) return -1;
  let n = 0;
  for (let i = 0; i < bytes; i++) n = n * 256 + buf[at + i]!;
  return n;
}

/** The RLP item starting at `at`, or null when it runs past `end` or is malformed. */
function itemAt(buf: Uint8Array, at: number, end: number): RlpItem | null {
  if (at >= end) return null;
  const b = buf[at]!;
  let start: number;
  let length: number;
  let isList = false;
  if (b < 0x80) {
    start = at;
    length = 1;
  } else if (b <= 0xb7) {
    start = at + 1;
    length = b - 0x80;
  } else if (b <= 0xbf) {
    length = readLength(buf, at + 1, b - 0xb7);
    start = at + 1 + (b - 0xb7);
  } else if (b <= 0xf7) {
    isList = true;
    start = at + 1;
    length = b - 0xc0;
  } else {
    isList = true;
    length = readLength(buf, at + 1, b - 0xf7);
    start = at + 1 + (b - 0xf7);
  }
  if (length < 0 || start + length > end) return null;
  return { payloadStart: start, payloadEnd: start + length, isList };
}

/** Index of the `to` field in the tx's field list, by envelope type. */
function toFieldIndex(raw: Uint8Array): number {
  if (raw.length === 0 || raw[0]! >= 0x7f) return 3; // legacy: nonce, gasPrice, gas, to
  return raw[0] === 1 ? 4 : 5; // 2930: chainId first; 1559 and later: two fee fields
}

/**
 * Fields already read, by block: the txs array of a block is what planning, learning, the
 * lookahead and the run all hold, so one entry serves a block's every reader. An entry per raw
 * tx cost a WeakMap insertion per tx and ephemeron work in every collection (≈ 0.5k
 * instructions per tx). A block's txs are never changed after decoding; an entry lives as long
 * as its array.
 */
const fieldsByBlock = new WeakMap<readonly { raw: Uint8Array }[], readonly TxCallFields[]>();

/**
 * `to`, calldata and access list of a signed tx (legacy or typed), without decoding the rest.
 * Read it, never write it.
 */
export function txCallFields(raw: Uint8Array): TxCallFields {
  return readCallFields(raw);
}

/**
 * txCallFields of each tx of a block, read once per txs array and shared by every caller that
 * holds the same array: read them, never write them.
 */
export function blockCallFields(txs: readonly { raw: Uint8Array }[]): readonly TxCallFields[] {
  let fields = fieldsByBlock.get(txs);
  if (fields === undefined || fields.length !== txs.length) {
    fields = txs.map((tx) => readCallFields(tx.raw));
    fieldsByBlock.set(txs, fields);
  }
  return fields;
}

/**
 * Hands the call fields already read for `txs` on to `picked`, the txs at `indexes` (a
 * partition's share of the block), so the partition's readers (its run in the scheduler, its
 * lookahead) do not read them again. Nothing when `txs` has none yet.
 */
export function shareCallFields(txs: readonly { raw: Uint8Array }[], picked: readonly { raw: Uint8Array }[], indexes: readonly number[]): void {
  const fields = fieldsByBlock.get(txs);
  if (fields === undefined || fields.length !== txs.length || picked.length !== indexes.length) return;
  const out: TxCallFields[] = [];
  for (let k = 0; k < indexes.length; k++) out.push(fields[indexes[k]!]!);
  fieldsByBlock.set(picked, out);
}

function readCallFields(raw: Uint8Array): TxCallFields {
  const typed = raw.length > 0 && raw[0]! < 0x7f;
  const offset = typed ? 1 : 0;
  const list = itemAt(raw, offset, raw.length);
  if (list === null || !list.isList) return NO_FIELDS;
  const toIndex = toFieldIndex(raw);
  // Fields: …, to, value, data, [accessList for typed]. Walk to `to`, then read the next three.
  let at = list.payloadStart;
  for (let i = 0; i < toIndex; i++) {
    const skipped = itemAt(raw, at, list.payloadEnd);
    if (skipped === null) return NO_FIELDS;
    at = skipped.payloadEnd;
  }
  const toItem = itemAt(raw, at, list.payloadEnd);
  if (toItem === null || toItem.isList) return NO_FIELDS;
  const valueItem = itemAt(raw, toItem.payloadEnd, list.payloadEnd);
  if (valueItem === null) return NO_FIELDS;
  const dataItem = itemAt(raw, valueItem.payloadEnd, list.payloadEnd);
  if (dataItem === null || dataItem.isList) return NO_FIELDS;
  const toLength = toItem.payloadEnd - toItem.payloadStart;
  const to = toLength === 20 ? view(raw, toItem.payloadStart, toItem.payloadEnd) : null;
  const data = dataItem.payloadEnd === dataItem.payloadStart ? NO_DATA : view(raw, dataItem.payloadStart, dataItem.payloadEnd);
  let accessList: Buffer | null = null;
  if (typed) {
    const listStart = dataItem.payloadEnd;
    const accessItem = itemAt(raw, listStart, list.payloadEnd);
    if (accessItem !== null && accessItem.isList && accessItem.payloadEnd > accessItem.payloadStart) {
      accessList = view(raw, listStart, accessItem.payloadEnd);
    }
  }
  return { to, data, accessList };
}

/** The storage keys an access list declares, as `address ‖ slot` hex strings (no 0x). */
export function accessListKeys(accessList: Uint8Array | null): string[] {
  if (accessList === null) return [];
  let decoded: unknown;
  try {
    decoded = RLP.decode(accessList);
  } catch {
    return [];
  }
  if (!Array.isArray(decoded)) return [];
  const keys: string[] = [];
  for (const entry of decoded as unknown[]) {
    if (!Array.isArray(entry) || !(entry[0] instanceof Uint8Array)) continue;
    const address = Buffer.from(entry[0]).toString('hex');
    const slots = Array.isArray(entry[1]) ? (entry[1] as unknown[]) : [];
    for (const slot of slots) if (slot instanceof Uint8Array) keys.push(address + Buffer.from(slot).toString('hex'));
  }
  return keys;
}
