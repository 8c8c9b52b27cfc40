// Deterministic benchmark workloads: from a seed and options, a genesis (funded accounts and every
// contract pre-deployed with its storage — no deploy phase) and an endless, reproducible sequence
// of signed transactions (native transfers, OpenZeppelin ERC-20 transfers, Uniswap V2 swaps
// through Router02, OpenZeppelin ERC-721 mints, or a mix), with the effect each one intends so
// the expected state can be computed (ledger.ts). Usable without a cluster: the in-process engine
// benchmark and the cluster benchmark (bench/) share it.
import { AbiCoder } from 'ethers';
import type { Genesis } from '../chain/genesis.js';
import { decodeAddress, decodeWord, encodeCall, encodeSwapExactTokensForTokens, SEL } from './abi.js';
import { artifacts } from './artifacts.js';
import { callOn, callAtGenesis, GENESIS_BASE_FEE_WEI, GenesisBuilder, WorkloadSetupError } from './genesisBuilder.js';
import { ExpectedLedger, type ExpectedValue, type TxResult } from './ledger.js';
import { SeededRng } from './rng.js';
import { deriveAccount, signEip1559, type BenchAccount } from './signer.js';
import { MINTER_ROLE, ozAccessControl, ozErc20, word } from './storage.js';
import { WORKLOAD_KINDS, type PoolSpec, type TxEffect, type WorkloadContracts, type WorkloadKind, type WorkloadOptions, type WorkloadSpec, type WorkloadTx } from './types.js';

const ETHER = 10n ** 18n;
export const ACCOUNT_ETH_WEI = 1_000n * ETHER;
export const ACCOUNT_TOKEN_UNITS = 10n ** 24n;
export const POOL_LIQUIDITY_UNITS = 10n ** 26n;
const TOKEN_SUPPLY_UNITS = 10n ** 33n;
const MAX_UINT256 = (1n << 256n) - 1n;
export const MAX_ACCOUNTS = 500_000;
export const MAX_POOLS = 16;
export const TX_FEES = { maxFeePerGas: 2n * GENESIS_BASE_FEE_WEI, maxPriorityFeePerGas: GENESIS_BASE_FEE_WEI };
const GAS_PRICE_WEI = TX_FEES.maxFeePerGas < GENESIS_BASE_FEE_WEI + TX_FEES.maxPriorityFeePerGas ? TX_FEES.maxFeePerGas : GENESIS_BASE_FEE_WEI + TX_FEES.maxPriorityFeePerGas;
const GAS_LIMIT = { transfer: 21_000n, erc20: 100_000n, swap: 250_000n, mint: 300_000n } as const;
/** Share of each kind in the mixed profile. */
export const MIXED_PROFILE = [['transfer', 0.4], ['erc20', 0.3], ['swap', 0.2], ['mint', 0.1]] as const;

type Action = 'transfer' | 'erc20' | 'swap' | 'mint';

export function isWorkloadKind(value: string): value is WorkloadKind {
  return (WORKLOAD_KINDS as readonly string[]).includes(value);
}

export class WorkloadGenerator {
  private readonly rng: SeededRng;
  private readonly nonces: bigint[];
  private emitted = 0;

  private constructor(
    readonly options: Required<WorkloadOptions>,
    readonly accounts: readonly BenchAccount[],
    readonly genesis: Genesis,
    readonly contracts: WorkloadContracts,
    readonly spec: WorkloadSpec,
  ) {
    this.rng = new SeededRng(`txs:${options.seed}`);
    this.nonces = accounts.map(() => 0n);
  }

  static async create(input: WorkloadOptions): Promise<WorkloadGenerator> {
    const options = normalize(input);
    const seed = String(options.seed);
    const accounts = Array.from({ length: options.accounts }, (_, i) => deriveAccount(seed, i));
    const deployer = deriveAccount(`${seed}:deployer`, 0);
    const builder = await GenesisBuilder.create(options.chainId, deployer, 1_000_000n * ETHER);
    const contracts = await deployContracts(builder, options);
    await writeAccountState(builder, accounts, contracts, deployer);
    const genesis = builder.build();
    const spec = makeSpec(accounts, contracts);
    return new WorkloadGenerator(options, accounts, genesis, contracts, spec);
  }

  /** The hot account: recipient of the hot share of transfers, token transfers and mints. */
  get hotAccount(): BenchAccount {
    return this.accounts[0]!;
  }

  /** How many transactions next() has produced so far. */
  get produced(): number {
    return this.emitted;
  }

