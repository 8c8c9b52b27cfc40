// The cluster StateBackend on FoundationDB (npm `foundationdb`, API version 720): the state
// service keeps nothing on its own disk, several replicas can read the same database, and one
// commits, fenced by height. Loading this module loads libfdb_c (LD_LIBRARY_PATH must reach it),
// so main.ts imports it only when LANES_STATE_BACKEND=fdb.
//
// Key layout: every subspace prefix is the tuple (prefix, name); keys inside are tuples except the
// state key, which is the flat key of lib/state/keys.ts with the lmdb version suffix:
//   state       stateKeyBytes ‖ (2^64-1 - height) u64 BE → 0x00 (absent) | 0x01 ‖ value
//               read at h = getRange(key ‖ (MAX - h), strInc(key), limit 1)
//   headers     (height) → BlockHeader                          written with meta (final step)
//   blockHashes (hash) → height u64 BE                          written with meta
//   rejections  (txHash) → Rejection                            written with meta
//   blockTxs    (height, part) → slice of the framed tx list    written in chunks
//   txs         (txHash, part) → slice of TxLookup              written in chunks; hidden above the committed height
//   logBlooms   (height) → bloom                                written in chunks; hidden above the committed height
//   logs        (height, part) → slice of framed LogEntry list  written in chunks
//   changes     (height, part) → the keys the block wrote (records.ts encodeChanges)   written in chunks; dropped when pruned
//   meta        ('head') → height ‖ lastTxStreamSeq ‖ root ‖ head hash ‖ lattice; ('format') → u32;
//               ('oldest') → u64 oldest readable height (absent = 0)
//   pending     ('marker') → height ‖ writer token; ('journal', chunk, part) → keys a chunk wrote
// Values over FDB's 100 kB limit are cut into parts of VALUE_PART_BYTES.
//
// Commit. A block whose mutations fit `chunkMaxBytes` is one transaction. A larger one: (1) clear
// the leftovers of an interrupted attempt, one journal chunk per transaction; (2) claim the height
// with a marker holding a random writer token; (3) write chunks, each with its journal entry;
// (4) one small final transaction writes header, hash index, rejections and meta and clears
// `pending`. Every transaction first reads the meta key (the height fence; the read puts it in the
// conflict range) and, from (3) on, the marker: a second writer fails the fence or finds its token
// replaced. Nothing written before (4) is visible: readers read state at or below the committed
// height, and the chunked records are either reached through the header or filtered by height.
//
// Prune. The oldest readable height moves first, in its own transaction, and only then are the
// versions below it cleared, a slice of keys per transaction: every state read checks the oldest
// height in its own transaction, so a read either runs before the move and sees every version, or
// after it and is refused. A block's change list goes last, so an interrupted prune resumes there.
import { randomBytes } from 'node:crypto';
import * as fdb from 'foundationdb';
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

export const FDB_API_VERSION = 720;
const FORMAT_VERSION = 1;
const MAX_U64 = (1n << 64n) - 1n;
/** FDB refuses values over 100,000 bytes. */
const VALUE_PART_BYTES = 90_000;
/** State keys read per transaction; the batches of one request run concurrently. */
const READ_BATCH_KEYS = 1000;
const READ_MAX_CONCURRENT_BATCHES = 20;
/** Blocks whose logs are fetched per transaction while scanning a logs query. */
const LOGS_BATCH_BLOCKS = 64;
/** Bound on the chunks of one commit and on leftover journal chunks cleared before it. */
const MAX_CHUNKS = 100_000;
const WRITER_TOKEN_BYTES = 16;
/** Keys whose old versions one prune transaction clears (two range ends each, well under FDB's advised 1 MB). */
const PRUNE_KEYS_PER_TRANSACTION = 2_000;

export interface FdbBackendOptions {
  /** Path of the cluster file; empty = the client's default (FDB_CLUSTER_FILE or /etc/foundationdb). */
  clusterFile: string;
  /** Tuple-layer prefix of every key: one database can hold several chains (or test runs). */
  prefix: string;
  /** A block whose mutations exceed this is committed in chunks; FDB advises < 1 MB per transaction. */
  chunkMaxBytes?: number;
  /** Entries of the read cache (0 = no cache). */
  cacheMaxEntries?: number;
  /** Per transaction, including its retries (FDB's `timeout` option). */
  transactionTimeoutMs?: number;
  /** Retries of a retryable error per transaction (FDB's `retry_limit`), with FDB's backoff. */
  retryLimit?: number;
  maxRetryDelayMs?: number;
  /** Test hook: awaited after chunk `index` (0-based) of `count` is durably written. */
  onChunkCommitted?: (index: number, count: number) => Promise<void>;
  /** Test hook: awaited after a prune moved the oldest readable height to `height`, before it clears below it. */
  onOldestRaised?: (height: bigint) => Promise<void>;
}

