// The flat state key space shared by executors, the scheduler's multi-version memory, the state
// backends and the state root. Every piece of Ethereum state is one (key, value) entry:
//
//   0x01 ‖ address(20)            → account: nonce u64 BE(8) ‖ balance u256 BE(32) ‖ codeHash(32)
//   0x02 ‖ address(20) ‖ slot(32) → storage value, 32 bytes BE; a zero value is stored as absent
//   0x03 ‖ codeHash(32)           → contract code (content-addressed, written once)
//
// An absent account is the empty account (nonce 0, balance 0, empty code). In memory a key is a
// string of one character per byte (`StateKey`, its bytes as latin1), so it indexes Maps cheaply
// and compares in byte order; keyHex spells it for people.

export type StateKey = string;

export const KEY_ACCOUNT = 0x01;
export const KEY_STORAGE = 0x02;
export const KEY_CODE = 0x03;

export const ACCOUNT_VALUE_BYTES = 72;

/** keccak256 of the empty byte string: the code hash of an account without code. */
export const EMPTY_CODE_HASH = Buffer.from(
  'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
  'hex',
);

export interface AccountValue {
  nonce: bigint;
  balance: bigint;
  codeHash: Uint8Array;
}

// Keys are spelled into one scratch buffer and made a string by a single latin1 decode. One
// character per byte: a storage key is a 53-character string, where its hex spelling was 106,
// and every Map a key indexes hashes and compares its characters (the EVM's state view makes
// dozens of keys per transaction, and each crosses several Maps on its way to a commit).
/** The longest key (a storage key: kind, address, slot) is 53 bytes. */
const MAX_KEY_BYTES = 53;
const spelling = Buffer.alloc(MAX_KEY_BYTES);

/**
 * bytes[start, end) as a latin1 string: Node's own Buffer.prototype.latin1Slice, which
 * toString('latin1', …) reaches after its encoding switch (about half the time for a key), and
 * which takes any Uint8Array. Undocumented, so looked up once with toString as the fallback.
 */
type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
const nativeLatin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;
const latin1Slice: Latin1Slice = typeof nativeLatin1Slice === 'function'
  ? nativeLatin1Slice
  : function (this: Uint8Array, start: number, end: number): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('latin1', start, end);
  };

/** Spells a key: its kind byte (1–3), then the parts' bytes. */
function spellKey(kind: number, first: Uint8Array, second?: Uint8Array): StateKey {
  spelling[0] = kind;
  spelling.set(first, 1);
  let o = 1 + first.length;
  if (second !== undefined) {
    spelling.set(second, o);
    o += second.length;
  }
  return latin1Slice.call(spelling, 0, o);
}

export function accountKey(address: Uint8Array): StateKey {
  if (address.length !== 20) throw new Error(`accountKey: address must be 20 bytes, got ${address.length}`);
  return spellKey(KEY_ACCOUNT, address);
}

export function storageKey(address: Uint8Array, slot: Uint8Array): StateKey {
  if (address.length !== 20) throw new Error(`storageKey: address must be 20 bytes, got ${address.length}`);
  if (slot.length !== 32) throw new Error(`storageKey: slot must be 32 bytes, got ${slot.length}`);
  return spellKey(KEY_STORAGE, address, slot);
}

export function codeKey(codeHash: Uint8Array): StateKey {
  if (codeHash.length !== 32) throw new Error(`codeKey: hash must be 32 bytes, got ${codeHash.length}`);
  return spellKey(KEY_CODE, codeHash);
}

/** The key's kind byte: KEY_ACCOUNT, KEY_STORAGE or KEY_CODE. */
export function keyKind(key: StateKey): number {
  return key.charCodeAt(0);
}

/** Address of an account or storage key. */
export function keyAddress(key: StateKey): Buffer {
  return Buffer.from(key.slice(1, 21), 'latin1');
}

/** The slot of a storage key (its last 32 bytes). */
export function keySlot(key: StateKey): Buffer {
  return Buffer.from(key.slice(21), 'latin1');
}

/** The part of a storage key after its address (the slot), as a string: a Map key for slots. */
export function keySlotPart(key: StateKey): string {
  return key.slice(21);
}

/** An address as account and storage keys spell it after their kind byte (a prefix for startsWith). */
export function addressPart(address: Uint8Array): string {
  return keyFromBytes(address);
}

export function keyToBytes(key: StateKey): Buffer {
  return Buffer.from(key, 'latin1');
}

/** A key as lowercase hex (no 0x): how logs, reports and error messages show it. */
export function keyHex(key: StateKey): string {
  return Buffer.from(key, 'latin1').toString('hex');
}

/** The key whose bytes the hex string spells (keyHex's inverse, for fixtures and input). */
export function keyFromHex(hex: string): StateKey {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`keyFromHex: not hex: ${hex}`);
  return Buffer.from(hex, 'hex').toString('latin1');
}

export function keyFromBytes(bytes: Uint8Array): StateKey {
  return latin1Slice.call(bytes, 0, bytes.length);
}

/** keyFromBytes of bytes[from, to), without a view object for them (decoding packed read/write sets). */
export function keyFromRange(bytes: Uint8Array, from: number, to: number): StateKey {
  return latin1Slice.call(bytes, from, to);
}

