// The embedded StateBackend on LMDB (npm `lmdb`). Why LMDB: embedded (no server to run next to
// the state service), ACID with one writer, MVCC so readers never block the writer, memory-mapped
// reads in about a microsecond plus JS overhead, and the package ships prebuilt binaries (no
// install script, works after a plain `npm ci`).
//
// Key layout (one LMDB environment, one named sub-database per FoundationDB subspace to come):
//   state       stateKeyBytes ‖ (2^64-1 - height) u64 BE → 0x00 (absent) | 0x01 ‖ value
//               A read at height h is a range read from key ‖ (MAX - h), limit 1, same key prefix:
//               the first hit is the newest version at or below h. Every committed height stays
//               readable (eth_call at a block tag; executors reading at their base height while
//               the next block commits), down to the oldest readable height (see prune()).
//   changes     height u64 BE → the keys the block wrote (records.ts encodeChanges), until pruned
//   headers     height u64 BE → BlockHeader (proto)
//   blockTxs    height u64 BE → framed list of Tx (proto)
//   blockHashes blockHash(32) → height u64 BE
//   txs         txHash(32) → TxLookup (proto: tx, receipt, block number and hash)
//   rejections  txHash(32) → Rejection (proto)
//   logs        height u64 BE → bloom(256) ‖ framed list of LogEntry (proto); only blocks with logs,
//               so getLogs skips empty blocks for free and tests the bloom before decoding
//   meta        "head" → height u64 ‖ lastTxStreamSeq u64 ‖ stateRoot(32) ‖ headHash(32) ‖ lattice
//               "format" → u32 layout version
//               "oldest" → u64 BE oldest readable height (absent = 0, nothing pruned)
//
// A block is written in ONE synchronous, abortable LMDB write transaction (transactionSync), with
// the height fence read inside it. lmdb-js' asynchronous `transaction()` cannot be aborted (a throw
// or ABORT inside it still commits the writes made so far), so it is not used: a failed fence or
// any unexpected error must leave the store untouched. The price: the event loop is blocked while
// a block commits (≈8 µs per written key, measured), during which reads wait.
import { open, type Database, type RootDatabase } from 'lmdb';
import { LogEntry, TxLookup } from '../../gen/lanes/v1/bus.js';
import { BlockHeader, Rejection, Tx, type Receipt } from '../../gen/lanes/v1/types.js';
import { BLOOM_BYTES, HASH_BYTES, bloomMerge } from '../../lib/chain/block.js';
import { keyFromBytes, keyHex, keyToBytes, type StateKey } from '../../lib/state/keys.js';
import { LATTICE_BYTES } from '../../lib/state/root.js';
import {
  HeightFenceError, HeightNotCommittedError, HeightPrunedError, StateCorruptionError,
  type CommitRecord, type CommitResult, type LogMatch, type LogQuery, type PruneResult, type StateBackend, type StateMeta,
  type StoredBlock, type TxRecord,
} from './backend.js';
import {
  STATE_KEY_BYTES, TAG_ABSENT, TAG_PRESENT, collectLogs, decodeChanges, decodeFramed, decodeMeta, encodeChanges, encodeFramed, encodeMeta,
  taggedValue, writeKeyBytes,
} from './records.js';
import { bloomMayMatch, compileLogFilter, logMatches } from './logFilter.js';
import { VersionedReadCache, ownedCopy } from './versionedReadCache.js';
import { encodeMessage } from '../../lib/bus/encode.js';

const FORMAT_VERSION = 1;
const MAX_U64 = (1n << 64n) - 1n;
const META_HEAD = 'head';
const META_FORMAT = 'format';
const META_OLDEST = 'oldest';

export interface LmdbBackendOptions {
  /** Directory of the LMDB environment; created when missing. */
  path: string;
  /**
   * Skip fsync on commit. Only for tests and benchmarks: a crash may lose the last blocks (the
   * scheduler would re-commit them from the ordered stream) but never tears one.
   */
  noSync?: boolean;
  /** Entries of the read cache of committed values (0 = none; default LMDB_DEFAULT_CACHE_ENTRIES). */
  cacheMaxEntries?: number;
}

