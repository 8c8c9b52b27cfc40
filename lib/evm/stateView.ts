// A journaled view of state for one transaction at a time, implementing the EthereumJS
// `StateManagerInterface` that `runTx` executes against. It records exactly what the
// transaction read (each key with the version first observed) and what it finally wrote, both in
// the flat key space of lib/state/keys.ts, which is what Block-STM validation and the state
// commit need.
//
// Reads go to a pluggable `VersionedStateSource`: today a cache plus batched reads from the
// state service, tomorrow the multi-version memory of the scheduler (returning the latest write
// of an earlier transaction). A source answers synchronously when it can, so the hot path does
// not wait on promises it does not need.
//
// Checkpoints are O(1): every write appends (key, previous value) to an undo log; checkpoint
// remembers the log's length, revert undoes back to it, commit forgets the mark. Nothing is
// copied, whatever the size of state (SimpleStateManager copies every map per checkpoint).
import type { AccountFields, StateManagerInterface, StorageDump } from '@ethereumjs/common';
import { Account, KECCAK256_NULL, KECCAK256_RLP, type Address } from '@ethereumjs/util';
import { keccak256 } from '../crypto/keccak.js';
import {
  EMPTY_CODE_HASH,
  KEY_ACCOUNT,
  KEY_STORAGE,
  accountKey,
  addressPart,
  codeKey,
  decodeAccount,
  encodeAccount,
  keyHex,
  storageKey,
  type StateKey,
} from '../state/keys.js';

/** Which transaction's write a read observed; txIndex -1 is the committed base state. */
export interface ReadVersion {
  txIndex: number;
  incarnation: number;
}

/** A value as the source returned it (null = absent), with its version. */
export interface VersionedRead extends ReadVersion {
  value: Buffer | null;
}

export const BASE_TX_INDEX = -1;

/**
 * Where the view reads state that the transaction has not written itself. Return synchronously
 * when the value is at hand. A source may throw (or reject) to abort the execution, e.g. when
 * Block-STM finds a dependency on a transaction not yet executed; the view records the error
 * (`sourceError`) so the executor can tell it apart from an invalid transaction.
 */
export interface VersionedStateSource {
  read(key: StateKey): VersionedRead | Promise<VersionedRead>;
}

/** The read-set and write-set of one transaction. */
export interface TxAccessSets {
  /**
   * In coinbase-delta mode: the fee credited to the coinbase by a transaction that did not
   * otherwise touch it, left out of `writes` (0n when none). See `beginTx`.
   */
  coinbaseDelta: bigint;
  /** Every key read from the source, with the version (and value) first observed. */
  reads: Map<StateKey, VersionedRead>;
  /** Final value of every key the transaction changed; null = absent (deleted, zero, empty). */
  writes: Map<StateKey, Buffer | null>;
}

/** An account as the view holds it while the transaction runs; null = absent. */
interface AccountState {
  readonly nonce: bigint;
  readonly balance: bigint;
  readonly codeHash: Uint8Array;
}

/** Current value of a key: AccountState for account keys, bytes for storage and code keys. */
type Current = AccountState | Buffer | null;

const MISSING = Symbol('missing');
// A key's first character is its kind byte (keys.ts).
const STORAGE_KEY_PREFIX = String.fromCharCode(KEY_STORAGE);
const EMPTY_BYTES = new Uint8Array(0);

/** Bound on nested checkpoints: the EVM's call depth is 1024, plus runTx's own two. */
const CHECKPOINT_DEPTH_MAX = 1100;

function notSupported(name: string): Error {
  return new Error(`JournaledStateView.${name}: not supported (the view has no trie)`);
}

function isEmptyAccountState(a: AccountState): boolean {
  return a.nonce === 0n && a.balance === 0n && Buffer.compare(a.codeHash, EMPTY_CODE_HASH) === 0;
}

function toAccount(state: AccountState | null): Account | undefined {
  if (state === null) return undefined;
  // A fresh object per call: callers mutate what they get and putAccount it later (or not).
  return new Account(state.nonce, state.balance, KECCAK256_RLP, state.codeHash);
}

function decodeAccountState(value: Buffer | null): AccountState | null {
  if (value === null) return null;
  const a = decodeAccount(value);
  return { nonce: a.nonce, balance: a.balance, codeHash: a.codeHash };
}

