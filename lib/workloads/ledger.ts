// The expected-state model of a workload: what committed state the transactions imply, computed
// with plain bigint arithmetic (Uniswap V2's getAmountOut included), independent of the EVM.
// Feed it the included transactions in committed order with their status; it tracks only the
// state they touch and lists it as queries with expected values, which the result check reads
// back from a cluster (or the engine benchmark compares with its own state).
import { encodeCall, SEL } from './abi.js';
import type { TxEffect, WorkloadSpec, WorkloadTx } from './types.js';

/** How to read one expected value: account nonce, ETH balance, or one word of an eth_call. */
export type StateQuery =
  | { kind: 'nonce'; address: Buffer }
  | { kind: 'balance'; address: Buffer }
  | { kind: 'call'; to: Buffer; data: Buffer; word: number };

export interface ExpectedValue {
  /** Human-readable name, e.g. "erc20 0xab… balanceOf 0xcd…". */
  label: string;
  query: StateQuery;
  value: bigint;
}

/** Included = in a block (success or reverted); invalid transactions change nothing. */
export interface TxResult {
  status: 'success' | 'reverted' | 'invalid';
  /** From the receipt; when absent only plain transfers (21,000 gas) have a known fee. */
  gasUsed?: bigint;
}

const short = (b: Buffer): string => '0x' + b.toString('hex').slice(0, 8) + '…';
export const PLAIN_TRANSFER_GAS = 21_000n;

/** Uniswap V2 getAmountOut (0.3 % fee), exactly as UniswapV2Library computes it. */
export function uniswapAmountOut(amountIn: bigint, reserveIn: bigint, reserveOut: bigint): bigint {
  const amountInWithFee = amountIn * 997n;
  return (amountInWithFee * reserveOut) / (reserveIn * 1000n + amountInWithFee);
}

interface PoolState {
  pair: Buffer;
  token0: Buffer;
  token1: Buffer;
  reserve0: bigint;
  reserve1: bigint;
}

export class ExpectedLedger {
  private readonly nonces = new Map<string, bigint>();
  private readonly eth = new Map<string, bigint>();
  private readonly ethUnknown = new Set<string>();
  private readonly tokens = new Map<string, bigint>();
  private readonly pools: PoolState[];
  private readonly nftBalances = new Map<string, bigint>();
  private readonly nftSupply = new Map<string, bigint>();
  private readonly addressOf = new Map<string, Buffer>();

  constructor(private readonly spec: WorkloadSpec) {
    this.pools = spec.pools.map((p) => ({ ...p }));
  }

  /** Applies one included transaction; call in committed order. */
  apply(tx: WorkloadTx, result: TxResult): void {
    if (result.status === 'invalid') return;
    const sender = this.remember(tx.sender);
    this.nonces.set(sender, this.nonce(sender) + 1n);
    const gasUsed = result.gasUsed ?? (tx.effect.kind === 'transfer' ? PLAIN_TRANSFER_GAS : undefined);
    if (gasUsed === undefined) this.ethUnknown.add(sender);
    else this.eth.set(sender, this.ethOf(sender) - gasUsed * this.spec.gasPriceWei);
    if (result.status === 'success') this.applyEffect(sender, tx.effect);
  }

  private applyEffect(sender: string, effect: TxEffect): void {
    switch (effect.kind) {
      case 'transfer': {
        const to = this.remember(effect.to);
        this.eth.set(sender, this.ethOf(sender) - effect.value);
        this.eth.set(to, this.ethOf(to) + effect.value);
        return;
      }
      case 'erc20':
        this.moveToken(effect.token, sender, this.remember(effect.to), effect.amount);
        return;
      case 'swap': {
        const pool = this.pools[effect.pool];
        if (pool === undefined) throw new Error(`ledger: no pool ${effect.pool}`);
        const inIs0 = effect.tokenIn.equals(pool.token0);
        const [reserveIn, reserveOut] = inIs0 ? [pool.reserve0, pool.reserve1] : [pool.reserve1, pool.reserve0];
        const amountOut = uniswapAmountOut(effect.amountIn, reserveIn, reserveOut);
        const pair = this.remember(pool.pair);
        this.moveToken(effect.tokenIn, sender, pair, effect.amountIn);
        this.moveToken(effect.tokenOut, pair, sender, amountOut);
        if (inIs0) { pool.reserve0 += effect.amountIn; pool.reserve1 -= amountOut; } else { pool.reserve1 += effect.amountIn; pool.reserve0 -= amountOut; }
        return;
      }
      case 'mint': {
        const key = `${effect.collection.toString('hex')}:${this.remember(effect.to)}`;
        this.nftBalances.set(key, (this.nftBalances.get(key) ?? 0n) + 1n);
        const c = effect.collection.toString('hex');
        this.nftSupply.set(c, (this.nftSupply.get(c) ?? 0n) + 1n);
        return;
      }
    }
  }

