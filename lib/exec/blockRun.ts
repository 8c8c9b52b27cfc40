// Runs the transactions of an ExecRequest one after another in one executor and turns each
// outcome into the TxResult the scheduler assembles, loading the block's likely state first in
// batches; and loads a coming block's state ahead of it (warmAhead). Shared by the executor
// service and the scheduler's own runs, so both produce identical results.
import { TxStatus, type BlockEnv as WireBlockEnv, type ExecRequest, type TxResult } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { blockCallFields, type TxCallFields } from '../chain/txFields.js';
import type { BlockEnv, TxExecutor, TxOutcome } from '../evm/index.js';
import { accountHasCode, accountKey, bigintToBytes, bytesToBigint, codeKey, decodeAccount, KEY_ACCOUNT, keyKind, type StateKey } from '../state/keys.js';
import { AccessPatternLearner } from './accessPatterns.js';
import type { CommittedStateCache } from './committedState.js';
import { BlockOverlaySource } from './overlaySource.js';
import { packReads, packWrites, unpackWrites } from './packedSets.js';

/** The EVM's view of a wire BlockEnv, with the BLOCKHASH window by number. */
export function toEvmEnv(env: WireBlockEnv, recentHashes: readonly Buffer[]): BlockEnv {
  const blockHashes = new Map<bigint, Uint8Array>();
  const first = env.number - BigInt(recentHashes.length);
  recentHashes.forEach((hash, i) => blockHashes.set(first + BigInt(i), hash));
  return {
    chainId: env.chainId,
    number: env.number,
    timestampSec: env.timestamp,
    coinbase: env.coinbase,
    gasLimit: env.gasLimit,
    baseFeePerGas: bytesToBigint(env.baseFeePerGas),
    prevRandao: env.prevRandao,
    blockHashes,
  };
}

const STATUS: Record<TxOutcome['status'], TxStatus> = {
  success: TxStatus.TX_STATUS_SUCCESS,
  reverted: TxStatus.TX_STATUS_REVERTED,
  invalid: TxStatus.TX_STATUS_INVALID,
};

const EMPTY = Buffer.alloc(0);

/** The bytes of the last amount converted: a block's txs mostly share a gas price and a tip per gas. */
class LastAmountBytes {
  private amount = 0n;
  private bytes: Buffer = EMPTY;
  of(amount: bigint): Buffer {
    if (amount !== this.amount) {
      this.amount = amount;
      this.bytes = amount === 0n ? EMPTY : bigintToBytes(amount);
    }
    return this.bytes;
  }
}
const gasPriceBytes = new LastAmountBytes();
const coinbaseDeltaBytes = new LastAmountBytes();

/**
 * The wire form of an outcome. `wire` false leaves the read-set and write-set out: a block run in
 * the scheduler's own process learns from the read-set maps as it goes (BlockRunOptions.onReads)
 * and takes the block's writes as one map (BlockRunResult.writes), instead of converting every
 * key to bytes and back.
 */
export function toTxResult(outcome: TxOutcome, txIndex: number, incarnation: number, wire = true): TxResult {
  return {
    txIndex,
    status: STATUS[outcome.status],
    error: outcome.error ?? '',
    errorCode: outcome.errorCode ?? 0,
    gasUsed: outcome.gasUsed,
    logs: outcome.logs,
    contractAddress: outcome.contractAddress ?? EMPTY,
    writesPacked: wire ? packWrites(outcome.writes) : EMPTY,
    readsPacked: wire ? packReads(outcome.reads) : EMPTY,
    returnData: outcome.returnData,
    incarnation,
    txType: outcome.txType,
    to: outcome.to ?? EMPTY,
    effectiveGasPrice: gasPriceBytes.of(outcome.effectiveGasPrice),
    coinbaseDelta: coinbaseDeltaBytes.of(outcome.coinbaseDelta),
    readsPendingBlockHash: outcome.readsPendingBlockHash === true,
  };
}

/** A block's write set: the last write of each key in block order, each key once (null = deleted). */
export type BlockWrites = Array<[StateKey, Buffer | null]>;

/**
 * The block's write set from wire results: the last write of each key in block order, invalid
 * transactions (which write nothing) left out. What a run in the scheduler's own process returns
 * directly as BlockRunResult.writes.
 */
export function blockWritesOf(results: readonly TxResult[]): BlockWrites {
  const writes = new Map<StateKey, Buffer | null>();
  for (const r of results) {
    if (r.status === TxStatus.TX_STATUS_INVALID) continue;
    for (const [key, value] of unpackWrites(r.writesPacked)) writes.set(key, value);
  }
  return [...writes];
}

const WARM_SAMPLE_STRIDE = 8;

/** Shared between the calls that predict the same block: read, never modified. */
interface LikelyKeys {
  keys: StateKey[];
  callees: Set<StateKey>;
  predicted: StateKey[];
}

/**
 * A block's likely keys by its txs array, with the patterns' generation they were predicted at:
 * the lookahead predicts them while the block before runs, and the block's own prefetch, when its
 * cache does not look warm, would predict them again (a keccak per mapping entry, and spelling
 * every key: ≈ 2 % of an ERC-20 block's instructions at 10,000 accounts). The scheduler hands the
 * lookahead and the run the same txs array (lastBlockDecoder), as the plan's reuse does.
 */