export const FDB_DEFAULTS = {
  chunkMaxBytes: 512 * 1024,
  cacheMaxEntries: 200_000,
  transactionTimeoutMs: 5_000,
  retryLimit: 20,
  maxRetryDelayMs: 1_000,
} as const;

/** A FoundationDB operation failed after FDB's retries; `code` is FDB's error code when known. */
export class FdbBackendError extends Error {
  readonly code: number | undefined;
  constructor(readonly operation: string, cause: unknown) {
    const code = cause instanceof fdb.FDBError ? cause.code : undefined;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`foundationdb: ${operation} failed: ${detail}${code === undefined ? '' : ` (fdb error ${code})`}`, { cause });
    this.name = 'FdbBackendError';
    this.code = code;
  }
}

/** Another writer took over the pending height this commit was writing in chunks. */
export class CommitSupersededError extends Error {
  constructor(readonly height: bigint) {
    super(`commit of block ${height} superseded: another writer claimed the pending height`);
    this.name = 'CommitSupersededError';
  }
}

type Db = fdb.Database;
type Tn = fdb.Transaction;
type KV = [Buffer, Buffer];

let apiVersionSet = false;

function u64(value: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(value, 0);
  return out;
}

function slices(value: Buffer): Buffer[] {
  if (value.length === 0) return [value];
  const out: Buffer[] = [];
  for (let offset = 0; offset < value.length; offset += VALUE_PART_BYTES) out.push(value.subarray(offset, offset + VALUE_PART_BYTES));
  return out;
}

const bytesOf = (kvs: KV[]): number => kvs.reduce((n, [k, v]) => n + k.length + v.length, 0);

/** Key builders for one prefix. */
class Keys {
  readonly state: Buffer;
  private readonly headers: Buffer;
  private readonly blockHashes: Buffer;
  private readonly rejections: Buffer;
  private readonly blockTxs: Buffer;
  private readonly txs: Buffer;
  private readonly logBlooms: Buffer;
  private readonly logs: Buffer;
  private readonly changes: Buffer;
  readonly metaHead: Buffer;
  readonly metaFormat: Buffer;
  readonly metaOldest: Buffer;
  readonly pending: Buffer;
  readonly marker: Buffer;
  readonly journal: Buffer;
  readonly all: Buffer;

  constructor(prefix: string) {
    const sub = (name: string): Buffer => fdb.tuple.pack([prefix, name]);
    this.all = fdb.tuple.pack([prefix]);
    this.state = sub('state');
    this.headers = sub('headers');
    this.blockHashes = sub('blockHashes');
    this.rejections = sub('rejections');
    this.blockTxs = sub('blockTxs');
    this.txs = sub('txs');
    this.logBlooms = sub('logBlooms');
    this.logs = sub('logs');
    this.changes = sub('changes');
    const meta = sub('meta');
    this.metaHead = Buffer.concat([meta, fdb.tuple.pack(['head'])]);
    this.metaFormat = Buffer.concat([meta, fdb.tuple.pack(['format'])]);
    this.metaOldest = Buffer.concat([meta, fdb.tuple.pack(['oldest'])]);
    this.pending = sub('pending');
    this.marker = Buffer.concat([this.pending, fdb.tuple.pack(['marker'])]);
    this.journal = Buffer.concat([this.pending, fdb.tuple.pack(['journal'])]);
  }

