// The Ethereum JSON-RPC methods ingress serves, as plain async functions of (params, context).
// Framing (HTTP, WebSocket, batches, limits) is in rpc.ts; formatting in format.ts.
import type { Common } from '@ethereumjs/common';
import { decodeTransaction } from '../../lib/chain/decode.js';
import { ExecutionRevertedError, RpcError, RpcErrorCode, invalidParams, limitExceeded } from '../../lib/chain/errors.js';
import { accountKey, codeKey, decodeAccount, EMPTY_CODE_HASH, keyToBytes, storageKey } from '../../lib/state/keys.js';
import type { BlockResponse, CallRequest, TopicFilter, TxLookup } from '../../gen/lanes/v1/bus.js';
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import type { IngressBackend } from './backend.js';
import type { ChainView } from './chainView.js';
import { bytesToBigint, formatBlock, formatLogEntry, formatReceipt, formatTx, type JsonObject } from './format.js';
import {
  data, fixedData, parseAddress, parseData, parseHash, parseQuantity, parseUint64, quantity,
} from './hex.js';
import type { PendingTxs } from './pending.js';
import type { TxSubmitter } from './submit.js';

export interface MethodContext {
  backend: IngressBackend;
  chain: ChainView;
  submitter: TxSubmitter;
  pending: PendingTxs;
  common: Common;
  chainId: bigint;
  clientVersion: string;
  limits: MethodLimits;
}

export interface MethodLimits {
  /** Widest eth_getLogs block range. */
  maxLogsRange: number;
  /** Most logs one eth_getLogs returns; more is a -32005 error asking for a narrower range. */
  maxLogs: number;
  /** Most blocks one eth_feeHistory covers (geth: 1024). */
  maxFeeHistoryBlocks: number;
  /** Most reward percentiles in one eth_feeHistory (geth: 100). */
  maxRewardPercentiles: number;
}

export type MethodHandler = (params: unknown[], ctx: MethodContext) => Promise<unknown> | unknown;

/** The tip ingress suggests (eth_maxPriorityFeePerGas, part of eth_gasPrice). */
export const SUGGESTED_TIP_WEI = 1_000_000_000n;

function arity(params: unknown[], min: number, max: number): void {
  if (params.length < min) throw invalidParams(`missing value for required argument ${params.length}`);
  if (params.length > max) throw invalidParams(`too many arguments, want at most ${max}`);
}

// ---------------------------------------------------------------------------------------------
// Block tags

/** A block to read committed state at: `height` for lanes.state.read (0 = latest). */
async function stateHeight(tag: unknown, ctx: MethodContext): Promise<bigint | 'latest'> {
  const number = await resolveBlockNumber(tag ?? 'latest', ctx);
  if (number === 'latest') return 'latest';
  const head = await ctx.chain.latest();
  const headNumber = head?.number ?? 0n;
  if (number > headNumber) throw new RpcError(RpcErrorCode.Server, 'header not found');
  return number;
}

/** Tags latest/pending/safe/finalized → 'latest'; earliest → 0; numbers and EIP-1898 objects. */
async function resolveBlockNumber(tag: unknown, ctx: MethodContext): Promise<bigint | 'latest'> {
  if (typeof tag === 'string') {
    switch (tag) {
      case 'latest': case 'pending': case 'safe': case 'finalized': return 'latest';
      case 'earliest': return 0n;
      default: return parseUint64(tag, 'block number');
    }
  }
  if (typeof tag === 'object' && tag !== null && !Array.isArray(tag)) {
    const spec = tag as { blockNumber?: unknown; blockHash?: unknown };
    if (spec.blockHash !== undefined) {
      const res = await ctx.backend.block({ number: 0n, hash: parseHash(spec.blockHash, 'blockHash'), latest: false });
      if (!res.found || res.header === undefined) throw new RpcError(RpcErrorCode.Server, `header for hash not found`);
      return res.header.number;
    }
    if (spec.blockNumber !== undefined) return resolveBlockNumber(spec.blockNumber, ctx);
  }
  throw invalidParams('block: expected a tag, a hex number or {blockNumber}/{blockHash}');
}

async function latestNumber(ctx: MethodContext): Promise<bigint> {
  return (await ctx.chain.latest())?.number ?? 0n;
}