const likelyByBlock = new WeakMap<readonly Tx[], { patterns: AccessPatternLearner | undefined; generation: number; coinbase: StateKey; likely: LikelyKeys }>();

/** What a block will likely read: the coinbase, senders and called accounts, and the keys learned patterns predict. */
function likelyKeys(req: ExecRequest, calls: readonly TxCallFields[], patterns: AccessPatternLearner | undefined): LikelyKeys {
  const generation = patterns?.generation ?? -1;
  const coinbase = req.env === undefined ? '' : accountKey(req.env.coinbase);
  const known = likelyByBlock.get(req.txs);
  if (known !== undefined && known.patterns === patterns && known.generation === generation && known.coinbase === coinbase) return known.likely;
  const likely = predictLikelyKeys(req, calls, patterns);
  likelyByBlock.set(req.txs, { patterns, generation, coinbase, likely });
  return likely;
}

function predictLikelyKeys(req: ExecRequest, calls: readonly TxCallFields[], patterns: AccessPatternLearner | undefined): LikelyKeys {
  const accounts = new Set<StateKey>();
  const callees = new Set<StateKey>();
  if (req.env !== undefined) accounts.add(accountKey(req.env.coinbase));
  for (let i = 0; i < req.txs.length; i++) {
    accounts.add(accountKey(req.txs[i]!.sender));
    const to = calls[i]!.to;
    if (to !== null) callees.add(accountKey(to));
  }
  for (const key of callees) accounts.add(key);
  const predicted: StateKey[] = [];
  if (patterns !== undefined) {
    req.txs.forEach((tx, i) => {
      const { to, data } = calls[i]!;
      if (to !== null) for (const k of patterns.predict({ sender: tx.sender, to, data })) predicted.push(k);
    });
  }
  return { keys: [...accounts, ...predicted], callees, predicted };
}

/**
 * The code keys of the called accounts (and of predicted accounts) that `height`'s cached values
 * show to have code. A sender's code (an EIP-7702 delegation) loads on demand.
 */
function codeKeysOf(callees: Iterable<StateKey>, predicted: readonly StateKey[], committed: CommittedStateCache, height: bigint): Set<StateKey> {
  // Each account once: a pattern's constant keys (the called token's account) come with every call.
  const accounts = new Set<StateKey>(callees);
  for (const k of predicted) if (keyKind(k) === KEY_ACCOUNT) accounts.add(k);
  const codes = new Set<StateKey>();
  for (const key of accounts) {
    const value = committed.peek(key, height);
    if (value === undefined || value === null || !accountHasCode(value)) continue;
    codes.add(codeKey(decodeAccount(value).codeHash));
  }
  return codes;
}

/**
 * Whether the cache likely holds what the block reads: the last run over it met no key it lacked,
 * and a sample of the block's accounts (every WARM_SAMPLE_STRIDE-th tx) is cached. A new account
 * the sample misses is loaded, with the rest of the block's missing accounts, by the first miss's
 * widened load, and marks the cache cold for the next block.
 */
function looksWarm(req: ExecRequest, calls: readonly TxCallFields[], committed: CommittedStateCache, height: bigint): boolean {
  if (!committed.warm) return false;
  for (let i = 0; i < req.txs.length; i += WARM_SAMPLE_STRIDE) {
    if (committed.peek(accountKey(req.txs[i]!.sender), height) === undefined) return false;
    const to = calls[i]!.to;
    if (to !== null && committed.peek(accountKey(to), height) === undefined) return false;
  }
  return true;
}

/**
 * Loads what the block will likely read in at most two round trips: the sender, recipient and
 * coinbase accounts with the keys learned patterns predict, then the code of the called
 * accounts. When the accounts are all cached and the last run over this cache met no miss, the
 * cache is warm and predicting storage keys (a keccak256 per mapping entry) would only cost time.
 */
async function prefetchBlock(
  req: ExecRequest, calls: readonly TxCallFields[], source: BlockOverlaySource,
  committed: CommittedStateCache, patterns: AccessPatternLearner | undefined,
): Promise<void> {
  if (looksWarm(req, calls, committed, req.baseHeight)) return;
  const { keys, callees, predicted } = likelyKeys(req, calls, patterns);
  await source.prefetch(keys);
  await source.prefetch(codeKeysOf(callees, predicted, committed, req.baseHeight));
}

export interface LookaheadResult {
  keysLoaded: number;
  roundTrips: number;
}

/**
 * Loads into `committed` what the block `req` (not yet due: its base height is not committed
 * yet) will likely read, at the height the cache holds now, while the block before it still
 * runs. Values read at an older height stay right: the cache applies every committed block's
 * writes as it moves on, and a load that returns after the cache moved is not kept. So the
 * block's own prefetch later finds them cached and its first transaction starts without a
 * round trip. At most two round trips (keys, then code).
 */