  stateVersion(keyBytes: Buffer, height: bigint): Buffer {
    return Buffer.concat([this.state, keyBytes, u64(MAX_U64 - height)]);
  }
  stateEnd(keyBytes: Buffer): Buffer {
    return fdb.util.strInc(Buffer.concat([this.state, keyBytes]));
  }
  header(height: bigint): Buffer { return Buffer.concat([this.headers, fdb.tuple.pack([height])]); }
  blockHash(hash: Buffer): Buffer { return Buffer.concat([this.blockHashes, fdb.tuple.pack([hash])]); }
  rejection(txHash: Buffer): Buffer { return Buffer.concat([this.rejections, fdb.tuple.pack([txHash])]); }
  blockTxsOf(height: bigint): Buffer { return Buffer.concat([this.blockTxs, fdb.tuple.pack([height])]); }
  txOf(txHash: Buffer): Buffer { return Buffer.concat([this.txs, fdb.tuple.pack([txHash])]); }
  logBloom(height: bigint): Buffer { return Buffer.concat([this.logBlooms, fdb.tuple.pack([height])]); }
  logBloomRange(from: bigint, to: bigint): [Buffer, Buffer] { return [this.logBloom(from), fdb.util.strInc(this.logBloom(to))]; }
  heightOfLogBloom(key: Buffer): bigint { return BigInt(fdb.tuple.unpack(key.subarray(this.logBlooms.length))[0] as number | bigint); }
  logsOf(height: bigint): Buffer { return Buffer.concat([this.logs, fdb.tuple.pack([height])]); }
  changesOf(height: bigint): Buffer { return Buffer.concat([this.changes, fdb.tuple.pack([height])]); }
  journalChunk(chunk: number): Buffer { return Buffer.concat([this.journal, fdb.tuple.pack([chunk])]); }
}

/** A record cut into parts: (prefix, part) → slice. */
function parted(prefix: Buffer, value: Buffer): KV[] {
  return slices(value).map((slice, i) => [Buffer.concat([prefix, fdb.tuple.pack([i])]), slice]);
}

const rangeOf = (prefix: Buffer): [Buffer, Buffer] => [prefix, fdb.util.strInc(prefix)];
const joinParts = (kvs: [Buffer, Buffer][]): Buffer => (kvs.length === 1 ? kvs[0]![1] : Buffer.concat(kvs.map(([, v]) => v)));

interface EncodedBlock {
  /** Written in chunks for a large block (invisible until meta moves). */
  bulk: KV[];
  /** Written with meta in the last transaction. */
  final: KV[];
  meta: Buffer;
}

export class FdbStateBackend implements StateBackend {
  private readonly keys: Keys;
  private readonly cache: VersionedReadCache;
  private readonly chunkMaxBytes: number;
  /** The highest oldest-readable height this process has seen (another replica may have moved it further). */
  private oldestSeen = 0n;
  private closed = false;

  private constructor(private readonly db: Db, private readonly options: FdbBackendOptions) {
    this.keys = new Keys(options.prefix);
    this.cache = new VersionedReadCache(options.cacheMaxEntries ?? FDB_DEFAULTS.cacheMaxEntries);
    this.chunkMaxBytes = options.chunkMaxBytes ?? FDB_DEFAULTS.chunkMaxBytes;
    if (!(this.chunkMaxBytes > 0)) throw new Error(`chunkMaxBytes must be positive, got ${this.chunkMaxBytes}`);
  }

  /** Connects and checks the layout version; the database must be reachable within the timeout. */
  static async open(options: FdbBackendOptions): Promise<FdbStateBackend> {
    if (options.prefix === '') throw new Error('foundationdb: an empty key prefix is not allowed');
    if (!apiVersionSet) {
      fdb.setAPIVersion(FDB_API_VERSION);
      apiVersionSet = true;
    }
    let db: Db;
    try {
      db = fdb.open(options.clusterFile === '' ? undefined : options.clusterFile, {
        transaction_timeout: options.transactionTimeoutMs ?? FDB_DEFAULTS.transactionTimeoutMs,
        transaction_retry_limit: options.retryLimit ?? FDB_DEFAULTS.retryLimit,
        transaction_max_retry_delay: options.maxRetryDelayMs ?? FDB_DEFAULTS.maxRetryDelayMs,
      });
    } catch (err) {
      throw new FdbBackendError(`connect (cluster file '${options.clusterFile}')`, err);
    }
    const backend = new FdbStateBackend(db, options);
    try {
      const format = await backend.run(`open (cluster file '${options.clusterFile}')`, (tn) => tn.get(backend.keys.metaFormat));
      if (format !== undefined && format.readUInt32BE(0) !== FORMAT_VERSION) {
        throw new StateCorruptionError(`layout version ${format.readUInt32BE(0)}, this build reads ${FORMAT_VERSION}`, 'meta');
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return backend;
  }

  /** One transaction with FDB's retry loop (retryable errors, transaction_too_old: the body re-reads). */
  private async run<T>(operation: string, body: (tn: Tn) => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await this.db.doTn(body);
    } catch (err) {
      if (err instanceof fdb.FDBError) throw new FdbBackendError(operation, err);
      throw err;
    }
  }

  async meta(): Promise<StateMeta | null> {
    const head = await this.run('read meta', (tn) => tn.get(this.keys.metaHead));
    if (head === undefined) return null;
    const meta = decodeMeta(head);
    this.cache.observeCommitted(meta.height);
    return meta;
  }

  private async committedHeight(): Promise<bigint | null> {
    return (await this.meta())?.height ?? null;
  }

  async readAt(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]> {
    this.assertOpen();
    const known = this.cache.height;
    if (known === null || height > known) {
      const committed = await this.committedHeight();
      if (committed === null || height > committed) throw new HeightNotCommittedError(height, committed ?? -1n);
    }
    if (height < this.oldestSeen) throw new HeightPrunedError(height, this.oldestSeen);
    const out: (Buffer | null)[] = new Array(keys.length);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const hit = this.cache.get(keys[i]!, height);
      if (hit === undefined) missing.push(i);
      else out[i] = hit;
    }
    const batches: number[][] = [];
    for (let i = 0; i < missing.length; i += READ_BATCH_KEYS) batches.push(missing.slice(i, i + READ_BATCH_KEYS));
    for (let b = 0; b < batches.length; b += READ_MAX_CONCURRENT_BATCHES) {
      await Promise.all(batches.slice(b, b + READ_MAX_CONCURRENT_BATCHES).map(async (batch) => {
        const found = await this.readBatch(batch.map((i) => keys[i]!), height);
        batch.forEach((i, j) => {
          const { value, version } = found[j]!;
          out[i] = value;
          this.cache.remember(keys[i]!, height, value, version);
        });
      }));
    }
    return out;
  }