/** A storage value in the flat form: 32 bytes big-endian, zero as null. */
function normalizeSlotValue(value: Uint8Array): Buffer | null {
  if (value.length > 32) throw new Error(`putStorage: value longer than 32 bytes (${value.length})`);
  let allZero = true;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== 0) {
      allZero = false;
      break;
    }
  }
  if (allZero) return null;
  const out = Buffer.alloc(32);
  out.set(value, 32 - value.length);
  return out;
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

/**
 * The `StateManagerInterface` runTx executes against. One instance serves one transaction at a
 * time: `beginTx(source)` resets it, `accessSets()` reads the outcome. It is reused across
 * transactions so the VM holding it is built once.
 */
export class JournaledStateView implements StateManagerInterface {
  private source: VersionedStateSource | null = null;
  // `current` and `dirty` are replaced, not cleared, at each beginTx: V8's Map.clear() gives the
  // map a new table and leaves the old one pointing at it (for live iterators), so a cleared
  // table that was promoted keeps every later table, and the values in them, alive through
  // scavenges until a full collection.
  /** Value of every key the transaction has seen: read from the source or written itself. */
  private current = new Map<StateKey, Current>();
  /** Keys whose `current` value was written by the transaction. */
  private dirty = new Set<StateKey>();
  private reads = new Map<StateKey, VersionedRead>();
  // The undo log, as parallel arrays so a write allocates no entry object.
  private readonly undoKeys: StateKey[] = [];
  private readonly undoValues: (Current | typeof MISSING)[] = [];
  private readonly undoWasDirty: boolean[] = [];
  private readonly marks: number[] = [];
  private error: unknown = undefined;
  private deltaKey: StateKey | null = null;
  private deltaVirtual = false;

  /** Values at the start of the transaction, for SSTORE gas (EIP-2200/3529). */
  readonly originalStorageCache = {
    get: (address: Address, key: Uint8Array): Promise<Uint8Array> => {
      const r = this.baseRead(storageKey(address.bytes, key));
      if (r instanceof Promise) return r.then((v) => v.value ?? EMPTY_BYTES);
      return Promise.resolve(r.value ?? EMPTY_BYTES);
    },
    // runTx clears it after every transaction; ours lives exactly one transaction (beginTx).
    clear: (): void => {},
  };

  /**
   * Start a transaction against `source`: forget everything from the previous one.
   * `coinbaseKey` turns on coinbase-delta mode: when the transaction reaches the fee phase
   * (`enterFeePhase`, after the EVM call) without having read or written that account, the fee
   * is credited to a virtual empty account and reported as `coinbaseDelta` instead of a write,
   * so a shared fee recipient does not make every transaction depend on the previous one.
   */
  beginTx(source: VersionedStateSource, coinbaseKey: StateKey | null = null): void {
    this.source = source;
    this.deltaKey = coinbaseKey;
    this.deltaVirtual = false;
    this.current = new Map();
    this.dirty = new Set();
    this.reads = new Map();
    this.undoKeys.length = 0;
    this.undoValues.length = 0;
    this.undoWasDirty.length = 0;
    this.marks.length = 0;
    this.error = undefined;
  }

  /** Called once the EVM call of the transaction returned: what follows is fee accounting. */
  enterFeePhase(): void {
    const key = this.deltaKey;
    if (key === null || this.current.has(key)) return;
    this.current.set(key, { nonce: 0n, balance: 0n, codeHash: EMPTY_CODE_HASH });
    this.deltaVirtual = true;
  }

  /** The first error the source threw during this transaction, if any. */
  get sourceError(): unknown {
    return this.error;
  }

  get checkpointDepth(): number {
    return this.marks.length;
  }

  /**
   * The read-set and the net write-set of the transaction so far. A write whose final value
   * equals the value read at the start is dropped: it changes nothing, and keeping it would
   * make later transactions depend on this one for no reason (a zero-fee coinbase, a slot set
   * and reset).
   */
  accessSets(): TxAccessSets {
    const writes = new Map<StateKey, Buffer | null>();
    let coinbaseDelta = 0n;
    for (const key of this.dirty) {
      if (this.deltaVirtual && key === this.deltaKey) {
        const virtual = this.current.get(key) as AccountState | null | undefined;
        if (virtual === undefined || virtual === null) continue;
        if (virtual.nonce !== 0n || Buffer.compare(virtual.codeHash, EMPTY_CODE_HASH) !== 0) {
          throw new Error('JournaledStateView: the virtual coinbase account changed beyond its balance');
        }
        coinbaseDelta = virtual.balance;
        continue;
      }
      const cur = this.current.get(key);
      if (cur === undefined) throw new Error(`JournaledStateView: dirty key ${keyHex(key)} has no value`);
      let value: Buffer | null;
      if (key.charCodeAt(0) === KEY_ACCOUNT) {
        const a = cur as AccountState | null;
        value = a === null || isEmptyAccountState(a) ? null : encodeAccount(a);
      } else {
        value = cur as Buffer | null;
      }
      const base = this.reads.get(key);
      if (base !== undefined && sameBytes(base.value, value)) continue;
      writes.set(key, value);
    }
    return { reads: this.reads, writes, coinbaseDelta };
  }