async function fetchBlock(ctx: MethodContext, by: { number?: bigint | 'latest'; hash?: Buffer }): Promise<BlockResponse> {
  if (by.hash !== undefined) return ctx.backend.block({ number: 0n, hash: by.hash, latest: false });
  if (by.number === 'latest' || by.number === undefined) return ctx.backend.block({ number: 0n, hash: Buffer.alloc(0), latest: true });
  return ctx.backend.block({ number: by.number, hash: Buffer.alloc(0), latest: false });
}

function blockResult(res: BlockResponse, full: boolean, ctx: MethodContext): JsonObject | null {
  if (!res.found || res.header === undefined) return null;
  ctx.chain.observe(res.header);
  const decoded = full ? res.txs.map((tx) => decodeTransaction(tx.raw, ctx.common)) : undefined;
  return formatBlock(res.header, res.txs, decoded);
}

function parseBool(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidParams(`${what}: expected a boolean`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// State

async function readAccount(address: Buffer, height: bigint | 'latest', ctx: MethodContext): Promise<{ nonce: bigint; balance: bigint; codeHash: Uint8Array }> {
  const { entries } = await ctx.backend.readState([keyToBytes(accountKey(address))], height);
  const entry = entries[0]!;
  if (entry.absent || entry.value.length === 0) return { nonce: 0n, balance: 0n, codeHash: EMPTY_CODE_HASH };
  return decodeAccount(entry.value);
}

/** A storage slot as geth accepts it: hex of at most 32 bytes, left-padded. */
function parseSlot(value: unknown): Buffer {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{0,64}$/.test(value)) throw invalidParams('storage slot: expected hex of at most 32 bytes');
  return Buffer.from(value.slice(2).padStart(64, '0'), 'hex');
}

// ---------------------------------------------------------------------------------------------
// eth_call / eth_estimateGas

function callRequest(param: unknown, height: bigint | 'latest', estimate: boolean): CallRequest {
  if (typeof param !== 'object' || param === null || Array.isArray(param)) throw invalidParams('call: expected a transaction object');
  const call = param as Record<string, unknown>;
  const input = call['input'] ?? call['data'];
  if (call['input'] !== undefined && call['data'] !== undefined && call['input'] !== call['data']) {
    throw invalidParams('both "data" and "input" are set and not equal');
  }
  const gasPrice = call['gasPrice'] ?? call['maxFeePerGas'];
  return {
    from: call['from'] === undefined || call['from'] === null ? Buffer.alloc(20) : parseAddress(call['from'], 'from'),
    to: call['to'] === undefined || call['to'] === null ? Buffer.alloc(0) : parseAddress(call['to'], 'to'),
    data: input === undefined || input === null ? Buffer.alloc(0) : parseData(input, 'data'),
    value: call['value'] === undefined || call['value'] === null ? Buffer.alloc(0) : bigintBytes(parseQuantity(call['value'], 'value')),
    gas: call['gas'] === undefined || call['gas'] === null ? 0n : parseUint64(call['gas'], 'gas'),
    height: height === 'latest' ? 0n : height,
    latest: height === 'latest',
    estimate,
    gasPrice: gasPrice === undefined || gasPrice === null ? Buffer.alloc(0) : bigintBytes(parseQuantity(gasPrice, 'gasPrice')),
  };
}

async function runCall(params: unknown[], ctx: MethodContext, estimate: boolean): Promise<{ returnData: Buffer; gasUsed: bigint }> {
  arity(params, 1, 3);
  const height = await stateHeight(params[1], ctx);
  const res = await ctx.backend.call(callRequest(params[0], height, estimate));
  if (res.success) return { returnData: res.returnData, gasUsed: res.gasUsed };
  const reverted = res.errorCode === RpcErrorCode.ExecutionReverted
    || (res.errorCode === 0 && (res.returnData.length > 0 || res.error.startsWith('execution reverted')));
  if (reverted) {
    const reason = res.error.startsWith('execution reverted: ') ? res.error.slice('execution reverted: '.length) : undefined;
    throw new ExecutionRevertedError(res.returnData, reason);
  }
  throw new RpcError(res.errorCode !== 0 ? res.errorCode : RpcErrorCode.Server, res.error || 'execution failed');
}

// ---------------------------------------------------------------------------------------------
// Transactions and receipts

async function lookupOne(hash: Buffer, ctx: MethodContext): Promise<TxLookup | undefined> {
  const [lookup] = await ctx.backend.lookupTxs([hash]);
  return lookup;
}

async function getTransactionByHash(params: unknown[], ctx: MethodContext): Promise<JsonObject | null> {
  arity(params, 1, 1);
  const hash = parseHash(params[0], 'transaction hash');
  const lookup = await lookupOne(hash, ctx);
  if (lookup?.found && lookup.tx !== undefined && lookup.receipt !== undefined) {
    return formatTx(decodeTransaction(lookup.tx.raw, ctx.common), {
      blockHash: lookup.blockHash,
      blockNumber: lookup.blockNumber,
      index: lookup.receipt.txIndex,
      effectiveGasPrice: bytesToBigint(lookup.receipt.effectiveGasPrice),
    });
  }
  if (lookup?.rejection !== undefined) return null;
  const pending = ctx.pending.get(hash);
  return pending === undefined ? null : formatTx(decodeTransaction(pending.raw, ctx.common), undefined);
}

async function getTransactionReceipt(params: unknown[], ctx: MethodContext): Promise<JsonObject | null> {
  arity(params, 1, 1);
  const lookup = await lookupOne(parseHash(params[0], 'transaction hash'), ctx);
  if (!lookup?.found || lookup.receipt === undefined) return null;
  return formatReceipt(lookup.receipt, { blockHash: lookup.blockHash, blockNumber: lookup.blockNumber });
}

async function sendRawTransaction(params: unknown[], ctx: MethodContext): Promise<string> {
  arity(params, 1, 1);
  const raw = parseData(params[0], 'raw transaction');
  const [outcome] = await ctx.submitter.submit([raw]);
  if (outcome?.error !== undefined) throw outcome.error;
  return fixedData(outcome!.hash!, 32);
}

// ---------------------------------------------------------------------------------------------
// Logs

function topicFilters(value: unknown): TopicFilter[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 4) throw invalidParams('topics: expected at most 4 entries');
  return value.map((entry, i) => {
    if (entry === null) return { anyOf: [] };
    if (Array.isArray(entry)) {
      if (entry.some((t) => t === null)) return { anyOf: [] };
      return { anyOf: entry.map((t) => parseHash(t, `topics[${i}]`)) };
    }
    return { anyOf: [parseHash(entry, `topics[${i}]`)] };
  });
}