  /** The next `count` transactions of the sequence, signed. */
  next(count: number): WorkloadTx[] {
    const out: WorkloadTx[] = [];
    for (let i = 0; i < count; i++) out.push(this.one());
    return out;
  }

  /**
   * Restarts an account's nonce sequence at `nonce` (its committed nonce): after a transaction of
   * it was rejected, every later one would be refused as a nonce gap.
   */
  setNextNonce(address: Buffer, nonce: bigint): void {
    const index = this.accounts.findIndex((a) => a.address.equals(address));
    if (index < 0) throw new Error(`setNextNonce: 0x${address.toString('hex')} is not a workload account`);
    this.nonces[index] = nonce;
  }

  /** A model starting at this workload's genesis; apply included txs to it in committed order. */
  newLedger(): ExpectedLedger {
    return new ExpectedLedger(this.spec);
  }

  private one(): WorkloadTx {
    const senderIndex = this.rng.nextInt(this.accounts.length);
    const sender = this.accounts[senderIndex]!;
    const action = this.pickAction();
    const { to, data, value, effect } = this.build(action, sender);
    const nonce = this.nonces[senderIndex]!;
    this.nonces[senderIndex] = nonce + 1n;
    const gasLimit = GAS_LIMIT[action];
    const signed = signEip1559({ chainId: this.options.chainId, nonce, ...TX_FEES, gasLimit, to, value, data }, sender);
    return { ...signed, index: this.emitted++, nonce, gasLimit, effect };
  }

  private pickAction(): Action {
    switch (this.options.workload) {
      case 'transfer': return 'transfer';
      case 'erc20': return 'erc20';
      case 'amm': return 'swap';
      case 'nft': return 'mint';
      case 'mixed': {
        let r = this.rng.nextFloat();
        for (const [action, share] of MIXED_PROFILE) {
          if (r < share) return action;
          r -= share;
        }
        return 'transfer';
      }
    }
  }

  private recipient(): BenchAccount {
    if (this.rng.nextFloat() < this.options.hotShare) return this.hotAccount;
    return this.accounts[this.rng.nextInt(this.accounts.length)]!;
  }

  private build(action: Action, sender: BenchAccount): { to: Buffer; data: Buffer; value: bigint; effect: TxEffect } {
    const c = this.contracts;
    switch (action) {
      case 'transfer': {
        const to = this.recipient().address;
        const value = this.rng.nextBigInt(1n, 1_000_000n) * 1_000_000_000n;
        return { to, data: Buffer.alloc(0), value, effect: { kind: 'transfer', to, value } };
      }
      case 'erc20': {
        const token = c.token!;
        const to = this.recipient().address;
        const amount = this.rng.nextBigInt(1n, 1_000_000n) * 10n ** 12n;
        return { to: token, data: encodeCall(SEL.transfer, to, amount), value: 0n, effect: { kind: 'erc20', token, to, amount } };
      }
      case 'swap': {
        const pools = c.pools.length;
        const pool = this.rng.nextFloat() < this.options.hotShare ? 0 : this.rng.nextInt(pools);
        const p = c.pools[pool]!;
        const zeroForOne = this.rng.nextInt(2) === 0;
        const [tokenIn, tokenOut] = zeroForOne ? [p.token0, p.token1] : [p.token1, p.token0];
        const amountIn = this.rng.nextBigInt(1n, 1_000_000n) * 10n ** 12n;
        const data = encodeSwapExactTokensForTokens(amountIn, 0n, tokenIn, tokenOut, sender.address, MAX_UINT256);
        return { to: c.router!, data, value: 0n, effect: { kind: 'swap', pool, tokenIn, tokenOut, amountIn } };
      }
      case 'mint': {
        const to = this.recipient().address;
        return { to: c.nft!, data: encodeCall(SEL.mint, to), value: 0n, effect: { kind: 'mint', collection: c.nft!, to } };
      }
    }
  }
}

function normalize(input: WorkloadOptions): Required<WorkloadOptions> {
  if (!isWorkloadKind(input.workload)) throw new RangeError(`workload must be one of ${WORKLOAD_KINDS.join(', ')}, got ${String(input.workload)}`);
  if (!Number.isInteger(input.accounts) || input.accounts < 1 || input.accounts > MAX_ACCOUNTS) throw new RangeError(`accounts must be an integer in 1 … ${MAX_ACCOUNTS}, got ${input.accounts}`);
  if (!(input.hotShare >= 0 && input.hotShare <= 1)) throw new RangeError(`hotShare must be in [0, 1], got ${input.hotShare}`);
  const pools = input.pools ?? 2;
  if (!Number.isInteger(pools) || pools < 1 || pools > MAX_POOLS) throw new RangeError(`pools must be an integer in 1 … ${MAX_POOLS}, got ${pools}`);
  return { ...input, pools };
}