  // ---- reads ----

  /** The source's value for `key`, read at most once per transaction and recorded. */
  private baseRead(key: StateKey): VersionedRead | Promise<VersionedRead> {
    const seen = this.reads.get(key);
    if (seen !== undefined) return seen;
    const source = this.source;
    if (source === null) throw new Error('JournaledStateView: read before beginTx');
    let r: VersionedRead | Promise<VersionedRead>;
    try {
      r = source.read(key);
    } catch (e) {
      this.error ??= e;
      throw e;
    }
    if (r instanceof Promise) {
      return r.then(
        (v) => this.recordRead(key, v),
        (e: unknown) => {
          this.error ??= e;
          throw e;
        },
      );
    }
    return this.recordRead(key, r);
  }

  private recordRead(key: StateKey, r: VersionedRead): VersionedRead {
    // Two reads of one key can be in flight only if the EVM ran concurrently, which it does not;
    // keep the first version regardless so the transaction sees one version per key.
    const seen = this.reads.get(key);
    if (seen !== undefined) return seen;
    this.reads.set(key, r);
    return r;
  }

  private loadAccountState(key: StateKey): AccountState | null | Promise<AccountState | null> {
    const cur = this.current.get(key);
    if (cur !== undefined) return cur as AccountState | null;
    const r = this.baseRead(key);
    if (r instanceof Promise) return r.then((v) => this.cacheRead(key, decodeAccountState(v.value)) as AccountState | null);
    return this.cacheRead(key, decodeAccountState(r.value)) as AccountState | null;
  }

  private loadBytes(key: StateKey): Buffer | null | Promise<Buffer | null> {
    const cur = this.current.get(key);
    if (cur !== undefined) return cur as Buffer | null;
    const r = this.baseRead(key);
    if (r instanceof Promise) return r.then((v) => this.cacheRead(key, v.value) as Buffer | null);
    return this.cacheRead(key, r.value) as Buffer | null;
  }

  private cacheRead(key: StateKey, value: Current): Current {
    const cur = this.current.get(key);
    if (cur !== undefined) return cur;
    this.current.set(key, value);
    return value;
  }

  // ---- writes ----

  private write(key: StateKey, value: Current): void {
    const prev = this.current.get(key);
    this.undoKeys.push(key);
    this.undoValues.push(prev === undefined ? MISSING : prev);
    this.undoWasDirty.push(this.dirty.has(key));
    this.current.set(key, value);
    this.dirty.add(key);
  }

  private undoTo(length: number): void {
    for (let i = this.undoKeys.length - 1; i >= length; i--) {
      const key = this.undoKeys[i]!;
      const prev = this.undoValues[i]!;
      if (prev === MISSING) this.current.delete(key);
      else this.current.set(key, prev);
      if (!this.undoWasDirty[i]) this.dirty.delete(key);
    }
    this.undoKeys.length = length;
    this.undoValues.length = length;
    this.undoWasDirty.length = length;
  }

  // ---- StateManagerInterface: accounts ----

  getAccount(address: Address): Promise<Account | undefined> {
    const s = this.loadAccountState(accountKey(address.bytes));
    if (s instanceof Promise) return s.then(toAccount);
    return Promise.resolve(toAccount(s));
  }

  putAccount(address: Address, account?: Account): Promise<void> {
    const key = accountKey(address.bytes);
    if (account === undefined) this.write(key, null);
    else this.write(key, { nonce: account.nonce, balance: account.balance, codeHash: account.codeHash });
    return Promise.resolve();
  }

  /**
   * Deletes the account and, for EIP-6780 self-destructs, the storage the transaction wrote for
   * it. Storage written by earlier transactions is not enumerated: under Cancun only a contract
   * created in this same transaction can be destroyed, and it has no earlier storage.
   */
  async deleteAccount(address: Address): Promise<void> {
    this.write(accountKey(address.bytes), null);
    this.wipeWrittenStorage(address);
  }