  private moveToken(token: Buffer, from: string, to: string, amount: bigint): void {
    const t = token.toString('hex');
    this.remember(token);
    const fromKey = `${t}:${from}`;
    const toKey = `${t}:${to}`;
    const fromBalance = this.tokenOf(t, from) - amount;
    if (fromBalance < 0n) throw new Error(`ledger: ${from} would hold a negative balance of token ${t}: the workload must fund it`);
    this.tokens.set(fromKey, fromBalance);
    this.tokens.set(toKey, this.tokenOf(t, to) + amount);
  }

  private remember(address: Buffer): string {
    const hex = address.toString('hex');
    if (!this.addressOf.has(hex)) this.addressOf.set(hex, Buffer.from(address));
    return hex;
  }

  private nonce(address: string): bigint {
    return this.nonces.get(address) ?? this.spec.initialNonce(this.addressOf.get(address)!);
  }

  private ethOf(address: string): bigint {
    return this.eth.get(address) ?? this.spec.initialEth(this.addressOf.get(address)!);
  }

  private tokenOf(token: string, holder: string): bigint {
    return this.tokens.get(`${token}:${holder}`) ?? this.spec.initialToken(this.addressOf.get(token)!, this.addressOf.get(holder)!);
  }

  /** Every value the applied transactions determine, in a stable order. */
  expectations(): ExpectedValue[] {
    const out: ExpectedValue[] = [];
    for (const [a, nonce] of [...this.nonces].sort()) {
      out.push({ label: `nonce ${short(this.addressOf.get(a)!)}`, query: { kind: 'nonce', address: this.addressOf.get(a)! }, value: nonce });
    }
    for (const [a, balance] of [...this.eth].sort()) {
      if (this.ethUnknown.has(a)) continue;
      out.push({ label: `eth ${short(this.addressOf.get(a)!)}`, query: { kind: 'balance', address: this.addressOf.get(a)! }, value: balance });
    }
    for (const [key, balance] of [...this.tokens].sort()) {
      const [t, h] = key.split(':') as [string, string];
      const token = this.addressOf.get(t)!;
      const holder = this.addressOf.get(h)!;
      out.push({ label: `token ${short(token)} balanceOf ${short(holder)}`, query: { kind: 'call', to: token, data: encodeCall(SEL.balanceOf, holder), word: 0 }, value: balance });
    }
    for (const pool of this.pools) {
      const data = encodeCall(SEL.getReserves);
      out.push({ label: `pair ${short(pool.pair)} reserve0`, query: { kind: 'call', to: pool.pair, data, word: 0 }, value: pool.reserve0 });
      out.push({ label: `pair ${short(pool.pair)} reserve1`, query: { kind: 'call', to: pool.pair, data, word: 1 }, value: pool.reserve1 });
    }
    for (const [key, count] of [...this.nftBalances].sort()) {
      const [c, h] = key.split(':') as [string, string];
      const collection = Buffer.from(c, 'hex');
      const holder = this.addressOf.get(h)!;
      out.push({ label: `nft ${short(collection)} balanceOf ${short(holder)}`, query: { kind: 'call', to: collection, data: encodeCall(SEL.balanceOf, holder), word: 0 }, value: this.spec.initialNft(collection, holder) + count });
    }
    for (const [c, minted] of [...this.nftSupply].sort()) {
      const collection = Buffer.from(c, 'hex');
      out.push({ label: `nft ${short(collection)} totalSupply`, query: { kind: 'call', to: collection, data: encodeCall(SEL.totalSupply), word: 0 }, value: this.spec.initialNftSupply(collection) + minted });
    }
    return out;
  }
}