const abi = AbiCoder.defaultAbiCoder();
const uses = (kind: WorkloadKind, ...any: WorkloadKind[]): boolean => kind === 'mixed' || any.includes(kind);

async function deployContracts(builder: GenesisBuilder, options: Required<WorkloadOptions>): Promise<WorkloadContracts> {
  const contracts: WorkloadContracts = { quoteTokens: [], pools: [] };
  const owner = builder.deployerAddress;
  const erc20 = artifacts.erc20().bytecode;
  const deployToken = (name: string, symbol: string): Promise<Buffer> =>
    builder.deploy(erc20, Buffer.from(abi.encode(['string', 'string', 'uint256', 'address'], [name, symbol, TOKEN_SUPPLY_UNITS, '0x' + owner.toString('hex')]).slice(2), 'hex'), `ERC-20 ${symbol}`);
  if (uses(options.workload, 'erc20')) contracts.token = await deployToken('Lanes Bench Token', 'LBT');
  if (uses(options.workload, 'amm')) {
    contracts.baseToken = await deployToken('Lanes Base', 'BASE');
    for (let i = 0; i < options.pools; i++) contracts.quoteTokens.push(await deployToken(`Lanes Quote ${i}`, `Q${i}`));
    const factory = await builder.deploy(artifacts.uniswapFactory().bytecode, word(BigInt('0x' + owner.toString('hex'))), 'UniswapV2Factory');
    contracts.factory = factory;
    // WETH is never used by token-to-token swaps; the deployer's address stands in for it.
    contracts.router = await builder.deploy(artifacts.uniswapRouter().bytecode, Buffer.concat([word(BigInt('0x' + factory.toString('hex'))), word(BigInt('0x' + owner.toString('hex')))]), 'UniswapV2Router02');
    for (const quote of contracts.quoteTokens) contracts.pools.push(await createPool(builder, factory, contracts.baseToken, quote, owner));
  }
  if (uses(options.workload, 'nft')) {
    contracts.nft = await builder.deploy(artifacts.erc721().bytecode, Buffer.from(abi.encode(['string', 'string', 'string'], ['Lanes Bench NFT', 'LBN', 'lanes://nft/']).slice(2), 'hex'), 'ERC721PresetMinterPauserAutoId');
  }
  return contracts;
}

async function createPool(builder: GenesisBuilder, factory: Buffer, base: Buffer, quote: Buffer, owner: Buffer): Promise<PoolSpec> {
  await builder.send(factory, encodeCall(SEL.createPair, base, quote), 'createPair');
  const pair = decodeAddress(await callOn(builder.reference, builder.chainId, factory, encodeCall(SEL.getPair, base, quote)));
  await builder.send(base, encodeCall(SEL.transfer, pair, POOL_LIQUIDITY_UNITS), 'add base liquidity');
  await builder.send(quote, encodeCall(SEL.transfer, pair, POOL_LIQUIDITY_UNITS), 'add quote liquidity');
  await builder.send(pair, encodeCall(SEL.mint, owner), 'pair.mint');
  const reserves = await callOn(builder.reference, builder.chainId, pair, encodeCall(SEL.getReserves));
  const [token0, token1] = Buffer.compare(base, quote) < 0 ? [base, quote] : [quote, base];
  return { pair, token0, token1, reserve0: decodeWord(reserves, 0), reserve1: decodeWord(reserves, 1) };
}

/** ETH, token balances, router allowances and minter roles of every account, written as storage. */
async function writeAccountState(builder: GenesisBuilder, accounts: readonly BenchAccount[], c: WorkloadContracts, deployer: BenchAccount): Promise<void> {
  const userTokens = [c.token, c.baseToken, ...c.quoteTokens].filter((t): t is Buffer => t !== undefined);
  const writeOne = (account: BenchAccount): void => {
    builder.fund(account.address, ACCOUNT_ETH_WEI);
    for (const token of userTokens) builder.setStorage(token, ozErc20.balanceSlot(account.address), word(ACCOUNT_TOKEN_UNITS));
    if (c.router !== undefined) {
      for (const token of [c.baseToken!, ...c.quoteTokens]) builder.setStorage(token, ozErc20.allowanceSlot(account.address, c.router), word(MAX_UINT256));
    }
    if (c.nft !== undefined) builder.setStorage(c.nft, ozAccessControl.memberSlot(MINTER_ROLE, account.address), word(1n));
  };
  // The first account alone, then a check through eth_call that the slots are the ones the
  // contracts read: a wrong storage layout fails here, not as reverts in a benchmark.
  writeOne(accounts[0]!);
  await checkLayout(builder, accounts[0]!, c);
  for (const account of accounts.slice(1)) writeOne(account);
  // Whatever the accounts hold came out of the deployer's supply, so totalSupply stays true.
  for (const token of userTokens) {
    const deployerBalance = await builderTokenBalance(builder, token, deployer.address);
    const given = ACCOUNT_TOKEN_UNITS * BigInt(accounts.length);
    if (given > deployerBalance) throw new WorkloadSetupError(`token supply too small for ${accounts.length} accounts`);
    builder.setStorage(token, ozErc20.balanceSlot(deployer.address), word(deployerBalance - given));
  }
}