  async clearStorage(address: Address): Promise<void> {
    this.wipeWrittenStorage(address);
  }

  private wipeWrittenStorage(address: Address): void {
    const prefix = STORAGE_KEY_PREFIX + addressPart(address.bytes);
    const toWipe: StateKey[] = [];
    for (const key of this.dirty) {
      if (key.startsWith(prefix) && this.current.get(key) !== null) toWipe.push(key);
    }
    for (const key of toWipe) this.write(key, null);
  }

  async modifyAccountFields(address: Address, fields: AccountFields): Promise<void> {
    const account = (await this.getAccount(address)) ?? new Account();
    if (fields.nonce !== undefined) account.nonce = fields.nonce;
    if (fields.balance !== undefined) account.balance = fields.balance;
    if (fields.codeHash !== undefined) account.codeHash = fields.codeHash;
    await this.putAccount(address, account);
  }

  // ---- code ----

  async putCode(address: Address, value: Uint8Array): Promise<void> {
    const codeHash = value.length === 0 ? KECCAK256_NULL : keccak256(value);
    if (value.length > 0) this.write(codeKey(codeHash), Buffer.from(value));
    const account = (await this.getAccount(address)) ?? new Account();
    account.codeHash = codeHash;
    await this.putAccount(address, account);
  }

  async getCode(address: Address): Promise<Uint8Array> {
    let s = this.loadAccountState(accountKey(address.bytes));
    if (s instanceof Promise) s = await s;
    if (s === null || Buffer.compare(s.codeHash, EMPTY_CODE_HASH) === 0) return EMPTY_BYTES;
    let code = this.loadBytes(codeKey(s.codeHash));
    if (code instanceof Promise) code = await code;
    if (code === null) throw new Error(`JournaledStateView: code ${Buffer.from(s.codeHash).toString('hex')} missing from state`);
    return code;
  }

  async getCodeSize(address: Address): Promise<number> {
    return (await this.getCode(address)).length;
  }

  // ---- storage ----

  getStorage(address: Address, key: Uint8Array): Promise<Uint8Array> {
    const v = this.loadBytes(storageKey(address.bytes, key));
    if (v instanceof Promise) return v.then((x) => x ?? EMPTY_BYTES);
    return Promise.resolve(v ?? EMPTY_BYTES);
  }

  putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    this.write(storageKey(address.bytes, key), normalizeSlotValue(value));
    return Promise.resolve();
  }

  // ---- checkpoints ----

  checkpoint(): Promise<void> {
    if (this.marks.length >= CHECKPOINT_DEPTH_MAX) throw new Error('JournaledStateView: checkpoint depth limit');
    this.marks.push(this.undoKeys.length);
    return Promise.resolve();
  }

  commit(): Promise<void> {
    if (this.marks.pop() === undefined) throw new Error('JournaledStateView: commit without checkpoint');
    return Promise.resolve();
  }

  revert(): Promise<void> {
    const mark = this.marks.pop();
    if (mark === undefined) throw new Error('JournaledStateView: revert without checkpoint');
    this.undoTo(mark);
    return Promise.resolve();
  }

  // ---- not needed by runTx (post-Byzantium receipts carry a status, not a state root) ----

  getStateRoot(): Promise<Uint8Array> {
    return Promise.reject(notSupported('getStateRoot'));
  }

  setStateRoot(_stateRoot: Uint8Array, _clearCache?: boolean): Promise<void> {
    return Promise.reject(notSupported('setStateRoot'));
  }

  hasStateRoot(_root: Uint8Array): Promise<boolean> {
    return Promise.reject(notSupported('hasStateRoot'));
  }

  dumpStorage(_address: Address): Promise<StorageDump> {
    return Promise.reject(notSupported('dumpStorage'));
  }

  clearCaches(): void {}

  shallowCopy(_downlevelCaches?: boolean): StateManagerInterface {
    throw notSupported('shallowCopy');
  }
}

/** A source over a plain map of committed state: every read is version (-1, 0). */
export class MapStateSource implements VersionedStateSource {
  constructor(private readonly state: ReadonlyMap<StateKey, Buffer>) {}

  read(key: StateKey): VersionedRead {
    return { value: this.state.get(key) ?? null, txIndex: BASE_TX_INDEX, incarnation: 0 };
  }
}