/**
 * keyToBytes behind a bounded memo, for hot paths that convert the same keys block after block
 * (every result's write-set and read-set): a Map lookup of a key whose hash its string already
 * holds, then one copy, where writing it character by character costs about three times that.
 * The Buffers it returns are shared: callers must not write into them. Past `maxEntries` the memo
 * starts over.
 */
export class StateKeyBytes {
  private readonly memo = new Map<StateKey, Buffer>();

  constructor(private readonly maxEntries: number) {
    if (!(maxEntries >= 1)) throw new Error(`StateKeyBytes: maxEntries must be >= 1, got ${maxEntries}`);
  }

  bytes(key: StateKey): Buffer {
    let b = this.memo.get(key);
    if (b === undefined) {
      if (this.memo.size >= this.maxEntries) this.memo.clear();
      b = Buffer.from(key, 'latin1');
      this.memo.set(key, b);
    }
    return b;
  }
}

/** Writes `key`'s bytes into out[offset…); returns the offset after them. Throws on a character that is not a byte. */
export function writeKey(key: StateKey, out: Uint8Array, offset: number): number {
  let o = offset;
  let all = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    all |= c;
    out[o++] = c;
  }
  if (all > 0xff) throw new Error(`state key is not one byte per character: ${JSON.stringify(key)}`);
  return o;
}

/** Bytes a big-endian integer can have and still be summed exactly as a float64, in two parts of 6. */
const SMALL_UINT_BYTES = 12;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function sumBytes(bytes: Uint8Array, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 256 + bytes[i]!;
  return v;
}

/**
 * The big-endian unsigned integer in bytes[offset, offset + length). Without a string or a
 * BigInt per byte: either costs 1-2k instructions per 32-byte value, and every account read and
 * every decoded transaction has several. Up to 12 bytes are summed as numbers, six at a time;
 * longer values are read eight bytes at a time as native 64-bit BigInts.
 */
export function readUintBE(bytes: Uint8Array, offset: number, length: number): bigint {
  const end = offset + length;
  if (length <= 6) return BigInt(sumBytes(bytes, offset, end));
  if (length <= SMALL_UINT_BYTES) {
    const split = end - 6;
    return (BigInt(sumBytes(bytes, offset, split)) << 48n) | BigInt(sumBytes(bytes, split, end));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length);
  const head = length & 7;
  let value = readUintBE(bytes, offset, head); // up to 7 bytes: more than a float64 holds exactly
  for (let i = head; i < length; i += 8) value = (value << 64n) | view.getBigUint64(i);
  return value;
}

/**
 * Writes `value` big-endian into all of out[offset, offset + length), zeros in front; throws when
 * it is negative or does not fit. Values below 2^53 (nonces, most balances) go as numbers, larger
 * ones eight bytes at a time.
 */
export function writeUintBE(value: bigint, out: Uint8Array, offset: number, length: number): void {
  if (value < 0n) throw new Error('negative value in state');
  let i = offset + length;
  if (value <= MAX_SAFE) {
    let n = Number(value);
    for (i--; i >= offset; i--) {
      out[i] = n % 256;
      n = Math.floor(n / 256);
    }
    if (n !== 0) throw new Error(`value does not fit in ${length} bytes`);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, length);
  let v = value;
  for (; i - offset >= 8; i -= 8) {
    view.setBigUint64(i - offset - 8, BigInt.asUintN(64, v));
    v >>= 64n;
  }
  for (i--; i >= offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new Error(`value does not fit in ${length} bytes`);
}

export function encodeAccount(account: AccountValue): Buffer {
  const out = Buffer.alloc(ACCOUNT_VALUE_BYTES);
  writeUintBE(account.nonce, out, 0, 8);
  writeUintBE(account.balance, out, 8, 32);
  out.set(account.codeHash, 40);
  return out;
}

/** True when an encoded account has code: its code hash, read in place, is not the empty one. */
export function accountHasCode(value: Uint8Array): boolean {
  if (value.length !== ACCOUNT_VALUE_BYTES) {
    throw new Error(`accountHasCode: expected ${ACCOUNT_VALUE_BYTES} bytes, got ${value.length}`);
  }
  return Buffer.compare(value.subarray(40, 72), EMPTY_CODE_HASH) !== 0;
}

export function decodeAccount(value: Uint8Array): AccountValue {
  if (value.length !== ACCOUNT_VALUE_BYTES) {
    throw new Error(`decodeAccount: expected ${ACCOUNT_VALUE_BYTES} bytes, got ${value.length}`);
  }
  return {
    nonce: readUintBE(value, 0, 8),
    balance: readUintBE(value, 8, 32),
    codeHash: value.subarray(40, 72),
  };
}

/** True when the account is empty in the EIP-161 sense (and so is stored as absent). */
export function isEmptyAccount(account: AccountValue): boolean {
  return account.nonce === 0n && account.balance === 0n && Buffer.compare(Buffer.from(account.codeHash), EMPTY_CODE_HASH) === 0;
}

/** Big-endian unsigned bytes without leading zeros, the wire form of wei amounts. */
export function bigintToBytes(value: bigint): Buffer {
  if (value < 0n) throw new Error('bigintToBytes: negative');
  if (value === 0n) return Buffer.alloc(0);
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  return readUintBE(bytes, 0, bytes.length);
}