  /** One transaction: a concurrent limit-1 range read per key (newest version at or below `height`). */
  private async readBatch(keys: StateKey[], height: bigint): Promise<{ value: Buffer | null; version: bigint }[]> {
    const ranges = keys.map((key) => {
      const keyBytes = keyToBytes(key);
      const expected = STATE_KEY_BYTES[keyBytes[0] ?? -1];
      if (expected === undefined || keyBytes.length !== expected) throw new Error(`invalid state key ${keyHex(key)}`);
      return [this.keys.stateVersion(keyBytes, height), this.keys.stateEnd(keyBytes)] as const;
    });
    const [oldest, results] = await this.run(`read ${keys.length} state keys at height ${height}`, (tn) => Promise.all([
      tn.get(this.keys.metaOldest),
      Promise.all(ranges.map(([start, end]) => tn.getRangeAll(start, end, { limit: 1 }))),
    ]));
    // Read in the same transaction as the values: a prune that moved past `height` first is seen here.
    this.noteOldest(oldest);
    if (height < this.oldestSeen) throw new HeightPrunedError(height, this.oldestSeen);
    return results.map((rows, i) => {
      const row = rows[0];
      if (row === undefined) return { value: null, version: -1n };
      const [k, v] = row;
      const version = MAX_U64 - k.readBigUInt64BE(k.length - 8);
      if (v[0] === TAG_ABSENT) return { value: null, version };
      if (v[0] !== TAG_PRESENT) throw new StateCorruptionError(`bad value tag ${v[0]} for ${keys[i]}`, 'state');
      return { value: ownedCopy(v.subarray(1)), version };
    });
  }

  async commit(record: CommitRecord): Promise<CommitResult> {
    this.assertOpen();
    const encoded = this.encodeBlock(record); // everything that can throw on bad input, before any write
    const size = bytesOf(encoded.bulk) + bytesOf(encoded.final) + encoded.meta.length;
    let result: CommitResult | null = null;
    if (size <= this.chunkMaxBytes) result = await this.commitSingle(record, encoded);
    result ??= await this.commitChunked(record, encoded);
    this.cache.applyCommit(record.height, record.writes);
    return result;
  }

  /** The fence: the stored height must be height - 1. True when this very block is already stored. */
  private async fence(tn: Tn, record: CommitRecord, retry: boolean): Promise<boolean> {
    const head = await tn.get(this.keys.metaHead);
    const stored = head === undefined ? null : decodeMeta(head);
    const height = record.height;
    // commit_unknown_result: our earlier attempt may have landed; FDB retried, and finds it.
    if (retry && stored !== null && stored.height === height && stored.headHash.equals(record.header.hash)) return true;
    const ok = stored === null ? height === 0n : stored.height === height - 1n;
    if (!ok) throw new HeightFenceError(stored === null ? null : stored.height, height);
    return false;
  }