/**
 * A memory-mapped read is cheap in LMDB, but lmdb-js' range read (a cursor per key, the newest
 * version at or below a height) costs 15-25 µs here, and a commit reads the old value of every key
 * it writes (for the root), most of them written or read a few blocks before. The cache answers
 * those, and executors' reads of hot keys, from memory.
 */
export const LMDB_DEFAULT_CACHE_ENTRIES = 200_000;

export function heightKey(height: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(height, 0);
  return out;
}

/** stateKeyBytes ‖ (MAX - height): newer versions sort first. */
export function versionedStateKey(keyBytes: Uint8Array, height: bigint): Buffer {
  const out = Buffer.allocUnsafe(keyBytes.length + 8);
  out.set(keyBytes, 0);
  out.writeBigUInt64BE(MAX_U64 - height, keyBytes.length);
  return out;
}

function checkStateKey(keyBytes: Buffer, key: StateKey): void {
  const expected = STATE_KEY_BYTES[keyBytes[0] ?? -1];
  if (expected === undefined || keyBytes.length !== expected) {
    throw new Error(`invalid state key ${keyHex(key)}: kind ${keyBytes[0]} with ${keyBytes.length} bytes`);
  }
}


interface EncodedBlock {
  stateEntries: [Buffer, Buffer][];
  header: Buffer;
  txs: Buffer;
  txLookups: [Buffer, Buffer][];
  logs: Buffer | null;
  changes: Buffer | null;
  meta: Buffer;
}

export class LmdbStateBackend implements StateBackend {
  private readonly root: RootDatabase;
  private readonly state: Database<Buffer, Buffer>;
  private readonly headers: Database<Buffer, Buffer>;
  private readonly blockTxs: Database<Buffer, Buffer>;
  private readonly blockHashes: Database<Buffer, Buffer>;
  private readonly txs: Database<Buffer, Buffer>;
  private readonly rejections: Database<Buffer, Buffer>;
  private readonly logs: Database<Buffer, Buffer>;
  private readonly changes: Database<Buffer, Buffer>;
  private readonly metaDb: Database<Buffer, string>;
  /** Highest committed height as seen by this process; null = empty store. */
  private committedHeight: bigint | null;
  private oldest: bigint;
  private closed = false;
  /** Only this process writes the environment, so its own commits keep the cache exact. */
  private readonly cache: VersionedReadCache;

  constructor(options: LmdbBackendOptions) {
    this.cache = new VersionedReadCache(options.cacheMaxEntries ?? LMDB_DEFAULT_CACHE_ENTRIES);
    this.root = open({ path: options.path, maxDbs: 12, noSync: options.noSync ?? false });
    const binary = { keyEncoding: 'binary', encoding: 'binary' } as const;
    this.state = this.root.openDB({ name: 'state', ...binary });
    this.headers = this.root.openDB({ name: 'headers', ...binary });
    this.blockTxs = this.root.openDB({ name: 'blockTxs', ...binary });
    this.blockHashes = this.root.openDB({ name: 'blockHashes', ...binary });
    this.txs = this.root.openDB({ name: 'txs', ...binary });
    this.rejections = this.root.openDB({ name: 'rejections', ...binary });
    this.logs = this.root.openDB({ name: 'logs', ...binary });
    this.changes = this.root.openDB({ name: 'changes', ...binary });
    this.metaDb = this.root.openDB({ name: 'meta', keyEncoding: 'ordered-binary', encoding: 'binary' });
    const format = this.metaDb.get(META_FORMAT);
    if (format !== undefined && format.readUInt32BE(0) !== FORMAT_VERSION) {
      throw new StateCorruptionError(`layout version ${format.readUInt32BE(0)}, this build reads ${FORMAT_VERSION}`, 'meta');
    }
    const head = this.metaDb.get(META_HEAD);
    this.committedHeight = head === undefined ? null : decodeMeta(head).height;
    this.oldest = this.metaDb.get(META_OLDEST)?.readBigUInt64BE(0) ?? 0n;
    if (this.committedHeight !== null) this.cache.observeCommitted(this.committedHeight);
  }