export async function warmAhead(
  req: ExecRequest, committed: CommittedStateCache, patterns: AccessPatternLearner | undefined,
): Promise<LookaheadResult> {
  const height = committed.height;
  const result = { keysLoaded: 0, roundTrips: 0 };
  if (height < 0n) return result;
  const calls = blockCallFields(req.txs);
  // A cache that holds the block's accounts (few accounts, or all of them seen) needs no lookahead.
  if (looksWarm(req, calls, committed, height)) return result;
  const { keys, callees, predicted } = likelyKeys(req, calls, patterns);
  const load = async (wanted: Iterable<StateKey>): Promise<void> => {
    const missing = new Set<StateKey>();
    for (const key of wanted) if (committed.peek(key, height) === undefined) missing.add(key);
    if (missing.size === 0) return;
    result.roundTrips++;
    result.keysLoaded += missing.size;
    await committed.load([...missing], height);
  };
  await load(keys);
  if (committed.height === height) await load(codeKeysOf(callees, predicted, committed, height));
  return result;
}

/** Accounts and predicted keys of txs `from`… of the block: what a miss loads along with it. */
function* upcomingKeys(
  req: ExecRequest, calls: readonly TxCallFields[], from: number, patterns: AccessPatternLearner | undefined,
): Generator<StateKey> {
  for (let i = from; i < req.txs.length; i++) {
    const tx = req.txs[i]!;
    yield accountKey(tx.sender);
    const { to, data } = calls[i]!;
    if (to === null) continue;
    yield accountKey(to);
    if (patterns !== undefined) yield* patterns.predict({ sender: tx.sender, to, data });
  }
}

export interface BlockRunResult {
  results: TxResult[];
  /** The block's write set. */
  writes: BlockWrites;
  roundTrips: number;
  /** Wall time spent loading state before the first tx, and running the txs. */
  prefetchMs: number;
  executeMs: number;
}

export interface BlockRunOptions {
  /** Learned access patterns: prefetch the block's likely keys, and keep learning. */
  patterns?: AccessPatternLearner;
  /**
   * Put read-sets and write-sets in the results (default true, for the wire); false for a run in
   * the scheduler itself, which takes the writes from BlockRunResult.writes.
   */
  wire?: boolean;
  /**
   * Sees each tx's outcome (its read-set with versions, its write-set) as it completes, in block
   * order: the scheduler's own runs learn from the read-sets there and then rather than keeping
   * them until the block ends, and its own partitions of parallel blocks keep the sets as they
   * are instead of packing them for a wire they never cross.
   */
  onOutcome?: (index: number, outcome: TxOutcome, call: TxCallFields) => void;
  /**
   * Give the event loop a turn at least this often (default never). The EVM awaits only
   * microtasks, so messages that arrive during a block wait for its end otherwise: an executor
   * yields so a lookahead request that lands mid-partition starts then, not after. Each turn
   * costs ≈ 100-150 µs (V8's pending tasks run in it), so not every few milliseconds.
   */
  yieldEveryMs?: number;
}

/** Executes every tx of `req` serially over committed state at req.baseHeight. */
export async function runBlockSerially(
  executor: TxExecutor, req: ExecRequest, committed: CommittedStateCache, options: BlockRunOptions = {},
): Promise<BlockRunResult> {
  const { patterns } = options;
  const wire = options.wire ?? true;
  if (req.env === undefined) throw new Error('ExecRequest without env');
  const env = toEvmEnv(req.env, req.recentHashes);
  const source = new BlockOverlaySource(committed, req.baseHeight);
  const calls = blockCallFields(req.txs);
  const started = performance.now();
  await prefetchBlock(req, calls, source, committed, patterns);
  const prefetched = performance.now();
  const roundTripsBefore = source.roundTrips;
  const results: TxResult[] = [];
  let next = 0;
  source.companions = () => upcomingKeys(req, calls, next, patterns);
  // Companions are the rest of the block's accounts and what patterns predict for it; the cache
  // only grows during the block, so after a look that found nothing only new learning can make
  // the next look find something.
  if (patterns !== undefined) source.companionsGeneration = () => patterns.generation;
  const yieldEveryMs = options.yieldEveryMs ?? Infinity;
  let yielded = performance.now();
  for (let i = 0; i < req.txs.length; i++) {
    next = i;
    if (yieldEveryMs !== Infinity && performance.now() - yielded >= yieldEveryMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      yielded = performance.now();
    }
    const tx = req.txs[i]!;
    const txIndex = req.txIndexes[i] ?? i;
    const outcome = await executor.execute(tx, env, source);
    if (outcome.status !== 'invalid') source.applyWrites(txIndex, outcome.writes);
    const call = calls[i]!;
    if (patterns !== undefined && call.to !== null) patterns.learn({ sender: tx.sender, to: call.to, data: call.data }, outcome.reads.keys());
    results.push(toTxResult(outcome, txIndex, 0, wire));
    options.onOutcome?.(i, outcome, call);
  }
  committed.noteRun(source.roundTrips - roundTripsBefore);
  return { results, writes: source.blockWrites(), roundTrips: source.roundTrips, prefetchMs: prefetched - started, executeMs: performance.now() - prefetched };
}