  /** Null when leftovers of an interrupted chunked commit must be cleared first (chunked path). */
  private async commitSingle(record: CommitRecord, encoded: EncodedBlock): Promise<CommitResult | null> {
    let attempt = 0;
    let lastStored: Rejection[] = [];
    return this.run(`commit block ${record.height}`, async (tn) => {
      attempt++;
      const [landed, leftovers] = await Promise.all([
        this.fence(tn, record, attempt > 1),
        tn.getRangeAll(...rangeOf(this.keys.pending), { limit: 1 }),
      ]);
      if (landed) return { rejectionsStored: lastStored };
      if (leftovers.length > 0) return null;
      for (const [k, v] of encoded.bulk) tn.set(k, v);
      lastStored = await this.writeFinal(tn, record, encoded);
      return { rejectionsStored: lastStored };
    });
  }

  private async commitChunked(record: CommitRecord, encoded: EncodedBlock): Promise<CommitResult> {
    const height = record.height;
    await this.clearLeftovers(record);
    const token = Buffer.concat([u64(height), randomBytes(WRITER_TOKEN_BYTES)]);
    await this.run(`claim pending block ${height}`, async (tn) => {
      const [, journal] = await Promise.all([this.fence(tn, record, false), tn.getRangeAll(...rangeOf(this.keys.journal), { limit: 1 })]);
      if (journal.length > 0) throw new CommitSupersededError(height); // another writer wrote a chunk meanwhile
      tn.set(this.keys.marker, token);
    });
    const chunks = this.chunksOf(encoded.bulk);
    if (chunks.length > MAX_CHUNKS) throw new Error(`block ${height} needs ${chunks.length} chunks, more than ${MAX_CHUNKS}`);
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      const journal = parted(this.keys.journalChunk(c), encodeFramed(chunk.map(([k]) => k)));
      await this.run(`write chunk ${c + 1}/${chunks.length} of block ${height}`, async (tn) => {
        await Promise.all([this.fence(tn, record, false), this.checkMarker(tn, token, height)]);
        for (const [k, v] of chunk) tn.set(k, v);
        for (const [k, v] of journal) tn.set(k, v);
      });
      await this.options.onChunkCommitted?.(c, chunks.length);
    }
    let attempt = 0;
    let lastStored: Rejection[] = [];
    return this.run(`publish block ${height} (final of ${chunks.length} chunks)`, async (tn) => {
      attempt++;
      const landed = await this.fence(tn, record, attempt > 1);
      if (landed) return { rejectionsStored: lastStored };
      await Promise.all([this.checkMarker(tn, token, height), this.checkChunks(tn, chunks.length, height)]);
      tn.clearRange(...rangeOf(this.keys.pending));
      lastStored = await this.writeFinal(tn, record, encoded);
      return { rejectionsStored: lastStored };
    });
  }

  private async checkMarker(tn: Tn, token: Buffer, height: bigint): Promise<void> {
    const marker = await tn.get(this.keys.marker);
    if (marker === undefined || !marker.equals(token)) throw new CommitSupersededError(height);
  }

  /**
   * Every chunk's journal is still there. Another writer racing for the same height takes this
   * commit's chunks for an interrupted commit's leftovers and clears them (clearLeftovers) before
   * it claims the marker: publishing then would show a block with writes missing. Reading each
   * chunk's first journal part also makes a concurrent clear conflict with the publish.
   */
  private async checkChunks(tn: Tn, chunkCount: number, height: bigint): Promise<void> {
    const firsts = await Promise.all(Array.from({ length: chunkCount }, (_, c) => tn.get(Buffer.concat([this.keys.journalChunk(c), fdb.tuple.pack([0])]))));
    if (firsts.some((part) => part === undefined)) throw new CommitSupersededError(height);
  }

  /** Clears what an interrupted chunked commit wrote: one journal chunk per transaction. */
  private async clearLeftovers(record: CommitRecord): Promise<void> {
    for (let round = 0; round <= MAX_CHUNKS; round++) {
      const done = await this.run(`clear leftovers before block ${record.height}`, async (tn) => {
        const [, first] = await Promise.all([this.fence(tn, record, false), tn.getRangeAll(...rangeOf(this.keys.journal), { limit: 1 })]);
        if (first.length === 0) {
          tn.clearRange(...rangeOf(this.keys.pending));
          return true;
        }
        const chunk = fdb.tuple.unpack(first[0]![0].subarray(this.keys.journal.length))[0] as number;
        const prefix = this.keys.journalChunk(chunk);
        const parts = await tn.getRangeAll(...rangeOf(prefix));
        for (const k of decodeFramed(joinParts(parts), 0, (b) => Buffer.from(b), 'pending journal')) tn.clear(k);
        tn.clearRange(...rangeOf(prefix));
        return false;
      });
      if (done) return;
    }
    throw new Error(`more than ${MAX_CHUNKS} leftover chunks before block ${record.height}`);
  }

  /** Groups mutations so each chunk plus its journal stays within chunkMaxBytes (a bigger single value goes alone). */
  private chunksOf(bulk: KV[]): KV[][] {
    const chunks: KV[][] = [];
    let current: KV[] = [];
    let bytes = 0;
    for (const kv of bulk) {
      const cost = 2 * kv[0].length + kv[1].length + 4;
      if (current.length > 0 && bytes + cost > this.chunkMaxBytes) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(kv);
      bytes += cost;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  /** Header, hash index, rejections (unless shadowed by a receipt) and meta: the step that publishes. */
  private async writeFinal(tn: Tn, record: CommitRecord, encoded: EncodedBlock): Promise<Rejection[]> {
    const includedHere = new Set(record.txs.map((tx) => tx.hash.toString('hex')));
    const candidates = record.rejections.filter((r) => !includedHere.has(r.txHash.toString('hex')));
    const included = await Promise.all(candidates.map((r) => tn.getRangeAll(...rangeOf(this.keys.txOf(r.txHash)), { limit: 1 })));
    const stored: Rejection[] = [];
    candidates.forEach((rejection, i) => {
      // A duplicate rejected after the included original must not shadow the original's receipt.
      if (included[i]!.length > 0) return;
      tn.set(this.keys.rejection(rejection.txHash), encodeMessage(Rejection, rejection));
      stored.push(rejection);
    });
    for (const [k, v] of encoded.final) tn.set(k, v);
    tn.set(this.keys.metaHead, encoded.meta);
    if (record.height === 0n) tn.set(this.keys.metaFormat, Buffer.from([0, 0, 0, FORMAT_VERSION]));
    return stored;
  }

  private encodeBlock(record: CommitRecord): EncodedBlock {
    const { header, height } = record;
    if (header.number !== height) throw new Error(`commit record: header number ${header.number} != height ${height}`);
    if (header.hash.length !== HASH_BYTES) throw new Error('commit record: header hash must be 32 bytes');
    if (record.receipts.length !== record.txs.length) {
      throw new Error(`commit record: ${record.txs.length} txs but ${record.receipts.length} receipts`);
    }
    if (record.lattice.length !== LATTICE_BYTES) throw new Error(`commit record: lattice must be ${LATTICE_BYTES} bytes`);
    const bulk: KV[] = record.writes.map((w) => {
      const keyBytes = writeKeyBytes(w);
      const expected = STATE_KEY_BYTES[keyBytes[0] ?? -1];
      if (expected === undefined || keyBytes.length !== expected) throw new Error(`invalid state key ${keyHex(w.key)}`);
      return [this.keys.stateVersion(keyBytes, height), taggedValue(w.value)];
    });
    bulk.push(...parted(this.keys.blockTxsOf(height), encodeFramed(record.txs.map((tx) => encodeMessage(Tx, tx)))));
    record.txs.forEach((tx, i) => {
      const receipt: Receipt = record.receipts[i]!;
      const lookup: TxLookup = { found: true, tx, receipt, blockNumber: height, blockHash: header.hash, rejection: undefined };
      bulk.push(...parted(this.keys.txOf(tx.hash), encodeMessage(TxLookup, lookup)));
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
    if (logEntries.length > 0) {
      bulk.push([this.keys.logBloom(height), bloom]);
      bulk.push(...parted(this.keys.logsOf(height), encodeFramed(logEntries)));
    }
    // Genesis's versions are the oldest of every key: no prune step ever starts from them.
    if (height > 0n && record.writes.length > 0) bulk.push(...parted(this.keys.changesOf(height), encodeChanges(record.writes)));
    const final: KV[] = [
      [this.keys.header(height), encodeMessage(BlockHeader, header)],
      [this.keys.blockHash(header.hash), u64(height)],
    ];
    const meta = encodeMeta({
      height, stateRoot: header.stateRoot, headHash: header.hash, lattice: record.lattice, lastTxStreamSeq: record.lastTxStreamSeq,
    });
    return { bulk, final, meta };
  }

  private noteOldest(stored: Buffer | undefined): bigint {
    const oldest = stored === undefined ? 0n : stored.readBigUInt64BE(0);
    if (oldest > this.oldestSeen) this.oldestSeen = oldest;
    return oldest;
  }

  async oldestReadable(): Promise<bigint> {
    return this.noteOldest(await this.run('read oldest readable height', (tn) => tn.get(this.keys.metaOldest)));
  }

  async prune(target: bigint, maxBlocks: number): Promise<PruneResult> {
    if (!(Number.isInteger(maxBlocks) && maxBlocks >= 1)) throw new Error(`prune: maxBlocks must be a positive integer, got ${maxBlocks}`);
    const committed = (await this.committedHeight()) ?? -1n;
    const goal = target < committed ? target : committed;
    let oldest = await this.oldestReadable();
    // A change list still there below the oldest height is a prune interrupted after the move.
    if (oldest > 0n) await this.clearBelow(oldest);
    let blocks = 0;
    while (oldest < goal && blocks < maxBlocks) {
      const from = oldest;
      const to = from + 1n;
      await this.run(`raise the oldest readable height to ${to}`, async (tn) => {
        const stored = await tn.get(this.keys.metaOldest);
        const now = stored === undefined ? 0n : stored.readBigUInt64BE(0);
        if (now !== from) throw new Error(`prune: oldest readable height moved to ${now} under this prune (another pruner?)`);
        tn.set(this.keys.metaOldest, u64(to));
      });
      oldest = to;
      this.noteOldest(u64(to));
      await this.options.onOldestRaised?.(to);
      await this.clearBelow(to);
      blocks++;
    }
    return { oldestReadable: oldest, blocks };
  }

  /** Clears what block `height`'s change list makes unreadable from `height` on, then the list. */
  private async clearBelow(height: bigint): Promise<void> {
    const list = this.keys.changesOf(height);
    const parts = await this.run(`read the change list of block ${height}`, (tn) => tn.getRangeAll(...rangeOf(list)));
    if (parts.length === 0) return;
    const changes = decodeChanges(joinParts(parts));
    for (let i = 0; i < changes.length; i += PRUNE_KEYS_PER_TRANSACTION) {
      const slice = changes.slice(i, i + PRUNE_KEYS_PER_TRANSACTION);
      await this.run(`prune ${slice.length} keys below block ${height}`, async (tn) => {
        for (const { keyBytes, deleted } of slice) {
          tn.clearRange(this.keys.stateVersion(keyBytes, height - 1n), this.keys.stateEnd(keyBytes));
          if (deleted) tn.clear(this.keys.stateVersion(keyBytes, height));
        }
      });
    }
    await this.run(`drop the change list of block ${height}`, async (tn) => tn.clearRange(...rangeOf(list)));
  }

  /**
   * Every state key with a stored version, for the key filter: the state subspace scanned in
   * transactions of `batchKeys` rows (each well inside FDB's 5 s), one key per run of versions.
   */
  async *stateKeys(batchKeys: number): AsyncIterable<StateKey[]> {
    this.assertOpen();
    let start = this.keys.state;
    const end = fdb.util.strInc(this.keys.state);
    const prefix = this.keys.state.length;
    let previous: Buffer | null = null;
    for (;;) {
      const from = start;
      const rows = await this.run('list state keys', (tn) => tn.getRangeAll(from, end, { limit: batchKeys }));
      const batch: StateKey[] = [];
      for (const [versioned] of rows) {
        const keyBytes = versioned.subarray(prefix, versioned.length - 8);
        if (previous !== null && previous.equals(keyBytes)) continue;
        previous = Buffer.from(keyBytes);
        batch.push(keyFromBytes(keyBytes));
      }
      if (batch.length > 0) yield batch;
      if (rows.length < batchKeys) return;
      start = Buffer.concat([rows[rows.length - 1]![0], Buffer.from([0])]); // the next key after the last
    }
  }

  /** Stored state versions, every key and height: a scan of the whole state, for tests and diagnostics. */
  async stateVersionCount(): Promise<number> {
    let count = 0;
    let start = this.keys.state;
    const end = fdb.util.strInc(this.keys.state);
    for (;;) {
      const rows = await this.run('count state versions', (tn) => tn.getRangeAll(start, end, { limit: 10_000 }));
      count += rows.length;
      if (rows.length < 10_000) return count;
      start = Buffer.concat([rows[rows.length - 1]![0], Buffer.from([0])]); // the next key after the last
    }
  }

  async getBlock(number: bigint): Promise<StoredBlock | null> {
    // The header is written with meta, so its presence means the block is committed.
    const [header, txParts] = await this.run(`read block ${number}`, (tn) => Promise.all([
      tn.get(this.keys.header(number)), tn.getRangeAll(...rangeOf(this.keys.blockTxsOf(number))),
    ]));
    if (header === undefined) return null;
    if (txParts.length === 0) throw new StateCorruptionError(`block ${number} has a header but no tx list`, 'blockTxs');
    return { header: BlockHeader.decode(header), txs: decodeFramed(joinParts(txParts), 0, (b) => Tx.decode(b), 'blockTxs') };
  }

  async getBlockNumberByHash(hash: Buffer): Promise<bigint | null> {
    const value = await this.run('read block hash index', (tn) => tn.get(this.keys.blockHash(hash)));
    return value === undefined ? null : value.readBigUInt64BE(0);
  }

  async getTxRecords(hashes: Buffer[]): Promise<(TxRecord | null)[]> {
    const out: (TxRecord | null)[] = [];
    for (let i = 0; i < hashes.length; i += READ_BATCH_KEYS) {
      const batch = hashes.slice(i, i + READ_BATCH_KEYS);
      const [head, lookups, rejections] = await this.run(`look up ${batch.length} transactions`, (tn) => Promise.all([
        tn.get(this.keys.metaHead),
        Promise.all(batch.map((h) => tn.getRangeAll(...rangeOf(this.keys.txOf(h))))),
        Promise.all(batch.map((h) => tn.get(this.keys.rejection(h)))),
      ]));
      const committed = head === undefined ? -1n : decodeMeta(head).height;
      batch.forEach((_, j) => out.push(this.txRecordOf(lookups[j]!, rejections[j], committed)));
    }
    return out;
  }

  private txRecordOf(parts: [Buffer, Buffer][], rejected: Buffer | undefined, committed: bigint): TxRecord | null {
    if (parts.length > 0) {
      const lookup = TxLookup.decode(joinParts(parts));
      if (lookup.tx === undefined || lookup.receipt === undefined) throw new StateCorruptionError('tx lookup without tx or receipt', 'txs');
      // Written in a chunk of a block not yet published: not included (yet).
      if (lookup.blockNumber <= committed) {
        return { kind: 'included', tx: lookup.tx, receipt: lookup.receipt, blockNumber: lookup.blockNumber, blockHash: lookup.blockHash };
      }
    }
    return rejected === undefined ? null : { kind: 'rejected', rejection: Rejection.decode(rejected) };
  }

  async getLogs(query: LogQuery): Promise<LogMatch[]> {
    const filter = compileLogFilter({ addresses: query.addresses, topics: query.topics });
    const [head, blooms] = await this.run(`read log blooms of blocks ${query.fromBlock}..${query.toBlock}`, (tn) => Promise.all([
      tn.get(this.keys.metaHead), tn.getRangeAll(...this.keys.logBloomRange(query.fromBlock, query.toBlock)),
    ]));
    const committed = head === undefined ? -1n : decodeMeta(head).height;
    const heights: bigint[] = [];
    for (const [k, bloom] of blooms) {
      const height = this.keys.heightOfLogBloom(k);
      if (height <= committed && bloomMayMatch(filter, bloom)) heights.push(height);
    }
    const out: LogMatch[] = [];
    for (let i = 0; i < heights.length; i += LOGS_BATCH_BLOCKS) {
      const batch = heights.slice(i, i + LOGS_BATCH_BLOCKS);
      const perBlock = await this.run(`read logs of ${batch.length} blocks from ${batch[0]}`, (tn) =>
        Promise.all(batch.map((h) => tn.getRangeAll(...rangeOf(this.keys.logsOf(h))))));
      for (const parts of perBlock) {
        if (collectLogs(joinParts(parts), 0, (log) => logMatches(filter.criteria, log), out, query.maxResults)) return out;
      }
    }
    return out;
  }

  /** Deletes every key under this backend's prefix (tests and benchmarks). */
  async destroyAll(): Promise<void> {
    await this.run(`clear prefix '${this.options.prefix}'`, async (tn) => tn.clearRange(...rangeOf(this.keys.all)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('state backend is closed');
  }
}