  async meta(): Promise<StateMeta | null> {
    this.assertOpen();
    const head = this.metaDb.get(META_HEAD);
    return head === undefined ? null : decodeMeta(head);
  }

  async readAt(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]> {
    this.assertOpen();
    if (this.committedHeight === null || height > this.committedHeight) {
      throw new HeightNotCommittedError(height, this.committedHeight ?? -1n);
    }
    if (height < this.oldest) throw new HeightPrunedError(height, this.oldest);
    const out: (Buffer | null)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const hit = this.cache.get(key, height);
      if (hit !== undefined) {
        out[i] = hit;
        continue;
      }
      const { value, version } = this.readOne(key, height);
      this.cache.remember(key, height, value, version);
      out[i] = value;
    }
    return out;
  }

  /** The newest version of `key` at or below `height`: its value and height (-1 = never written). */
  private readOne(key: StateKey, height: bigint): { value: Buffer | null; version: bigint } {
    const keyBytes = keyToBytes(key);
    checkStateKey(keyBytes, key);
    // Versions at or below a committed height are immutable, so no snapshot is needed.
    for (const entry of this.state.getRange({ start: versionedStateKey(keyBytes, height), limit: 1, snapshot: false })) {
      const k = entry.key;
      if (k.length !== keyBytes.length + 8 || k.compare(keyBytes, 0, keyBytes.length, 0, keyBytes.length) !== 0) break;
      const version = MAX_U64 - k.readBigUInt64BE(keyBytes.length);
      const v = entry.value;
      if (v[0] === TAG_ABSENT) return { value: null, version };
      if (v[0] !== TAG_PRESENT) throw new StateCorruptionError(`bad value tag ${v[0]} for ${keyHex(key)}`, 'state');
      return { value: ownedCopy(v.subarray(1)), version }; // may live on in the cache
    }
    return { value: null, version: -1n };
  }

  async commit(record: CommitRecord): Promise<CommitResult> {
    this.assertOpen();
    const encoded = this.encodeBlock(record); // all encoding before the write lock: nothing can throw halfway
    const height = record.height;
    const hKey = heightKey(height);
    const rejectionsStored = this.root.transactionSync(() => {
      const head = this.metaDb.get(META_HEAD);
      const stored = head === undefined ? null : decodeMeta(head).height;
      const fenceOk = stored === null ? height === 0n : stored === height - 1n;
      if (!fenceOk) throw new HeightFenceError(stored, height);
      for (const [k, v] of encoded.stateEntries) this.state.putSync(k, v);
      this.headers.putSync(hKey, encoded.header);
      this.blockTxs.putSync(hKey, encoded.txs);
      this.blockHashes.putSync(record.header.hash, hKey);
      for (const [k, v] of encoded.txLookups) this.txs.putSync(k, v);
      if (encoded.logs !== null) this.logs.putSync(hKey, encoded.logs);
      if (encoded.changes !== null) this.changes.putSync(hKey, encoded.changes);
      const storedRejections: Rejection[] = [];
      const includedHere = new Set(record.txs.map((tx) => tx.hash.toString('hex')));
      for (const rejection of record.rejections) {
        // A duplicate submission rejected after (or in the same block as) the included original
        // must not shadow the original's receipt.
        if (includedHere.has(rejection.txHash.toString('hex')) || this.txs.get(rejection.txHash) !== undefined) continue;
        this.rejections.putSync(rejection.txHash, encodeMessage(Rejection, rejection));
        storedRejections.push(rejection);
      }
      this.metaDb.putSync(META_HEAD, encoded.meta);
      if (height === 0n) this.metaDb.putSync(META_FORMAT, Buffer.from([0, 0, 0, FORMAT_VERSION]));
      return storedRejections;
    });
    this.committedHeight = height;
    this.cache.applyCommit(height, record.writes);
    return { rejectionsStored };
  }

  private encodeBlock(record: CommitRecord): EncodedBlock {
    const { header, height } = record;
    if (header.number !== height) throw new Error(`commit record: header number ${header.number} != height ${height}`);
    if (header.hash.length !== HASH_BYTES) throw new Error('commit record: header hash must be 32 bytes');
    if (record.receipts.length !== record.txs.length) {
      throw new Error(`commit record: ${record.txs.length} txs but ${record.receipts.length} receipts`);
    }
    if (record.lattice.length !== LATTICE_BYTES) throw new Error(`commit record: lattice must be ${LATTICE_BYTES} bytes`);
    const stateEntries: [Buffer, Buffer][] = record.writes.map((w) => {
      const keyBytes = writeKeyBytes(w);
      checkStateKey(keyBytes, w.key);
      return [versionedStateKey(keyBytes, height), taggedValue(w.value)];
    });
    const txLookups: [Buffer, Buffer][] = record.txs.map((tx, i) => {
      const receipt: Receipt = record.receipts[i]!;
      const lookup: TxLookup = { found: true, tx, receipt, blockNumber: height, blockHash: header.hash, rejection: undefined };
      return [tx.hash, encodeMessage(TxLookup, lookup)];
    });
    const logEntries: Uint8Array[] = [];
    const bloom = Buffer.alloc(BLOOM_BYTES);
    for (const receipt of record.receipts) {
      if (receipt.logs.length > 0) bloomMerge(bloom, receipt.logsBloom);
      receipt.logs.forEach((log, j) => {
        logEntries.push(encodeMessage(LogEntry, {
          log, blockNumber: height, blockHash: header.hash, txHash: receipt.txHash,
          txIndex: receipt.txIndex, logIndex: receipt.firstLogIndex + j,
        }));
      });
    }
    return {
      stateEntries,
      header: encodeMessage(BlockHeader, header),
      txs: encodeFramed(record.txs.map((tx) => encodeMessage(Tx, tx))),
      txLookups,
      logs: logEntries.length === 0 ? null : encodeFramed(logEntries, bloom),
      // Genesis's versions are the oldest of every key: no prune step ever starts from them.
      changes: height === 0n || record.writes.length === 0 ? null : encodeChanges(record.writes),
      meta: encodeMeta({
        height, stateRoot: header.stateRoot, headHash: header.hash, lattice: record.lattice, lastTxStreamSeq: record.lastTxStreamSeq,
      }),
    };
  }

  async oldestReadable(): Promise<bigint> {
    this.assertOpen();
    return this.oldest;
  }

  /**
   * One write transaction for up to `maxBlocks` blocks: for each block h, and each key it wrote,
   * the key's versions below h go (a read at or above h finds h's version or a newer one first),
   * and h's own version too when it is a deletion (nothing older is left, so a read finds no
   * version and answers absent, as the tombstone did). Then the change list, and the new oldest.
   */
  async prune(target: bigint, maxBlocks: number): Promise<PruneResult> {
    this.assertOpen();
    if (!(Number.isInteger(maxBlocks) && maxBlocks >= 1)) throw new Error(`prune: maxBlocks must be a positive integer, got ${maxBlocks}`);
    const committed = this.committedHeight ?? -1n;
    const from = this.oldest;
    let upTo = target < committed ? target : committed;
    if (upTo > from + BigInt(maxBlocks)) upTo = from + BigInt(maxBlocks);
    if (upTo <= from) return { oldestReadable: from, blocks: 0 };
    this.root.transactionSync(() => {
      for (let h = from + 1n; h <= upTo; h++) {
        const hKey = heightKey(h);
        const list = this.changes.get(hKey);
        if (list === undefined) continue; // no writes
        for (const { keyBytes, deleted } of decodeChanges(list)) {
          const older: Buffer[] = [];
          const range = this.state.getKeys({ start: versionedStateKey(keyBytes, h - 1n), end: versionedStateKey(keyBytes, 0n), inclusiveEnd: true, snapshot: false });
          for (const key of range) older.push(key);
          for (const key of older) this.state.removeSync(key);
          if (deleted) this.state.removeSync(versionedStateKey(keyBytes, h));
        }
        this.changes.removeSync(hKey);
      }
      this.metaDb.putSync(META_OLDEST, heightKey(upTo));
    });
    this.oldest = upTo;
    return { oldestReadable: upTo, blocks: Number(upTo - from) };
  }

  async *stateKeys(batchKeys: number): AsyncIterable<StateKey[]> {
    this.assertOpen();
    let batch: StateKey[] = [];
    let previous: Buffer | null = null;
    // Versions of a key are adjacent (key ‖ inverted height): one key per run of them.
    for (const versioned of this.state.getKeys({ snapshot: false })) {
      const keyBytes = versioned.subarray(0, versioned.length - 8);
      if (previous !== null && previous.equals(keyBytes)) continue;
      previous = Buffer.from(keyBytes);
      batch.push(keyFromBytes(keyBytes));
      if (batch.length >= batchKeys) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** Stored state versions, every key and height (diagnostics and tests). */
  stateVersionCount(): number {
    this.assertOpen();
    return this.state.getCount();
  }

  async getBlock(number: bigint): Promise<StoredBlock | null> {
    this.assertOpen();
    const hKey = heightKey(number);
    const header = this.headers.get(hKey);
    if (header === undefined) return null;
    const txs = this.blockTxs.get(hKey);
    if (txs === undefined) throw new StateCorruptionError(`block ${number} has a header but no tx list`, 'blockTxs');
    return { header: BlockHeader.decode(header), txs: decodeFramed(txs, 0, (b) => Tx.decode(b), 'blockTxs') };
  }

  async getBlockNumberByHash(hash: Buffer): Promise<bigint | null> {
    this.assertOpen();
    const value = this.blockHashes.get(hash);
    return value === undefined ? null : value.readBigUInt64BE(0);
  }

  async getTxRecords(hashes: Buffer[]): Promise<(TxRecord | null)[]> {
    this.assertOpen();
    return hashes.map((hash): TxRecord | null => {
      const included = this.txs.get(hash);
      if (included !== undefined) {
        const lookup = TxLookup.decode(included);
        if (lookup.tx === undefined || lookup.receipt === undefined) throw new StateCorruptionError('tx lookup without tx or receipt', 'txs');
        return { kind: 'included', tx: lookup.tx, receipt: lookup.receipt, blockNumber: lookup.blockNumber, blockHash: lookup.blockHash };
      }
      const rejected = this.rejections.get(hash);
      return rejected === undefined ? null : { kind: 'rejected', rejection: Rejection.decode(rejected) };
    });
  }

  async getLogs(query: LogQuery): Promise<LogMatch[]> {
    this.assertOpen();
    const filter = compileLogFilter({ addresses: query.addresses, topics: query.topics });
    const out: LogMatch[] = [];
    const range = this.logs.getRange({ start: heightKey(query.fromBlock), end: heightKey(query.toBlock), inclusiveEnd: true });
    for (const { value } of range) {
      if (value.length < BLOOM_BYTES) throw new StateCorruptionError('logs value shorter than a bloom', 'logs');
      if (!bloomMayMatch(filter, value.subarray(0, BLOOM_BYTES))) continue;
      if (collectLogs(value, BLOOM_BYTES, (log) => logMatches(filter.criteria, log), out, query.maxResults)) return out;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('state backend is closed');
  }
}