async function getLogs(params: unknown[], ctx: MethodContext): Promise<JsonObject[]> {
  arity(params, 1, 1);
  const filter = params[0];
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw invalidParams('filter: expected an object');
  const f = filter as Record<string, unknown>;
  const addressList = f['address'] === undefined || f['address'] === null ? [] : Array.isArray(f['address']) ? f['address'] : [f['address']];
  const addresses = addressList.map((a, i) => parseAddress(a, `address[${i}]`));
  const topics = topicFilters(f['topics']);
  const limit = ctx.limits.maxLogs + 1;
  let fromBlock = 0n;
  let toBlock = 0n;
  let blockHash: Buffer = Buffer.alloc(0);
  if (f['blockHash'] !== undefined && f['blockHash'] !== null) {
    if (f['fromBlock'] !== undefined || f['toBlock'] !== undefined) throw invalidParams('cannot specify both blockHash and fromBlock/toBlock');
    blockHash = parseHash(f['blockHash'], 'blockHash');
  } else {
    const head = await latestNumber(ctx);
    const from = await resolveBlockNumber(f['fromBlock'] ?? 'latest', ctx);
    const to = await resolveBlockNumber(f['toBlock'] ?? 'latest', ctx);
    fromBlock = from === 'latest' ? head : from;
    toBlock = to === 'latest' ? head : to;
    if (toBlock > head) toBlock = head;
    if (fromBlock > toBlock) return [];
    if (toBlock - fromBlock + 1n > BigInt(ctx.limits.maxLogsRange)) {
      throw limitExceeded(`block range ${toBlock - fromBlock + 1n} exceeds ${ctx.limits.maxLogsRange} blocks`);
    }
  }
  const res = await ctx.backend.logs({ fromBlock, toBlock, addresses, topics, blockHash, limit });
  if (res.error !== '') throw new RpcError(/limit|exceed|too many/i.test(res.error) ? RpcErrorCode.LimitExceeded : RpcErrorCode.Server, res.error);
  if (res.logs.length > ctx.limits.maxLogs) throw limitExceeded(`query returned more than ${ctx.limits.maxLogs} results`);
  return res.logs.map(formatLogEntry);
}

