// The state service's logic, without NATS: the single source of truth for committed state. It
// writes genesis as block 0, applies each executed block atomically and exactly once (fenced by
// height, recognised by ordered digest), keeps the LtHash state root, and answers reads at any
// committed height plus block, transaction and log queries. Every answer that has an `error`
// field carries the failure there instead of throwing across the bus.
//
// Commits are serialised here (one at a time, in arrival order) because the root accumulator,
// the head header and the committed height live in memory between commits. The history window
// (retainBlocks) is kept on the same queue: after a commit has answered, a prune step of
// PRUNE_BLOCKS_PER_STEP blocks once that many have left the window.
import type {
  BlockCommitted, BlockRequest, BlockResponse, CommitRequest, CommitResponse, HeadResponse, LogsRequest,
  LogsResponse, StateReadRequest, StateReadResponse, TxLookup, TxLookupRequest, TxLookupResponse, KeyFilterResponse,
} from '../../gen/lanes/v1/bus.js';
import type { BlockHeader, Rejection, StateEntry } from '../../gen/lanes/v1/types.js';
import { ADDRESS_BYTES, BLOOM_BYTES, HASH_BYTES, blockBodyRoots, buildBlockHeader, genesisHeader } from '../../lib/chain/block.js';
import { genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import type { Logger } from '../../lib/log.js';
import {
  ACCOUNT_VALUE_BYTES, KEY_ACCOUNT, KEY_CODE, KEY_STORAGE, decodeAccount, isEmptyAccount, keyFromBytes, keyHex,
  type StateKey,
} from '../../lib/state/keys.js';
import { LATTICE_BYTES, StateRootAccumulator, type RootChange } from '../../lib/state/root.js';
import { KEY_FILTER_FORM, KeyFilter, KeyHashes } from '../../lib/state/keyFilter.js';
import { RootHashers } from '../../lib/state/rootHashers.js';
import { EntryDigests } from '../../lib/state/entryDigests.js';
import { HeightFenceError, HeightPrunedError, StateCorruptionError, type StateBackend, type StateWrite } from './backend.js';

export interface StateServiceLimits {
  /** Keys per read request, and hashes per tx lookup. */
  maxReadKeys: number;
  /** Widest block range of one logs query. */
  maxLogsRange: number;
  /** Most logs one query returns. */
  maxLogs: number;
}

/** Addresses, and alternatives per topic position, in one logs filter. */
export const MAX_LOG_FILTER_ITEMS = 1024;
export const MAX_TOPIC_POSITIONS = 4;

export interface StateServiceOptions {
  backend: StateBackend;
  genesis: Genesis;
  limits: StateServiceLimits;
  log: Logger;
  /** Called after each block is durably committed (main.ts publishes it); must not throw. */
  onCommitted?: (event: BlockCommitted) => void;
  /**
   * Committed heights whose state stays readable (LANES_STATE_RETAIN_BLOCKS): reads at older
   * heights are refused and their superseded versions removed. 0 = keep every version (archive).
   */
  retainBlocks?: number;
  /**
   * LANES_STATE_ROLE. 'writer' (default): commits blocks and writes genesis. 'reader': a replica
   * over the writer's store (FoundationDB) that only answers reads and queries, follows the
   * writer's commits (follow(), from the committed-block broadcast) and, asked for a height it has
   * not heard of yet, reads the store's head before answering.
   */
  role?: 'writer' | 'reader';
  /**
   * LANES_STATE_ROOT_THREADS (1 in config): worker threads that hash the root's entries
   * (rootHashers.ts) while the commit's other work runs. 0 or absent = on the service's own thread.
   */
  rootThreads?: number;
  /** The root threads' compiled worker (tests: a broken one); default rootHashers.ts's. */
  rootWorkerFile?: string;
  /**
   * LANES_STATE_ROOT_DIGESTS (32,768 in config): entry digests remembered for the root, 2 KB each
   * (entryDigests.ts), shared out among the root threads; the service thread keeps its own for
   * what it hashes (all of it without threads; else at most SERVICE_THREAD_DIGESTS). 0 or absent = none.
   */
  rootDigests?: number;
  /**
   * Keep a filter of every state key ever written (keyFilter.ts) for the scheduler, built from the
   * store in the background from open (default true; a writer only, and only where the backend
   * lists its keys).
   */
  keyFilter?: boolean;
}

/** Remembered entry digests on the service thread when root threads hash the large blocks (small blocks and fallbacks are its share). */
const SERVICE_THREAD_DIGESTS = 4_096;

/** A key filter larger than this many keys (10 bits each) would not fit in one NATS message (MAX_PAYLOAD_BYTES). */
export const MAX_KEY_FILTER_KEYS = 6_000_000;
/** Keys read per batch while building the key filter. */
const KEY_FILTER_SCAN_BATCH = 10_000;

/** A reader opened on a store the writer has not written genesis to yet. */
export class StoreNotReadyError extends Error {
  constructor() {
    super('state store is empty: a reader (LANES_STATE_ROLE=reader) starts after the writer has written genesis');
    this.name = 'StoreNotReadyError';
  }
}

/**
 * Blocks one prune step removes, once that many are due. Not one per commit: a prune costs about
 * what the commit's store write did per key, and lmdb's fsync per transaction doubled that at one
 * block per step (27 µs per key against 13.5 at 4–8 blocks, 2,000-key blocks). Not many: a step
 * blocks lmdb's writer (and so the next commit) for about as long as a commit of that many blocks'
 * writes takes, ≈ 50 ms per 4,000 keys here.
 */
export const PRUNE_BLOCKS_PER_STEP = 4;

/**
 * A read at the height being committed (the scheduler runs a block while the one before commits,
 * so a cache that started over asks for a height one ahead) waits for that commit this long, and
 * at most this many wait at once; past either, it is refused as not committed.
 */
export const NEXT_HEIGHT_WAIT_MS = 2_000;
export const MAX_NEXT_HEIGHT_WAITERS = 256;

/** The configured genesis does not match block 0 in the store: wrong data dir or genesis file. */
export class GenesisMismatchError extends Error {
  constructor(readonly storedHash: Buffer, readonly configuredHash: Buffer) {
    super(`stored genesis block 0x${storedHash.toString('hex')} differs from the configured genesis 0x${configuredHash.toString('hex')}; ` +
      'point LANES_DATA_DIR at an empty directory or use the genesis this store was created with');
    this.name = 'GenesisMismatchError';
  }
}

/** A request that exceeds a limit on a subject whose reply has no error field. */
export class StateRequestError extends Error {
  constructor(message: string, readonly subject: string) {
    super(message);
    this.name = 'StateRequestError';
  }
}

interface Head {
  height: bigint;
  header: BlockHeader;
  accumulator: StateRootAccumulator;
  lastTxStreamSeq: bigint;
}

const STATE_KEY_BYTES: Record<number, number> = { [KEY_ACCOUNT]: 21, [KEY_STORAGE]: 53, [KEY_CODE]: 33 };
const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The `error` of a state key that is malformed, or '' when it is well formed. */
export function stateKeyError(key: Uint8Array): string {
  const expected = STATE_KEY_BYTES[key[0] ?? -1];
  if (expected === undefined) return `unknown state key kind 0x${(key[0] ?? 0).toString(16)}`;
  if (key.length !== expected) return `state key of kind ${key[0]} must be ${expected} bytes, got ${key.length}`;
  return '';
}

/**
 * The canonical form of a write (lib/state/keys.ts): a zero storage value and an empty account are
 * absent, so the root does not depend on how a writer spelt "nothing". Returns an error string for
 * a malformed value.
 */
function canonicalWrite(entry: StateEntry): StateWrite | string {
  const keyProblem = stateKeyError(entry.key);
  if (keyProblem !== '') return keyProblem;
  const key = keyFromBytes(entry.key);
  const keyBytes = entry.key;
  if (entry.absent) return { key, keyBytes, value: null };
  const value = entry.value;
  switch (entry.key[0]) {
    case KEY_ACCOUNT:
      if (value.length !== ACCOUNT_VALUE_BYTES) return `account ${keyHex(key)}: value must be ${ACCOUNT_VALUE_BYTES} bytes, got ${value.length}`;
      return { key, keyBytes, value: isEmptyAccount(decodeAccount(value)) ? null : value };
    case KEY_STORAGE:
      if (value.length !== 32) return `storage ${keyHex(key)}: value must be 32 bytes, got ${value.length}`;
      return { key, keyBytes, value: value.every((b) => b === 0) ? null : value };
    default:
      return { key, keyBytes, value };
  }
}

export class StateService {
  private current: Head;
  private commitQueue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Reads waiting for the next commit (waitForNextHeight). */
  private readonly nextHeightWaiters = new Set<() => void>();
  private readonly rootHashers: RootHashers | null;
  /** A failed root thread is logged once, until one works again. */
  private rootThreadsFailing = false;
  /** Blocks whose root the threads hashed, and blocks the threads failed and this thread hashed. */
  readonly rootStats = { threadBlocks: 0, fallbackBlocks: 0 };

  /** Entry digests the service thread remembers for the root (entryDigests.ts). */
  private readonly rootDigests: EntryDigests | undefined;

  /** Time the root threads spent hashing, ms (their CPU, which the process's own accounting also counts). */
  get rootThreadMs(): number {
    return this.rootHashers?.threadMs ?? 0;
  }

  /** Every key ever written, up to the committed height; null: none (a reader, too large, not supported, not built yet). */
  private keyFilter: KeyFilter | null = null;
  /** Why there is no key filter, for the scheduler's request. */
  private keyFilterMissing = 'not built';
  /** The build in progress (at open, or of a larger filter once the current one fills). */
  private keyFilterBuild: Promise<void> | null = null;
  /** Keys of the blocks committed while a build scans the store, which the scan may not see. */
  private keyFilterPending: KeyHashes | null = null;

  private constructor(private readonly options: StateServiceOptions, head: Head, private oldestReadable: bigint) {
    this.current = head;
    const threads = options.role === 'reader' ? 0 : options.rootThreads ?? 0;
    const digests = options.role === 'reader' ? 0 : options.rootDigests ?? 0;
    this.rootHashers = threads > 0 ? new RootHashers(threads, options.rootWorkerFile, digests) : null;
    const own = threads > 0 ? Math.min(digests, SERVICE_THREAD_DIGESTS) : digests;
    this.rootDigests = own > 0 ? new EntryDigests(own, LATTICE_BYTES) : undefined;
  }

  /** Old entries whose root digest was remembered (no digest computed) and those computed, threads included. */
  get rootDigestStats(): { hits: number; misses: number } {
    const threads = this.rootHashers?.digestStats ?? { hits: 0, misses: 0 };
    return { hits: threads.hits + (this.rootDigests?.hits ?? 0), misses: threads.misses + (this.rootDigests?.misses ?? 0) };
  }

  /** Opens the store, writing genesis as block 0 when it is empty. */
  static async open(options: StateServiceOptions): Promise<StateService> {
    const { backend, genesis, log } = options;
    const entries = genesisStateEntries(genesis);
    const keys = [...entries.keys()].sort();
    const accumulator = new StateRootAccumulator();
    for (const key of keys) accumulator.update(key, null, entries.get(key)!);
    const header0 = genesisHeader(genesis, accumulator.root());
    let meta = await backend.meta();
    if (meta === null && options.role === 'reader') throw new StoreNotReadyError();
    if (meta === null) {
      await backend.commit({
        height: 0n, header: header0, txs: [], receipts: [], rejections: [],
        writes: keys.map((key) => ({ key, value: entries.get(key)! })),
        lattice: accumulator.serialize(), lastTxStreamSeq: 0n,
      });
      log.info({ genesisHash: header0.hash.toString('hex'), entries: keys.length }, 'wrote genesis block');
      meta = await backend.meta();
      if (meta === null) throw new StateCorruptionError('no meta after writing genesis', 'meta');
    }
    const stored0 = await backend.getBlock(0n);
    if (stored0 === null) throw new StateCorruptionError('meta present but block 0 missing', 'headers');
    if (!stored0.header.hash.equals(header0.hash)) throw new GenesisMismatchError(stored0.header.hash, header0.hash);
    const headBlock = await backend.getBlock(meta.height);
    if (headBlock === null) throw new StateCorruptionError(`head block ${meta.height} missing`, 'headers');
    const headAccumulator = new StateRootAccumulator(meta.lattice);
    if (!headAccumulator.root().equals(headBlock.header.stateRoot) || !meta.stateRoot.equals(headBlock.header.stateRoot)) {
      throw new StateCorruptionError(`lattice does not hash to the state root of block ${meta.height}`, 'meta');
    }
    log.info({ height: meta.height.toString(), headHash: headBlock.header.hash.toString('hex') }, 'state opened');
    const head = { height: meta.height, header: headBlock.header, accumulator: headAccumulator, lastTxStreamSeq: meta.lastTxStreamSeq };
    const service = new StateService(options, head, await backend.oldestReadable());
    if (options.role !== 'reader' && options.keyFilter !== false) service.startKeyFilterBuild();
    return service;
  }

  get height(): bigint {
    return this.current.height;
  }

  /**
   * Starts building a key filter from the store's keys, sized for twice as many, in the
   * background: commits and reads go on meanwhile (a scan of millions of keys on FoundationDB
   * takes tens of seconds, which a service that built it before serving spent unavailable). The
   * filter only has to hold a superset of the keys written up to its height, so the scan needs
   * no snapshot: a block committed before the scan starts is in the store, and the keys of every
   * block committed after it are kept aside (keyFilterPending) and added at the end. A filter
   * already in use (a full one) serves until the new one replaces it.
   */
  private startKeyFilterBuild(): void {
    if (this.keyFilterBuild !== null || this.closed) return;
    const { backend, log } = this.options;
    if (backend.stateKeys === undefined) {
      this.keyFilterMissing = 'this state backend does not list its keys';
      return;
    }
    if (this.keyFilter === null) this.keyFilterMissing = 'still building';
    const pending = new KeyHashes(MAX_KEY_FILTER_KEYS + 1);
    this.keyFilterPending = pending;
    this.keyFilterBuild = this.buildKeyFilter(pending)
      .catch((err: unknown) => {
        this.keyFilter = null;
        this.keyFilterMissing = `building failed: ${errorMessage(err)}`;
        log.warn({ err }, 'building the key filter failed; the scheduler reads absent keys from the store');
      })
      .finally(() => {
        this.keyFilterBuild = null;
        this.keyFilterPending = null;
      });
  }

  private async buildKeyFilter(pending: KeyHashes): Promise<void> {
    const { backend, log } = this.options;
    const started = performance.now();
    const scanned = new KeyHashes(MAX_KEY_FILTER_KEYS + 1);
    for await (const batch of backend.stateKeys!(KEY_FILTER_SCAN_BATCH)) {
      if (this.closed) return;
      for (const key of batch) scanned.add(key);
      if (scanned.length + pending.length > MAX_KEY_FILTER_KEYS) break;
      // lmdb lists its keys synchronously: let commits and reads in between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.closed) return;
    // Keys in both are counted twice: the filter comes out a little larger, never too small.
    const keys = scanned.length + pending.length;
    if (keys > MAX_KEY_FILTER_KEYS) {
      this.keyFilter = null;
      this.keyFilterMissing = `more than ${MAX_KEY_FILTER_KEYS} state keys: a filter would not fit in one message`;
      log.info({ keys: `>${MAX_KEY_FILTER_KEYS}` }, 'no key filter: too many state keys');
      return;
    }
    // From here to the swap nothing awaits, so no commit lands in between: the filter holds
    // every key up to the committed height.
    const filter = KeyFilter.create(Math.min(MAX_KEY_FILTER_KEYS, 2 * keys), this.current.height);
    filter.addAll(scanned);
    filter.addAll(pending);
    this.keyFilter = filter;
    log.info({
      keys: filter.added, duringScan: pending.length, height: filter.height.toString(), capacity: filter.capacity,
      bytes: KeyFilter.bytesFor(filter.capacity), ms: Math.round(performance.now() - started),
    }, 'key filter built');
  }

  /** Resolves once no key filter build is in progress (tests, and close). */
  async keyFilterSettled(): Promise<void> {
    while (this.keyFilterBuild !== null) await this.keyFilterBuild;
  }

  /** The key filter for the scheduler (lanes.state.keyfilter). */
  keyFilterResponse(): KeyFilterResponse {
    const filter = this.keyFilter;
    if (filter === null) return { height: 0n, added: 0n, capacity: 0n, hashes: 0, bits: Buffer.alloc(0), error: `no key filter: ${this.keyFilterMissing}`, building: this.keyFilterBuild !== null, keyForm: KEY_FILTER_FORM };
    const data = filter.data();
    return {
      height: data.height, added: BigInt(data.added), capacity: BigInt(data.capacity), hashes: data.hashes,
      bits: Buffer.from(data.bits.buffer, data.bits.byteOffset, data.bits.byteLength), error: '', building: false, keyForm: KEY_FILTER_FORM,
    };
  }

  /** A committed block's keys into the key filter and any build in progress; a full filter starts a larger one. */
  private noteKeys(height: bigint, writes: readonly StateWrite[]): void {
    const pending = this.keyFilterPending;
    if (pending !== null) for (const w of writes) pending.add(w.key);
    const filter = this.keyFilter;
    if (filter === null) return;
    if (!filter.addBlock(height, writes.map((w) => w.key))) {
      this.keyFilter = null;
      this.keyFilterMissing = `it missed block ${height}`;
      return;
    }
    if (filter.full && filter.capacity < MAX_KEY_FILTER_KEYS) this.startKeyFilterBuild();
  }

  /** The lowest height reads are served at, as this service last pruned to (or opened at). */
  get oldestReadableHeight(): bigint {
    return this.oldestReadable;
  }

  get headHeader(): BlockHeader {
    return this.current.header;
  }

  /** Applies one executed block; a retry of a committed block answers its stored header. */
  commitBlock(req: CommitRequest): Promise<CommitResponse> {
    if (this.options.role === 'reader') {
      return Promise.resolve({ header: undefined, alreadyCommitted: false, error: 'this state service is a reader (LANES_STATE_ROLE=reader): commits go to the writer' });
    }
    const run = this.commitQueue.then(() => this.commitOne(req));
    this.commitQueue = run.catch(() => undefined).then(() => this.pruneStep());
    return run;
  }

  /** Keeps the history window: never throws (a failed step is logged, and the next commit retries). */
  private async pruneStep(): Promise<void> {
    const retain = BigInt(this.options.retainBlocks ?? 0);
    if (retain === 0n || this.closed) return;
    const target = this.current.height - retain;
    if (target - this.oldestReadable < BigInt(PRUNE_BLOCKS_PER_STEP)) return;
    try {
      const res = await this.options.backend.prune(target, PRUNE_BLOCKS_PER_STEP);
      this.oldestReadable = res.oldestReadable;
      if (res.blocks > 0) this.options.log.debug({ oldestReadable: res.oldestReadable.toString(), blocks: res.blocks }, 'state pruned');
    } catch (err) {
      this.options.log.warn({ err, target: target.toString() }, 'pruning old state versions failed; the next commit retries');
    }
  }

  private async commitOne(req: CommitRequest): Promise<CommitResponse> {
    const fail = (error: string): CommitResponse => {
      this.options.log.warn({ height: req.env?.number.toString(), error }, 'commit refused');
      return { header: undefined, alreadyCommitted: false, error };
    };
    if (this.closed) return fail('state service is shutting down');
    const env = req.env;
    if (env === undefined) return fail('commit without a block env');
    if (req.orderedDigest.length !== HASH_BYTES) return fail(`ordered digest must be ${HASH_BYTES} bytes`);
    const height = env.number;
    const committed = this.current.height;
    if (height <= committed) {
      try {
        return await this.answerRetry(height, req.orderedDigest, fail);
      } catch (err) {
        this.options.log.error({ err, height: height.toString() }, 'reading a committed block failed');
        return fail(`cannot check block ${height} against the stored one: ${errorMessage(err)}`);
      }
    }
    if (height !== committed + 1n) return fail(`block ${height} does not follow committed block ${committed} (gap)`);
    if (env.chainId !== this.options.genesis.chainId) return fail(`chain id ${env.chainId} != ${this.options.genesis.chainId}`);
    const t0 = performance.now();
    const problem = this.checkBody(req);
    if (problem !== '') return fail(problem);

    const writes: StateWrite[] = [];
    const seen = new Set<StateKey>();
    for (const entry of req.writes) {
      const write = canonicalWrite(entry);
      if (typeof write === 'string') return fail(write);
      if (seen.has(write.key)) return fail(`key ${keyHex(write.key)} written twice in one block`);
      seen.add(write.key);
      writes.push(write);
    }
    try {
      const t1 = performance.now();
      const before = await this.options.backend.readAt(writes.map((w) => w.key), committed);
      const t2 = performance.now();
      const accumulator = this.current.accumulator.clone();
      const txHashes = req.txs.map((tx) => tx.hash);
      // With root threads, the body's roots are computed while the threads hash the state's entries.
      let body: ReturnType<typeof blockBodyRoots> | undefined;
      await this.updateRoot(accumulator, writes.map((w, i): RootChange => ({ key: w.key, keyBytes: w.keyBytes, before: before[i]!, after: w.value })), () => {
        body = blockBodyRoots(txHashes, req.receipts);
      });
      const t3 = performance.now();
      const header = buildBlockHeader({
        env, parentHash: this.current.header.hash, stateRoot: accumulator.root(),
        txHashes, receipts: req.receipts, orderedDigest: req.orderedDigest, ...(body === undefined ? {} : { body }),
      });
      const t4 = performance.now();
      const rejections: Rejection[] = req.rejections.map((r) => ({ ...r, height }));
      const { rejectionsStored } = await this.options.backend.commit({
        height, header, txs: req.txs, receipts: req.receipts, rejections, writes,
        lattice: accumulator.serialize(), lastTxStreamSeq: req.lastTxStreamSeq,
      });
      const t5 = performance.now();
      this.current = { height, header, accumulator, lastTxStreamSeq: req.lastTxStreamSeq };
      this.noteKeys(height, writes);
      this.wakeNextHeightWaiters();
      this.options.onCommitted?.({ header, txHashes: req.txs.map((tx) => tx.hash), rejections: rejectionsStored });
      const t6 = performance.now();
      // Where a commit's time goes (the scheduler waits for all of it before the next block).
      const ms = (from: number, to: number): number => Math.round((to - from) * 10) / 10;
      this.options.log.debug({
        height: height.toString(), writes: writes.length, checkMs: ms(t0, t1), beforeImagesMs: ms(t1, t2), rootMs: ms(t2, t3),
        headerMs: ms(t3, t4), storeMs: ms(t4, t5), publishMs: ms(t5, t6),
      }, 'block committed');
      return { header, alreadyCommitted: false, error: '' };
    } catch (err) {
      if (err instanceof HeightFenceError) return fail(`${err.message}: another writer committed this height`);
      this.options.log.error({ err, height: height.toString() }, 'commit failed');
      return { header: undefined, alreadyCommitted: false, error: `commit of block ${height} failed: ${errorMessage(err)}` };
    }
  }

  /**
   * Applies `changes` to `accumulator`: on the root threads when there are any and the block is
   * large enough, running `meanwhile` on this thread while they hash; else here. A failed thread
   * costs time, never the result: its block is hashed here.
   */
  private async updateRoot(accumulator: StateRootAccumulator, changes: RootChange[], meanwhile: () => void): Promise<void> {
    const hashers = this.rootHashers;
    if (hashers !== null && hashers.worthIt(changes.length)) {
      const delta = hashers.delta(changes);
      delta.catch(() => undefined); // awaited below; meanwhile() must not leave it unhandled
      meanwhile();
      try {
        accumulator.addLattice(await delta);
        this.rootStats.threadBlocks++;
        if (this.rootThreadsFailing) this.options.log.info('root threads work again');
        this.rootThreadsFailing = false;
        return;
      } catch (err) {
        if (!this.rootThreadsFailing) this.options.log.warn({ err }, 'root threads failed; hashing this block on the service thread');
        this.rootThreadsFailing = true;
        this.rootStats.fallbackBlocks++;
      }
    }
    for (const c of changes) accumulator.update(c.key, c.before, c.after, this.rootDigests);
  }

  private async answerRetry(height: bigint, digest: Buffer, fail: (e: string) => CommitResponse): Promise<CommitResponse> {
    const stored = await this.options.backend.getBlock(height);
    if (stored === null) throw new StateCorruptionError(`committed block ${height} missing`, 'headers');
    if (!stored.header.orderedDigest.equals(digest)) {
      return fail(`block ${height} is already committed with ordered digest 0x${stored.header.orderedDigest.toString('hex')}, ` +
        `not 0x${digest.toString('hex')}`);
    }
    return { header: stored.header, alreadyCommitted: true, error: '' };
  }

  /** Cheap consistency checks of txs against receipts; the deep ones are the executors' job. */
  private checkBody(req: CommitRequest): string {
    if (req.receipts.length !== req.txs.length) return `${req.txs.length} txs but ${req.receipts.length} receipts`;
    let cumulativeGasUsed = 0n;
    let logIndex = 0;
    for (let i = 0; i < req.txs.length; i++) {
      const tx = req.txs[i]!;
      const r = req.receipts[i]!;
      if (tx.hash.length !== HASH_BYTES) return `tx ${i}: hash must be ${HASH_BYTES} bytes`;
      if (!r.txHash.equals(tx.hash)) return `receipt ${i} is for tx 0x${r.txHash.toString('hex')}, not 0x${tx.hash.toString('hex')}`;
      if (r.txIndex !== i) return `receipt ${i} has tx index ${r.txIndex}`;
      cumulativeGasUsed += r.gasUsed;
      if (r.cumulativeGasUsed !== cumulativeGasUsed) return `receipt ${i}: cumulative gas ${r.cumulativeGasUsed} != ${cumulativeGasUsed}`;
      if (r.firstLogIndex !== logIndex) return `receipt ${i}: first log index ${r.firstLogIndex} != ${logIndex}`;
      if (r.logsBloom.length !== BLOOM_BYTES) return `receipt ${i}: logs bloom must be ${BLOOM_BYTES} bytes`;
      logIndex += r.logs.length;
    }
    return '';
  }

  /** A reader: the writer committed `header` (from the committed-block broadcast). */
  follow(header: BlockHeader): void {
    if (this.options.role !== 'reader' || header.number <= this.current.height) return;
    this.current = { ...this.current, height: header.number, header };
  }

  /**
   * A reader asked for a height beyond the last commit it heard of, or for the latest (the
   * broadcast is not delivered in order with requests, nor at all to a reader that was away): one
   * read of the store's head, so that height is served if the writer has committed it, and
   * "latest" is the writer's latest, not an old one (ingress checks nonces at the latest height).
   */
  private async catchUp(height: bigint | 'latest'): Promise<void> {
    if (this.options.role !== 'reader' || (height !== 'latest' && height <= this.current.height)) return;
    const meta = await this.options.backend.meta();
    if (meta === null || meta.height <= this.current.height) return;
    const head = await this.options.backend.getBlock(meta.height);
    if (head !== null) this.follow(head.header);
  }

  /** Committed values at a height (0 = latest), in key order. */
  async read(req: StateReadRequest): Promise<StateReadResponse> {
    const fail = (error: string, oldestReadable = 0n): StateReadResponse => ({ height: req.height, entries: [], error, oldestReadable });
    if (req.keys.length > this.options.limits.maxReadKeys) {
      return fail(`too many keys: ${req.keys.length} > limit ${this.options.limits.maxReadKeys}`);
    }
    await this.catchUp(req.latest ? 'latest' : req.height);
    let committed = this.current.height;
    const height = req.latest ? committed : req.height;
    if (height > committed && await this.waitForNextHeight(height)) committed = this.current.height;
    if (height > committed) return fail(`height ${height} is not committed yet (committed: ${committed})`);
    const keys: StateKey[] = [];
    for (let i = 0; i < req.keys.length; i++) {
      const problem = stateKeyError(req.keys[i]!);
      if (problem !== '') return fail(`key ${i}: ${problem}`);
      keys.push(keyFromBytes(req.keys[i]!));
    }
    try {
      const values = await this.options.backend.readAt(keys, height);
      const entries = values.map((value, i): StateEntry => ({ key: req.keys[i]!, value: value ?? Buffer.alloc(0), absent: value === null }));
      return { height, entries, error: '', oldestReadable: 0n };
    } catch (err) {
      if (err instanceof HeightPrunedError) {
        return fail(`${err.message} (the last ${this.options.retainBlocks ?? 0} blocks are kept, LANES_STATE_RETAIN_BLOCKS)`, err.oldestReadable);
      }
      this.options.log.error({ err, height: height.toString() }, 'state read failed');
      return fail(`read at height ${height} failed: ${errorMessage(err)}`);
    }
  }

  head(): HeadResponse {
    return { height: this.current.height, header: this.current.header, lastTxStreamSeq: this.current.lastTxStreamSeq };
  }

  async block(req: BlockRequest): Promise<BlockResponse> {
    const notFound: BlockResponse = { found: false, header: undefined, txs: [] };
    let number: bigint | null;
    if (req.latest) await this.catchUp('latest');
    if (req.hash.length > 0) number = await this.options.backend.getBlockNumberByHash(req.hash);
    else number = req.latest ? this.current.height : req.number;
    if (number !== null) await this.catchUp(number);
    if (number === null || number > this.current.height) return notFound;
    const stored = await this.options.backend.getBlock(number);
    return stored === null ? notFound : { found: true, header: stored.header, txs: stored.txs };
  }

  async txLookup(req: TxLookupRequest): Promise<TxLookupResponse> {
    if (req.hashes.length > this.options.limits.maxReadKeys) {
      throw new StateRequestError(`too many hashes: ${req.hashes.length} > limit ${this.options.limits.maxReadKeys}`, 'tx');
    }
    const records = await this.options.backend.getTxRecords(req.hashes);
    const results = records.map((record): TxLookup => {
      const none: TxLookup = { found: false, tx: undefined, receipt: undefined, blockNumber: 0n, blockHash: Buffer.alloc(0), rejection: undefined };
      if (record === null) return none;
      if (record.kind === 'rejected') return { ...none, rejection: record.rejection };
      return { found: true, tx: record.tx, receipt: record.receipt, blockNumber: record.blockNumber, blockHash: record.blockHash, rejection: undefined };
    });
    return { results };
  }

  /**
   * eth_getLogs. By block hash, or by an inclusive block range taken literally (0 is block 0) and
   * clamped to the committed height; an empty range answers no logs. `limit` in 1..maxLogs+1
   * truncates (a caller asks one more than it will show to detect overflow); otherwise more than
   * maxLogs matches is an error asking for a narrower range.
   */
  async logs(req: LogsRequest): Promise<LogsResponse> {
    const fail = (error: string): LogsResponse => ({ logs: [], error });
    const { maxLogs, maxLogsRange } = this.options.limits;
    if (req.addresses.length > MAX_LOG_FILTER_ITEMS) return fail(`too many addresses: ${req.addresses.length} > limit ${MAX_LOG_FILTER_ITEMS}`);
    if (req.addresses.some((a) => a.length !== ADDRESS_BYTES)) return fail(`addresses must be ${ADDRESS_BYTES} bytes`);
    if (req.topics.length > MAX_TOPIC_POSITIONS) return fail(`too many topic positions: ${req.topics.length} > ${MAX_TOPIC_POSITIONS}`);
    for (const t of req.topics) {
      if (t.anyOf.length > MAX_LOG_FILTER_ITEMS) return fail(`too many topic alternatives: ${t.anyOf.length} > limit ${MAX_LOG_FILTER_ITEMS}`);
      if (t.anyOf.some((topic) => topic.length !== HASH_BYTES)) return fail(`topics must be ${HASH_BYTES} bytes`);
    }
    let fromBlock = req.fromBlock;
    let toBlock = req.toBlock;
    if (req.blockHash.length > 0) {
      const number = await this.options.backend.getBlockNumberByHash(req.blockHash);
      if (number === null) return fail(`unknown block hash 0x${req.blockHash.toString('hex')}`);
      fromBlock = number;
      toBlock = number;
    }
    await this.catchUp(toBlock);
    if (toBlock > this.current.height) toBlock = this.current.height;
    if (fromBlock > toBlock) return { logs: [], error: '' };
    if (toBlock - fromBlock + 1n > BigInt(maxLogsRange)) {
      return fail(`block range ${toBlock - fromBlock + 1n} exceeds the limit of ${maxLogsRange} blocks`);
    }
    const truncate = req.limit > 0 && req.limit <= maxLogs + 1;
    const maxResults = truncate ? req.limit : maxLogs + 1;
    try {
      const matches = await this.options.backend.getLogs({
        fromBlock, toBlock, addresses: req.addresses, topics: req.topics.map((t) => t.anyOf), maxResults,
      });
      if (!truncate && matches.length > maxLogs) return fail(`query exceeds the limit of ${maxLogs} logs; narrow the block range`);
      return {
        logs: matches.map((m) => ({ log: m.log, blockNumber: m.blockNumber, blockHash: m.blockHash, txHash: m.txHash, txIndex: m.txIndex, logIndex: m.logIndex })),
        error: '',
      };
    } catch (err) {
      this.options.log.error({ err, fromBlock: fromBlock.toString(), toBlock: toBlock.toString() }, 'logs query failed');
      return fail(`logs query failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Waits (bounded, NEXT_HEIGHT_WAIT_MS) until `height` is committed, when it is the next height
   * and this instance commits; true when it is. Readers follow another process and do not wait.
   */
  private waitForNextHeight(height: bigint): Promise<boolean> {
    if (this.options.role === 'reader' || this.closed || height !== this.current.height + 1n) return Promise.resolve(false);
    if (this.nextHeightWaiters.size >= MAX_NEXT_HEIGHT_WAITERS) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.nextHeightWaiters.delete(wake);
        resolve(this.current.height >= height);
      };
      const timer = setTimeout(wake, NEXT_HEIGHT_WAIT_MS);
      this.nextHeightWaiters.add(wake);
    });
  }

  private wakeNextHeightWaiters(): void {
    for (const wake of [...this.nextHeightWaiters]) wake();
  }

  /** Waits for the commit in progress, then closes the backend. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeNextHeightWaiters();
    await this.commitQueue;
    await this.keyFilterSettled();
    await this.rootHashers?.close();
    await this.options.backend.close();
  }
}
