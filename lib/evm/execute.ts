// Executes one signed transaction with @ethereumjs/vm's runTx against a JournaledStateView and
// turns the result into a TxOutcome: status, gas, logs, and the read-set and write-set in the
// flat key space. Also answers eth_call and eth_estimateGas through the same path.
//
// The VM is built once per TxExecutor (createVM costs milliseconds) and holds one view for its
// whole life; each transaction resets the view onto the source it should read. A VM runs one
// transaction at a time, so calls into a TxExecutor are queued; run several executors for
// parallelism.
import { createBlock, type Block } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { Capability, createLegacyTx, createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx';
import { Address, EthereumJSError, createContractAddress } from '@ethereumjs/util';
import { createVM, runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import type { Log } from '../../gen/lanes/v1/types.js';
import { chainCommon } from '../chain/common.js';
import { accountKey, type StateKey } from '../state/keys.js';
import { JournaledStateView, type VersionedRead, type VersionedStateSource } from './stateView.js';
import { tuneVm } from './tuning.js';
import { sharedTxCommon, TxBuilder } from './txBuild.js';

/** The block a transaction executes in. */
export interface BlockEnv {
  chainId: bigint;
  number: bigint;
  timestampSec: bigint;
  /** 20 bytes; receives the priority fee. */
  coinbase: Uint8Array;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  /** 32 bytes, what PREVRANDAO returns. */
  prevRandao: Uint8Array;
  /**
   * Hashes by block number for BLOCKHASH; only number-256 … number-1 are ever asked for. An empty
   * hash marks a block still committing: asking for it sets TxOutcome.readsPendingBlockHash.
   */
  blockHashes?: ReadonlyMap<bigint, Uint8Array>;
}

/** A transaction as ingress hands it on: the sender was recovered (and checked) there. */
export interface TxInput {
  /** EIP-2718 typed envelope or legacy RLP. */
  raw: Uint8Array;
  hash: Uint8Array;
  /** 20 bytes. */
  sender: Uint8Array;
}

export type TxStatus = 'success' | 'reverted' | 'invalid';

/** JSON-RPC error code geth uses for transactions it refuses (nonce, funds, fees, gas). */
export const INVALID_TX_ERROR_CODE = -32000;
/** A transaction that cannot be decoded at all. */
export const UNDECODABLE_TX_ERROR_CODE = -32602;

export interface TxOutcome {
  status: TxStatus;
  /** Revert reason, halt reason ('out of gas', …) or why the transaction is invalid. */
  error?: string;
  /** Only for 'invalid'. */
  errorCode?: number;
  /** Gas the receipt shows (after refunds); 0 for an invalid transaction. */
  gasUsed: bigint;
  logs: Log[];
  contractAddress: Buffer | null;
  returnData: Buffer;
  /** Final values of changed keys; empty for an invalid transaction. */
  writes: Map<StateKey, Buffer | null>;
  /** Keys read from the source with the version (and value) first observed. */
  reads: Map<StateKey, VersionedRead>;
  /** Fee credited to the coinbase as a delta instead of a write (coinbase-delta mode), else 0n. */
  coinbaseDelta: bigint;
  /**
   * Set (true) when BLOCKHASH asked for a block whose hash the env marks as not known yet (an
   * empty entry in BlockEnv.blockHashes): the outcome used a zero hash and must be redone.
   */
  readsPendingBlockHash?: true;
  txType: number;
  to: Buffer | null;
  effectiveGasPrice: bigint;
  sender: Buffer;
  hash: Buffer;
}

/** eth_call / eth_estimateGas parameters. */
export interface CallRequest {
  /** 20 bytes; zero address when omitted. */
  from?: Uint8Array;
  /** 20 bytes; omitted or null = contract creation. */
  to?: Uint8Array | null;
  data?: Uint8Array;
  value?: bigint;
  /** Defaults to the block gas limit. */
  gasLimit?: bigint;
}

export interface CallResult {
  success: boolean;
  returnData: Buffer;
  /** Gas the call used, after refunds, intrinsic gas included (as a receipt would show). */
  gasUsed: bigint;
  error?: string;
}

export interface EstimateGasResult {
  success: boolean;
  /** Smallest gas limit found with which the call succeeds. */
  gasLimit: bigint;
  returnData: Buffer;
  error?: string;
  /** Executions spent on the search. */
  runs: number;
}

/** Bound on executions for one eth_estimateGas. */
export const ESTIMATE_GAS_RUNS_MAX = 20;

/** Thrown for a programmer error inside the executor (never for a bad transaction). */
export class ExecutorInvariantError extends Error {
  override readonly name = 'ExecutorInvariantError';
}

interface InvalidReason {
  error: string;
  errorCode: number;
}

const ZERO_ADDRESS = new Uint8Array(20);
const ZERO_HASH = new Uint8Array(32);
const ERROR_STRING_SELECTOR = '08c379a0';
const PANIC_SELECTOR = '4e487b71';

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const NO_BYTES = Buffer.alloc(0);

/**
 * A copy of `bytes` that outlives the EVM's run: a slice of Node's shared pool when small (under
 * 4 KB) rather than a view pinning the EVM's own buffer. What a tx's outcome keeps (logs, return
 * data) lives until its block is committed, through the scavenges of the block after it: each EVM
 * Uint8Array is an ArrayBuffer of its own with a malloc'd backing store, and an ERC-20 transfer's
 * log alone kept five, copied by every scavenge that met them and promoted at the second.
 */
function detached(bytes: Uint8Array): Buffer {
  return bytes.byteLength === 0 ? NO_BYTES : Buffer.from(bytes);
}

/** A tx's logs in one allocation (see `detached`), each field a view into it. */
function detachedLogs(raw: NonNullable<RunTxResult['execResult']['logs']>): Log[] {
  let size = 0;
  for (const [address, topics, data] of raw) {
    size += address.byteLength + data.byteLength;
    for (const topic of topics) size += topic.byteLength;
  }
  const arena = Buffer.allocUnsafe(size);
  let at = 0;
  const take = (bytes: Uint8Array): Buffer => {
    arena.set(bytes, at);
    const view = arena.subarray(at, at + bytes.byteLength);
    at += bytes.byteLength;
    return view;
  };
  const logs: Log[] = [];
  for (const [address, topics, data] of raw) {
    const topicViews: Buffer[] = [];
    for (const topic of topics) topicViews.push(take(topic));
    logs.push({ address: take(address), topics: topicViews, data: take(data) });
  }
  return logs;
}

/** The reason in Error(string) or Panic(uint256) revert data, if it is one. */
export function decodeRevertReason(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined;
  const buf = toBuffer(data);
  const selector = buf.toString('hex', 0, 4);
  if (selector === PANIC_SELECTOR && buf.length >= 36) {
    return `panic: 0x${BigInt('0x' + buf.toString('hex', 4, 36)).toString(16)}`;
  }
  if (selector !== ERROR_STRING_SELECTOR || buf.length < 68) return undefined;
  const offset = Number(BigInt('0x' + buf.toString('hex', 4, 36)));
  const lengthAt = 4 + offset;
  if (!Number.isSafeInteger(lengthAt) || lengthAt + 32 > buf.length) return undefined;
  const length = Number(BigInt('0x' + buf.toString('hex', lengthAt, lengthAt + 32)));
  if (!Number.isSafeInteger(length) || lengthAt + 32 + length > buf.length) return undefined;
  return buf.toString('utf8', lengthAt + 32, lengthAt + 32 + length);
}

/**
 * runTx with the patch's `skipReceipt` (patches/README.md): the library's receipt and logs bloom
 * are left out, a keccak per log address and topic (four per ERC-20 transfer) that nothing
 * read. Receipts and blooms are built from the outcome's logs where blocks are assembled. And
 * with the patch's `afterCall`, called when the top-level call has returned, before the fees.
 */
function runTxWithoutReceipt(
  vm: VM, options: Parameters<typeof runTx>[1] & { skipReceipt: true; afterCall: (() => void) | undefined },
): Promise<RunTxResult> {
  return runTx(vm, options);
}

/** Why runTx refused the transaction, from its error message (runTx has no error codes). */
function classifyRunTxError(message: string): InvalidReason {
  const m = message.replace(/ \(vm hf=.*$/s, '');
  if (m.includes("doesn't have the correct nonce")) {
    const found = /account has nonce of: (\d+) tx has nonce of: (\d+)/.exec(m);
    const tooLow = found !== null && BigInt(found[2]!) < BigInt(found[1]!);
    return { error: tooLow ? 'nonce too low' : 'nonce too high', errorCode: INVALID_TX_ERROR_CODE };
  }
  if (m.includes("doesn't have enough funds")) {
    return { error: 'insufficient funds for gas * price + value', errorCode: INVALID_TX_ERROR_CODE };
  }
  if (m.includes("is less than the block's baseFeePerGas")) {
    return { error: 'max fee per gas less than block base fee', errorCode: INVALID_TX_ERROR_CODE };
  }
  if (m.includes('INTRINSIC_GAS_TOO_LOW')) return { error: 'intrinsic gas too low', errorCode: INVALID_TX_ERROR_CODE };
  if (m.includes('address is not EOA')) return { error: 'sender not an eoa', errorCode: INVALID_TX_ERROR_CODE };
  return { error: `invalid transaction: ${m}`, errorCode: INVALID_TX_ERROR_CODE };
}

function haltReason(result: RunTxResult): string | undefined {
  const ex = result.execResult.exceptionError;
  if (ex === undefined) return undefined;
  if (ex.error === 'revert') return decodeRevertReason(result.execResult.returnValue) ?? 'execution reverted';
  return ex.error;
}

function effectiveGasPriceOf(tx: TypedTransaction, baseFeePerGas: bigint): bigint {
  if (tx.supports(Capability.EIP1559FeeMarket)) {
    const t = tx as TypedTransaction & { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
    const withTip = baseFeePerGas + t.maxPriorityFeePerGas;
    return withTip < t.maxFeePerGas ? withTip : t.maxFeePerGas;
  }
  return (tx as TypedTransaction & { gasPrice: bigint }).gasPrice;
}

/**
 * Makes `tx.getSenderAddress()` return the sender ingress already recovered. runTx asks the
 * transaction for its sender, and the library would run secp256k1 recovery in pure JS (≈1 ms,
 * more than the EVM work of a transfer). The transaction is parsed unfrozen so the method can be
 * shadowed by an own property, then frozen, which re-enables the library's per-object caches
 * (hash, intrinsic gas), which it only uses on frozen transactions.
 */
function pinSender(tx: TypedTransaction, sender: Address): void {
  Object.defineProperty(tx, 'getSenderAddress', { value: () => sender, enumerable: false });
  Object.freeze(tx);
}

/** The minimal blockchain the EVM needs: BLOCKHASH asks it for a block's hash by number. */
class RecentBlockHashes {
  env: BlockEnv | null = null;
  /** Since the last reset: BLOCKHASH asked for a block whose hash is not known yet (an empty entry). */
  pendingRead = false;

  getBlock(blockId: number): Promise<{ hash(): Uint8Array }> {
    let hash = this.env?.blockHashes?.get(BigInt(blockId)) ?? ZERO_HASH;
    if (hash.length === 0) {
      this.pendingRead = true;
      hash = ZERO_HASH;
    }
    return Promise.resolve({ hash: () => hash });
  }

  putBlock(): Promise<void> {
    return Promise.reject(new ExecutorInvariantError('RecentBlockHashes.putBlock: read-only'));
  }

  shallowCopy(): RecentBlockHashes {
    const copy = new RecentBlockHashes();
    copy.env = this.env;
    return copy;
  }
}

export interface TxExecutorOptions {
  chainId: bigint;
  /**
   * Credit the coinbase's fee as a delta (TxOutcome.coinbaseDelta) when the transaction does not
   * otherwise touch the coinbase account. The parallel engine uses it; the plain reference does not.
   */
  coinbaseDeltas?: boolean;
  /**
   * Cache jump-destination analysis per code, look EIPs up in a Set (tuning.ts) and build
   * EIP-1559 transactions without the library's constructor (txBuild.ts). On by default; off
   * gives the stock interpreter and transaction constructors, which tests compare against.
   */
  tuned?: boolean;
}

/** Runs transactions one at a time on one reusable VM. */
export class TxExecutor {
  private queueTail: Promise<unknown> = Promise.resolve();
  private lastEnv: BlockEnv | null = null;
  private lastBlock: Block | null = null;
  private lastCallEnv: BlockEnv | null = null;
  private lastCallBlock: Block | null = null;

  private constructor(
    readonly chainId: bigint,
    private readonly common: Common,
    private readonly txCommon: Common,
    /** Builds checked EIP-1559 transactions without the library's constructor; null = stock. */
    private readonly txBuilder: TxBuilder | null,
    private readonly vm: VM,
    private readonly view: JournaledStateView,
    private readonly blockchain: RecentBlockHashes,
    private readonly coinbaseDeltas: boolean,
    private readonly afterCall: (() => void) | undefined,
  ) {}

  static async create(opts: TxExecutorOptions): Promise<TxExecutor> {
    // A copy: the VM and EVM add their parameters to the Common they are given.
    const common = chainCommon(opts.chainId).copy();
    // Stock means stock: the library's own keccak too.
    if (opts.tuned === false) Object.assign(common, { customCrypto: {} });
    const view = new JournaledStateView();
    const blockchain = new RecentBlockHashes();
    const vm = await createVM({ common, stateManager: view, blockchain });
    if (opts.tuned !== false) await tuneVm(vm);
    const txCommon = sharedTxCommon(chainCommon(opts.chainId));
    const txBuilder = opts.tuned === false ? null : new TxBuilder(txCommon);
    // runTx pays the coinbase after the top-level EVM call returns: in coinbase-delta mode, that
    // moment is marked (the vm patch's afterCall) so the view can tell fee accounting from
    // execution (see JournaledStateView.beginTx). Not by wrapping the EVM's runCall: an own
    // property on one EVM gave it a hidden class of its own, and every EVM method two shapes to
    // meet in a process that runs both modes (the scheduler, an executor).
    const afterCall = opts.coinbaseDeltas === true ? () => view.enterFeePhase() : undefined;
    return new TxExecutor(opts.chainId, common, txCommon, txBuilder, vm, view, blockchain, opts.coinbaseDeltas === true, afterCall);
  }

  /** Execute one transaction reading `source`; nothing is written anywhere but the outcome. */
  execute(input: TxInput, env: BlockEnv, source: VersionedStateSource): Promise<TxOutcome> {
    return this.enqueue(() => this.executeNow(input, env, source));
  }

  /** eth_call: run without nonce or fee checks, at gas price 0; nothing is kept. */
  call(request: CallRequest, env: BlockEnv, source: VersionedStateSource): Promise<CallResult> {
    return this.enqueue(() => this.callNow(request, env, source));
  }

  /**
   * eth_estimateGas: the smallest gas limit with which the call succeeds, found by a binary
   * search between the gas used and the cap (request.gasLimit or the block gas limit), bounded by
   * ESTIMATE_GAS_RUNS_MAX executions; when the bound stops it early the answer is an upper bound.
   */
  async estimateGas(request: CallRequest, env: BlockEnv, source: VersionedStateSource): Promise<EstimateGasResult> {
    let hi = request.gasLimit ?? env.gasLimit;
    const first = await this.call({ ...request, gasLimit: hi }, env, source);
    let runs = 1;
    if (!first.success) {
      return { success: false, gasLimit: hi, returnData: first.returnData, runs, ...errorField(first.error) };
    }
    // Refunds and the 63/64 rule can make the needed limit exceed the gas used, never undercut it.
    let lo = first.gasUsed - 1n;
    let returnData = first.returnData;
    // Most calls succeed with gasUsed plus the 1/64 held back from sub-calls: try that first.
    const guess = (first.gasUsed * 64n) / 63n + 1n;
    while (hi - lo > 1n && runs < ESTIMATE_GAS_RUNS_MAX) {
      const mid = runs === 1 && guess < hi && guess > lo ? guess : lo + (hi - lo) / 2n;
      const r = await this.call({ ...request, gasLimit: mid }, env, source);
      runs++;
      if (r.success) {
        hi = mid;
        returnData = r.returnData;
      } else {
        lo = mid;
      }
    }
    return { success: true, gasLimit: hi, returnData, runs };
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queueTail.then(work, work);
    this.queueTail = run.catch(() => undefined);
    return run;
  }

  private blockFor(env: BlockEnv, forCall: boolean): Block {
    if (env.chainId !== this.chainId) {
      throw new ExecutorInvariantError(`block env chain id ${env.chainId} != executor chain id ${this.chainId}`);
    }
    this.blockchain.env = env;
    if (!forCall && env === this.lastEnv && this.lastBlock !== null) return this.lastBlock;
    if (forCall && env === this.lastCallEnv && this.lastCallBlock !== null) return this.lastCallBlock;
    if (env.coinbase.length !== 20) throw new ExecutorInvariantError('block env coinbase must be 20 bytes');
    if (env.prevRandao.length !== 32) throw new ExecutorInvariantError('block env prevRandao must be 32 bytes');
    const block = createBlock(
      {
        header: {
          number: env.number,
          timestamp: env.timestampSec,
          coinbase: env.coinbase,
          gasLimit: env.gasLimit,
          // eth_call runs at gas price 0, which geth allows by zeroing the base fee.
          baseFeePerGas: forCall ? 0n : env.baseFeePerGas,
          mixHash: env.prevRandao,
          difficulty: 0n,
          excessBlobGas: 0n,
          blobGasUsed: 0n,
          parentBeaconBlockRoot: ZERO_HASH,
        },
      },
      { common: this.common },
    );
    if (forCall) {
      this.lastCallEnv = env;
      this.lastCallBlock = block;
    } else {
      this.lastEnv = env;
      this.lastBlock = block;
    }
    return block;
  }

  private async executeNow(input: TxInput, env: BlockEnv, source: VersionedStateSource): Promise<TxOutcome> {
    if (input.sender.length !== 20) throw new ExecutorInvariantError('sender must be 20 bytes');
    const block = this.blockFor(env, false);
    const sender = toBuffer(input.sender);
    const hash = toBuffer(input.hash);
    this.view.beginTx(source, this.coinbaseDeltas ? accountKey(env.coinbase) : null);
    this.blockchain.pendingRead = false;

    let tx: TypedTransaction;
    try {
      tx = this.txBuilder?.build(input.raw) ?? createTxFromRLP(input.raw, { common: this.txCommon, freeze: false });
    } catch (e) {
      const reason = { error: `undecodable transaction: ${(e as Error).message}`, errorCode: UNDECODABLE_TX_ERROR_CODE };
      const first = input.raw.length > 0 ? input.raw[0]! : 0;
      return this.invalidOutcome(reason, sender, hash, first <= 0x7f ? first : 0, null, 0n);
    }
    const senderAddress = new Address(input.sender);
    pinSender(tx, senderAddress);
    const txType = tx.type;
    const to = tx.to === undefined ? null : toBuffer(tx.to.bytes);

    // Nonce first, as geth checks it: it is the common reason and the one a wallet can act on.
    const account = await this.view.getAccount(senderAddress);
    const accountNonce = account?.nonce ?? 0n;
    if (tx.nonce !== accountNonce) {
      const reason = { error: tx.nonce < accountNonce ? 'nonce too low' : 'nonce too high', errorCode: INVALID_TX_ERROR_CODE };
      return this.invalidOutcome(reason, sender, hash, txType, to, 0n);
    }

    let result: RunTxResult;
    try {
      result = await runTxWithoutReceipt(this.vm, {
        tx, block, skipBlockGasLimitValidation: true, skipHardForkValidation: true, skipReceipt: true, afterCall: this.afterCall,
      });
    } catch (e) {
      this.rethrowIfNotInvalid(e);
      return this.invalidOutcome(classifyRunTxError((e as Error).message), sender, hash, txType, to, 0n);
    }
    return this.outcomeOf(result, tx, sender, hash, to, env);
  }

  /**
   * runTx refuses a transaction by throwing an EthereumJSError; that makes it invalid. Anything
   * else propagates: the source's errors (e.g. a Block-STM read of a pending write) and bugs.
   */
  private rethrowIfNotInvalid(e: unknown): void {
    if (this.view.sourceError !== undefined) {
      this.resetAfterAbort();
      throw this.view.sourceError;
    }
    if (!(e instanceof EthereumJSError)) {
      this.resetAfterAbort();
      throw e;
    }
  }

  /**
   * An execution that threw mid-call leaves EIP-1153 transient storage with open checkpoints
   * (runTx clears it only when the top call frame finishes). TransientStorage is not exported,
   * so its two fields are reset in place; the assertion catches a library that renamed them.
   */
  private resetAfterAbort(): void {
    const evm = this.vm.evm as unknown as { transientStorage?: { clear(): void; _indices?: number[] } };
    const ts = evm.transientStorage;
    if (ts === undefined) throw new ExecutorInvariantError('EVM layout changed: no transientStorage');
    if (!Array.isArray(ts._indices)) throw new ExecutorInvariantError('TransientStorage layout changed: no _indices');
    ts.clear();
    ts._indices = [0];
  }

  private outcomeOf(result: RunTxResult, tx: TypedTransaction, sender: Buffer, hash: Buffer, to: Buffer | null, env: BlockEnv): TxOutcome {
    const { reads, writes, coinbaseDelta } = this.view.accessSets();
    const exec = result.execResult;
    const success = exec.exceptionError === undefined;
    const logs: Log[] = success && exec.logs !== undefined && exec.logs.length > 0 ? detachedLogs(exec.logs) : [];
    let contractAddress: Buffer | null = null;
    if (tx.to === undefined) {
      // As geth's receipts: the address derived from sender and nonce, whether or not creation succeeded.
      contractAddress = toBuffer(createContractAddress(new Address(sender), tx.nonce).bytes);
    }
    const outcome: TxOutcome = {
      status: success ? 'success' : 'reverted',
      gasUsed: result.totalGasSpent,
      logs,
      contractAddress,
      returnData: detached(exec.returnValue),
      writes,
      reads,
      coinbaseDelta,
      txType: tx.type,
      to,
      effectiveGasPrice: effectiveGasPriceOf(tx, env.baseFeePerGas),
      sender,
      hash,
    };
    const error = haltReason(result);
    if (error !== undefined) outcome.error = error;
    if (this.blockchain.pendingRead) outcome.readsPendingBlockHash = true;
    return outcome;
  }

  private invalidOutcome(
    reason: InvalidReason,
    sender: Buffer,
    hash: Buffer,
    txType: number,
    to: Buffer | null,
    effectiveGasPrice: bigint,
  ): TxOutcome {
    // The reads still matter to Block-STM: the verdict depends on the sender's nonce and balance.
    const { reads } = this.view.accessSets();
    return {
      status: 'invalid',
      error: reason.error,
      errorCode: reason.errorCode,
      gasUsed: 0n,
      logs: [],
      contractAddress: null,
      returnData: Buffer.alloc(0),
      writes: new Map(),
      reads,
      coinbaseDelta: 0n,
      txType,
      to,
      effectiveGasPrice,
      sender,
      hash,
    };
  }

  private async callNow(request: CallRequest, env: BlockEnv, source: VersionedStateSource): Promise<CallResult> {
    const block = this.blockFor(env, true);
    this.view.beginTx(source);
    const from = new Address(request.from ?? ZERO_ADDRESS);
    const value = request.value ?? 0n;
    if (value > 0n) {
      const balance = (await this.view.getAccount(from))?.balance ?? 0n;
      if (balance < value) return { success: false, returnData: Buffer.alloc(0), gasUsed: 0n, error: 'insufficient funds for transfer' };
    }
    let tx: TypedTransaction;
    try {
      tx = createLegacyTx(
        {
          to: request.to === null || request.to === undefined ? undefined : request.to,
          data: request.data ?? new Uint8Array(0),
          value,
          gasLimit: request.gasLimit ?? env.gasLimit,
          gasPrice: 0n,
          nonce: 0n,
        },
        { common: this.txCommon, freeze: false },
      );
    } catch (e) {
      return { success: false, returnData: Buffer.alloc(0), gasUsed: 0n, error: `invalid call: ${(e as Error).message}` };
    }
    pinSender(tx, from);
    let result: RunTxResult;
    try {
      // skipNonce: a call needs no nonce; skipBalance: gas is free at price 0 (value was checked above).
      result = await runTxWithoutReceipt(this.vm, {
        tx,
        block,
        skipNonce: true,
        skipBalance: true,
        skipBlockGasLimitValidation: true,
        skipHardForkValidation: true,
        skipReceipt: true,
        afterCall: undefined,
      });
    } catch (e) {
      this.rethrowIfNotInvalid(e);
      return { success: false, returnData: Buffer.alloc(0), gasUsed: 0n, error: classifyRunTxError((e as Error).message).error };
    }
    const out: CallResult = {
      success: result.execResult.exceptionError === undefined,
      returnData: toBuffer(result.execResult.returnValue),
      gasUsed: result.totalGasSpent,
    };
    const error = haltReason(result);
    if (error !== undefined) out.error = error;
    return out;
  }
}

function errorField(error: string | undefined): { error?: string } {
  return error === undefined ? {} : { error };
}