// ---------------------------------------------------------------------------------------------
// Fees

async function headerAt(number: bigint, ctx: MethodContext): Promise<BlockHeader | undefined> {
  const cached = ctx.chain.recentHeader(number);
  if (cached !== undefined) return cached;
  const res = await fetchBlock(ctx, { number });
  return res.found ? res.header : undefined;
}

function parseBlockCount(value: unknown): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) return BigInt(value);
  return parseUint64(value, 'blockCount');
}

function parsePercentiles(value: unknown, max: number): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > max) throw invalidParams(`reward percentiles: expected at most ${max} numbers`);
  let previous = -1;
  return value.map((p) => {
    if (typeof p !== 'number' || !(p >= 0 && p <= 100) || p < previous) throw invalidParams('reward percentiles: expected ascending numbers in [0, 100]');
    previous = p;
    return p;
  });
}

/** Rewards (effective tips) at the given gas-weighted percentiles of one block, like geth. */
async function blockRewards(header: BlockHeader, percentiles: number[], ctx: MethodContext): Promise<string[]> {
  if (header.txCount === 0 || header.gasUsed === 0n) return percentiles.map(() => '0x0');
  const block = await fetchBlock(ctx, { hash: header.hash });
  const lookups = await ctx.backend.lookupTxs(block.txs.map((tx) => tx.hash));
  const baseFee = bytesToBigint(header.baseFeePerGas);
  const tips = lookups
    .filter((l) => l.receipt !== undefined)
    .map((l) => ({ tip: bytesToBigint(l.receipt!.effectiveGasPrice) - baseFee, gasUsed: l.receipt!.gasUsed }))
    .sort((a, b) => (a.tip < b.tip ? -1 : a.tip > b.tip ? 1 : 0));
  if (tips.length === 0) return percentiles.map(() => '0x0');
  return percentiles.map((p) => {
    const threshold = (Number(header.gasUsed) * p) / 100;
    let sum = 0;
    for (const t of tips) {
      sum += Number(t.gasUsed);
      if (sum >= threshold) return quantity(t.tip > 0n ? t.tip : 0n);
    }
    const last = tips[tips.length - 1]!.tip;
    return quantity(last > 0n ? last : 0n);
  });
}