async function builderTokenBalance(builder: GenesisBuilder, token: Buffer, holder: Buffer): Promise<bigint> {
  return decodeWord(await callOn(builder.reference, builder.chainId, token, encodeCall(SEL.balanceOf, holder)));
}

async function checkLayout(builder: GenesisBuilder, account: BenchAccount, c: WorkloadContracts): Promise<void> {
  const genesis = builder.build();
  const expectWord = async (to: Buffer, data: Buffer, want: bigint, what: string): Promise<void> => {
    const got = decodeWord(await callAtGenesis(genesis, to, data));
    if (got !== want) throw new WorkloadSetupError(`storage layout check failed: ${what} is ${got}, expected ${want}`);
  };
  const token = c.token ?? c.baseToken;
  if (token !== undefined) await expectWord(token, encodeCall(SEL.balanceOf, account.address), ACCOUNT_TOKEN_UNITS, 'ERC-20 balanceOf');
  if (c.router !== undefined) await expectWord(c.baseToken!, encodeCall(SEL.allowance, account.address, c.router), MAX_UINT256, 'ERC-20 allowance to the router');
  if (c.nft !== undefined) await expectWord(c.nft, encodeCall(SEL.hasRole, MINTER_ROLE, account.address), 1n, 'ERC-721 hasRole(MINTER_ROLE)');
}

function makeSpec(accounts: readonly BenchAccount[], c: WorkloadContracts): WorkloadSpec {
  const isAccount = new Set(accounts.map((a) => a.address.toString('hex')));
  const userTokens = new Set([c.token, c.baseToken, ...c.quoteTokens].filter((t): t is Buffer => t !== undefined).map((t) => t.toString('hex')));
  const poolHolding = new Map<string, bigint>();
  for (const p of c.pools) {
    poolHolding.set(`${p.token0.toString('hex')}:${p.pair.toString('hex')}`, p.reserve0);
    poolHolding.set(`${p.token1.toString('hex')}:${p.pair.toString('hex')}`, p.reserve1);
  }
  return {
    gasPriceWei: GAS_PRICE_WEI,
    initialNonce: () => 0n,
    initialEth: (a) => (isAccount.has(a.toString('hex')) ? ACCOUNT_ETH_WEI : 0n),
    initialToken: (token, holder) => {
      const t = token.toString('hex');
      const h = holder.toString('hex');
      if (userTokens.has(t) && isAccount.has(h)) return ACCOUNT_TOKEN_UNITS;
      const pooled = poolHolding.get(`${t}:${h}`);
      if (pooled !== undefined) return pooled;
      throw new Error(`workload spec: no initial balance known for token 0x${t} holder 0x${h}`);
    },
    initialNft: () => 0n,
    initialNftSupply: () => 0n,
    pools: c.pools,
  };
}

export interface GeneratedWorkload {
  genesis: Genesis;
  accounts: readonly BenchAccount[];
  contracts: WorkloadContracts;
  txs: WorkloadTx[];
  /** State after every tx succeeds in the given order (ETH only where the fee is known). */
  expected: ExpectedValue[];
  generator: WorkloadGenerator;
}

/**
 * One-shot form: genesis, `txCount` signed transactions in order, and the state they imply when
 * all succeed in that order. Same seed and options → identical output.
 */
export async function generateWorkload(options: WorkloadOptions & { txCount: number }): Promise<GeneratedWorkload> {
  const generator = await WorkloadGenerator.create(options);
  const txs = generator.next(options.txCount);
  const ledger = generator.newLedger();
  const success: TxResult = { status: 'success' };
  for (const tx of txs) ledger.apply(tx, success);
  return { genesis: generator.genesis, accounts: generator.accounts, contracts: generator.contracts, txs, expected: ledger.expectations(), generator };
}
