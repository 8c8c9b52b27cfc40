// The storage contract of the state service: what any backend (embedded lmdb today, FoundationDB
// next) must provide. It is shaped after FoundationDB's model so the FDB backend needs only this
// file: point and range reads at a version, and one atomic commit per block whose first step is
// a fence on the stored height (FDB: a read of the meta key inside the transaction, which also
// puts it in the conflict range, so two writers can never both commit the same height).
import type { Tx, BlockHeader, Log, Receipt, Rejection } from '../../gen/lanes/v1/types.js';
import type { StateKey } from '../../lib/state/keys.js';

/** What the state service needs to resume after a restart; null from `meta()` = empty store. */
export interface StateMeta {
  /** Highest committed block (0 = genesis only). */
  height: bigint;
  stateRoot: Buffer;
  /** The LtHash lattice at `height` (lib/state/root.ts), to resume accumulating. */
  lattice: Buffer;
  headHash: Buffer;
  /** LANES_TX stream sequence consumed up to and including block `height`. */
  lastTxStreamSeq: bigint;
}

/** One state write of a block; `value === null` deletes the entry (reads as absent afterwards). */
export interface StateWrite {
  key: StateKey;
  value: Buffer | null;
  /** The key's bytes, when the writer has them (a decoded commit does): spares converting the key back. */
  keyBytes?: Buffer;
}

/** Everything one block changes, written atomically or not at all. */
export interface CommitRecord {
  height: bigint;
  header: BlockHeader;
  txs: Tx[];
  receipts: Receipt[];
  rejections: Rejection[];
  /** Final value per key after the block; keys are unique. */
  writes: StateWrite[];
  /** Meta after the block (height, root, head hash come from `header`). */
  lattice: Buffer;
  lastTxStreamSeq: bigint;
}

export interface CommitResult {
  /** The rejections stored; a rejection whose tx hash has a receipt (here or earlier) is skipped. */
  rejectionsStored: Rejection[];
}

export interface StoredBlock {
  header: BlockHeader;
  txs: Tx[];
}

/** A tx hash's outcome: included (with receipt), or ordered but rejected. */
export type TxRecord =
  | { kind: 'included'; tx: Tx; receipt: Receipt; blockNumber: bigint; blockHash: Buffer }
  | { kind: 'rejected'; rejection: Rejection };

export interface LogQuery {
  fromBlock: bigint;
  toBlock: bigint;
  /** Empty = any address. */
  addresses: Buffer[];
  /** Position i: empty = wildcard, otherwise any of. Ethereum semantics (see logFilter.ts). */
  topics: Buffer[][];
  /** Stop after collecting this many matches; the caller passes its limit + 1 to detect overflow. */
  maxResults: number;
}

export interface LogMatch {
  log: Log;
  blockNumber: bigint;
  blockHash: Buffer;
  txHash: Buffer;
  txIndex: number;
  logIndex: number;
}

export interface PruneResult {
  /** Reads at this height and above answer as before any pruning; reads below fail with HeightPrunedError. */
  oldestReadable: bigint;
  /** Blocks whose superseded versions this call removed. */
  blocks: number;
}

export interface StateBackend {
  /** Null when the store is empty (genesis not yet written). */
  meta(): Promise<StateMeta | null>;
  /**
   * Values of `keys` as of the end of block `height` (null = absent). `height` must be committed
   * and not pruned: versions in that window never change, so reads need no snapshot.
   */
  readAt(keys: StateKey[], height: bigint): Promise<(Buffer | null)[]>;
  /** The lowest height reads are served at (0 until something is pruned). */
  oldestReadable(): Promise<bigint>;
  /**
   * The history window. Raises the oldest readable height towards `target` (never past the
   * committed height) by at most `maxBlocks` blocks, removing every version that no read at or
   * above it can see: for each key a block at or below it wrote, the key's older versions, and
   * the block's own version when that is a deletion. Reads at or above the new oldest height are
   * unchanged. Interrupted, it leaves a store that reads the same and resumes on the next call.
   */
  prune(target: bigint, maxBlocks: number): Promise<PruneResult>;
  /**
   * Applies the whole block in one transaction. Throws HeightFenceError unless the stored height
   * is `record.height - 1` (or the store is empty and `record.height` is 0); nothing is written then.
   */
  commit(record: CommitRecord): Promise<CommitResult>;
  getBlock(number: bigint): Promise<StoredBlock | null>;
  getBlockNumberByHash(hash: Buffer): Promise<bigint | null>;
  /** One entry per hash, in order; null = unknown hash. */
  getTxRecords(hashes: Buffer[]): Promise<(TxRecord | null)[]>;
  /** Matching logs of blocks fromBlock..toBlock inclusive, in chain order, at most maxResults. */
  getLogs(query: LogQuery): Promise<LogMatch[]>;
  /**
   * Every state key with a stored version (deleted ones may be included), in batches, for the
   * key filter. Keys committed while it runs may or may not be in it. Absent: not supported.
   */
  stateKeys?(batchKeys: number): AsyncIterable<StateKey[]>;
  close(): Promise<void>;
}

/** The commit's height does not follow the stored height: a retry, a gap, or a second writer. */
export class HeightFenceError extends Error {
  constructor(readonly storedHeight: bigint | null, readonly commitHeight: bigint) {
    super(`height fence: store is at ${storedHeight === null ? 'empty' : storedHeight}, commit is for ${commitHeight}`);
    this.name = 'HeightFenceError';
  }
}

/** The store holds data that cannot be decoded or breaks an invariant; operator action needed. */
export class StateCorruptionError extends Error {
  constructor(message: string, readonly where: string, options?: { cause?: unknown }) {
    super(`state store corrupt (${where}): ${message}`, options);
    this.name = 'StateCorruptionError';
  }
}

/** A read below the oldest height the store keeps (its history window, LANES_STATE_RETAIN_BLOCKS). */
export class HeightPrunedError extends Error {
  constructor(readonly requestedHeight: bigint, readonly oldestReadable: bigint) {
    super(`height ${requestedHeight} is pruned: state is kept from height ${oldestReadable} on`);
    this.name = 'HeightPrunedError';
  }
}

/** A read at a height the store has not committed yet. */
export class HeightNotCommittedError extends Error {
  constructor(readonly requestedHeight: bigint, readonly committedHeight: bigint) {
    super(`height ${requestedHeight} is not committed (committed: ${committedHeight})`);
    this.name = 'HeightNotCommittedError';
  }
}