async function feeHistory(params: unknown[], ctx: MethodContext): Promise<JsonObject> {
  arity(params, 2, 3);
  let count = parseBlockCount(params[0]);
  if (count > BigInt(ctx.limits.maxFeeHistoryBlocks)) count = BigInt(ctx.limits.maxFeeHistoryBlocks);
  const percentiles = parsePercentiles(params[2], ctx.limits.maxRewardPercentiles);
  const head = await latestNumber(ctx);
  const newestTag = await resolveBlockNumber(params[1], ctx);
  const newest = newestTag === 'latest' ? head : newestTag;
  if (newest > head) throw new RpcError(RpcErrorCode.Server, `request beyond head block: requested ${newest}, head ${head}`);
  if (count > newest + 1n) count = newest + 1n;
  if (count === 0n) return { oldestBlock: quantity(newest), baseFeePerGas: [], gasUsedRatio: [] };
  const oldest = newest - count + 1n;
  const headers: BlockHeader[] = [];
  for (let n = oldest; n <= newest; n++) {
    const header = await headerAt(n, ctx);
    if (header === undefined) throw new RpcError(RpcErrorCode.Server, `header ${n} not found`);
    headers.push(header);
  }
  const baseFees = headers.map((h) => quantity(bytesToBigint(h.baseFeePerGas)));
  // The next block's base fee: Lanes carries the head's base fee forward (see ChainView).
  baseFees.push(baseFees[baseFees.length - 1]!);
  const result: JsonObject = {
    oldestBlock: quantity(oldest),
    baseFeePerGas: baseFees,
    gasUsedRatio: headers.map((h) => (h.gasLimit === 0n ? 0 : Number(h.gasUsed) / Number(h.gasLimit))),
  };
  if (percentiles !== undefined) {
    const rewards: string[][] = [];
    for (const header of headers) rewards.push(await blockRewards(header, percentiles, ctx));
    result['reward'] = rewards;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The table

export const METHODS: ReadonlyMap<string, MethodHandler> = new Map<string, MethodHandler>([
  ['eth_chainId', (p, ctx) => { arity(p, 0, 0); return quantity(ctx.chainId); }],
  ['net_version', (p, ctx) => { arity(p, 0, 0); return ctx.chainId.toString(10); }],
  ['net_listening', (p) => { arity(p, 0, 0); return true; }],
  ['web3_clientVersion', (p, ctx) => { arity(p, 0, 0); return ctx.clientVersion; }],
  ['eth_syncing', (p) => { arity(p, 0, 0); return false; }],
  ['eth_accounts', (p) => { arity(p, 0, 0); return []; }],
  ['eth_blockNumber', async (p, ctx) => { arity(p, 0, 0); return quantity(await latestNumber(ctx)); }],
  ['eth_gasPrice', async (p, ctx) => { arity(p, 0, 0); await ctx.chain.latest(); return quantity(ctx.chain.baseFeePerGas() + SUGGESTED_TIP_WEI); }],
  ['eth_maxPriorityFeePerGas', (p) => { arity(p, 0, 0); return quantity(SUGGESTED_TIP_WEI); }],
  ['eth_feeHistory', feeHistory],
  ['eth_getBalance', async (p, ctx) => {
    arity(p, 1, 2);
    const address = parseAddress(p[0], 'address');
    return quantity((await readAccount(address, await stateHeight(p[1], ctx), ctx)).balance);
  }],
  ['eth_getTransactionCount', async (p, ctx) => {
    arity(p, 1, 2);
    const address = parseAddress(p[0], 'address');
    const committed = (await readAccount(address, await stateHeight(p[1], ctx), ctx)).nonce;
    return quantity(p[1] === 'pending' ? ctx.pending.pendingNonce(address, committed) : committed);
  }],
  ['eth_getCode', async (p, ctx) => {
    arity(p, 1, 2);
    const address = parseAddress(p[0], 'address');
    const height = await stateHeight(p[1], ctx);
    const account = await readAccount(address, height, ctx);
    if (Buffer.compare(Buffer.from(account.codeHash), EMPTY_CODE_HASH) === 0) return '0x';
    const { entries } = await ctx.backend.readState([keyToBytes(codeKey(account.codeHash))], height);
    return data(entries[0]?.value ?? Buffer.alloc(0));
  }],
  ['eth_getStorageAt', async (p, ctx) => {
    arity(p, 2, 3);
    const address = parseAddress(p[0], 'address');
    const slot = parseSlot(p[1]);
    const { entries } = await ctx.backend.readState([keyToBytes(storageKey(address, slot))], await stateHeight(p[2], ctx));
    const entry = entries[0]!;
    return fixedData(entry.absent ? Buffer.alloc(0) : entry.value, 32);
  }],
  ['eth_call', async (p, ctx) => data((await runCall(p, ctx, false)).returnData)],
  ['eth_estimateGas', async (p, ctx) => quantity((await runCall(p, ctx, true)).gasUsed)],
  ['eth_sendRawTransaction', sendRawTransaction],
  ['eth_getTransactionByHash', getTransactionByHash],
  ['eth_getTransactionReceipt', getTransactionReceipt],
  ['eth_getBlockByNumber', async (p, ctx) => {
    arity(p, 1, 2);
    const number = await resolveBlockNumber(p[0], ctx);
    return blockResult(await fetchBlock(ctx, { number }), parseBool(p[1], 'full transactions'), ctx);
  }],
  ['eth_getBlockByHash', async (p, ctx) => {
    arity(p, 1, 2);
    const hash = parseHash(p[0], 'block hash');
    return blockResult(await fetchBlock(ctx, { hash }), parseBool(p[1], 'full transactions'), ctx);
  }],
  ['eth_getBlockTransactionCountByNumber', async (p, ctx) => {
    arity(p, 1, 1);
    const res = await fetchBlock(ctx, { number: await resolveBlockNumber(p[0], ctx) });
    return res.found && res.header !== undefined ? quantity(res.header.txCount) : null;
  }],
  ['eth_getBlockTransactionCountByHash', async (p, ctx) => {
    arity(p, 1, 1);
    const res = await fetchBlock(ctx, { hash: parseHash(p[0], 'block hash') });
    return res.found && res.header !== undefined ? quantity(res.header.txCount) : null;
  }],
  ['eth_getLogs', getLogs],
]);

function bigintBytes(value: bigint): Buffer {
  if (value === 0n) return Buffer.alloc(0);
  let hex = value.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}
