import { createRequire } from 'node:module';
import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx';
import { privateToAddress } from '@ethereumjs/util';
import { Interface } from 'ethers';
import { beforeAll, describe, expect, it } from 'vitest';
import { chainCommon } from '../chain/common.js';
import {
  EMPTY_CODE_HASH,
  accountKey,
  codeKey,
  decodeAccount,
  encodeAccount,
  keyKind,
  KEY_ACCOUNT,
  storageKey,
  type StateKey,
} from '../state/keys.js';
import { INVALID_TX_ERROR_CODE, TxExecutor, type BlockEnv, type TxInput, type TxOutcome } from './execute.js';
import { BASE_TX_INDEX, MapStateSource, type VersionedRead, type VersionedStateSource } from './stateView.js';

const CHAIN_ID = 7357n;
const GWEI = 1_000_000_000n;
const ETHER = 10n ** 18n;
const common = chainCommon(CHAIN_ID);

const erc20 = createRequire(import.meta.url)('@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json') as {
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
};
const erc20Iface = new Interface(erc20.abi as string[]);

const key = (n: number): Uint8Array => {
  const k = new Uint8Array(32);
  k[31] = n;
  k[0] = 0x42;
  return k;
};
const ALICE_KEY = key(1);
const BOB_KEY = key(2);
const ALICE = Buffer.from(privateToAddress(ALICE_KEY));
const BOB = Buffer.from(privateToAddress(BOB_KEY));
const CAROL = Buffer.from('cc'.repeat(20), 'hex');
const COINBASE = Buffer.from('c0'.repeat(20), 'hex');

const ENV: BlockEnv = {
  chainId: CHAIN_ID,
  number: 100n,
  timestampSec: 1_700_000_000n,
  coinbase: COINBASE,
  gasLimit: 30_000_000n,
  baseFeePerGas: 7n * GWEI,
  prevRandao: Buffer.alloc(32, 9),
  blockHashes: new Map([[99n, Buffer.alloc(32, 0xab)]]),
};

/** A committed state the tests mutate by applying outcomes, like the reference executor. */
class TestState {
  readonly map = new Map<StateKey, Buffer>();
  readonly source = new MapStateSource(this.map);
  constructor(balances: [Buffer, bigint][]) {
    for (const [address, balance] of balances) {
      this.map.set(accountKey(address), encodeAccount({ nonce: 0n, balance, codeHash: EMPTY_CODE_HASH }));
    }
  }
  apply(outcome: TxOutcome): void {
    for (const [k, v] of outcome.writes) {
      if (v === null) this.map.delete(k);
      else this.map.set(k, v);
    }
  }
  account(address: Uint8Array): { nonce: bigint; balance: bigint; codeHash: Uint8Array } {
    const v = this.map.get(accountKey(address));
    return v === undefined ? { nonce: 0n, balance: 0n, codeHash: EMPTY_CODE_HASH } : decodeAccount(v);
  }
}

interface TxParams {
  nonce: bigint;
  to?: Uint8Array;
  value?: bigint;
  data?: Uint8Array;
  gasLimit?: bigint;
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
}

function signed1559(privateKey: Uint8Array, p: TxParams): TxInput {
  const tx = createFeeMarket1559Tx(
    {
      chainId: CHAIN_ID,
      nonce: p.nonce,
      to: p.to,
      value: p.value ?? 0n,
      data: p.data ?? new Uint8Array(0),
      gasLimit: p.gasLimit ?? 100_000n,
      maxFeePerGas: p.maxFeePerGas ?? 20n * GWEI,
      maxPriorityFeePerGas: p.maxPriorityFeePerGas ?? 2n * GWEI,
    },
    { common },
  ).sign(privateKey);
  return { raw: tx.serialize(), hash: tx.hash(), sender: Buffer.from(privateToAddress(privateKey)) };
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/^0x/, ''), 'hex');

function deployErc20Data(supply: bigint, owner: Buffer): Buffer {
  return hex(erc20.bytecode + erc20Iface.encodeDeploy(['Token', 'TOK', supply, '0x' + owner.toString('hex')]).slice(2));
}

const transferData = (to: Buffer, amount: bigint): Buffer =>
  hex(erc20Iface.encodeFunctionData('transfer', ['0x' + to.toString('hex'), amount]));

const balanceOfData = (who: Buffer): Buffer => hex(erc20Iface.encodeFunctionData('balanceOf', ['0x' + who.toString('hex')]));

let executor: TxExecutor;
beforeAll(async () => {
  executor = await TxExecutor.create({ chainId: CHAIN_ID });
});

describe('plain ETH transfer', () => {
  it('moves value, bumps the nonce, pays the tip to the coinbase and burns the base fee', async () => {
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const input = signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: ETHER, gasLimit: 21_000n });
    const out = await executor.execute(input, ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.error).toBeUndefined();
    expect(out.gasUsed).toBe(21_000n);
    expect(out.effectiveGasPrice).toBe(9n * GWEI);
    expect(out.txType).toBe(2);
    expect(out.to).toEqual(BOB);
    expect(out.sender).toEqual(ALICE);
    expect(out.hash).toEqual(Buffer.from(input.hash));
    expect(out.contractAddress).toBeNull();
    expect(out.logs).toEqual([]);
    state.apply(out);

    const alice = state.account(ALICE);
    expect(alice.nonce).toBe(1n);
    expect(alice.balance).toBe(10n * ETHER - ETHER - 21_000n * 9n * GWEI);
    expect(state.account(BOB).balance).toBe(ETHER);
    expect(state.account(COINBASE).balance).toBe(21_000n * 2n * GWEI);
    // Base fee burned: total supply shrank by exactly gasUsed * baseFee.
    const total = alice.balance + state.account(BOB).balance + state.account(COINBASE).balance;
    expect(total).toBe(10n * ETHER - 21_000n * 7n * GWEI);
  });

  it('records the exact read-set and write-set', async () => {
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const out = await executor.execute(signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n }), ENV, state.source);
    expect([...out.reads.keys()].sort()).toEqual([accountKey(ALICE), accountKey(BOB), accountKey(COINBASE)].sort());
    for (const r of out.reads.values()) {
      expect(r.txIndex).toBe(BASE_TX_INDEX);
      expect(r.incarnation).toBe(0);
    }
    expect(out.reads.get(accountKey(BOB))!.value).toBeNull();
    expect([...out.writes.keys()].sort()).toEqual([accountKey(ALICE), accountKey(BOB), accountKey(COINBASE)].sort());
    expect(decodeAccount(out.writes.get(accountKey(BOB))!)).toEqual({ nonce: 0n, balance: 5n, codeHash: EMPTY_CODE_HASH });
  });

  it('uses the sender ingress recovered, without recovering the signature again', async () => {
    // Signed by Alice but handed over as Bob's: the executor must trust the given sender.
    const state = new TestState([[BOB, 10n * ETHER]]);
    const signedByAlice = signed1559(ALICE_KEY, { nonce: 0n, to: CAROL, value: 5n, gasLimit: 21_000n });
    const out = await executor.execute({ ...signedByAlice, sender: BOB }, ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.sender).toEqual(BOB);
    state.apply(out);
    expect(state.account(BOB).nonce).toBe(1n);
    expect(state.account(ALICE).nonce).toBe(0n);
  });

  it('a zero-tip transaction does not write the coinbase', async () => {
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const input = signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n, maxPriorityFeePerGas: 0n });
    const out = await executor.execute(input, ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.writes.has(accountKey(COINBASE))).toBe(false);
  });

  it('executes a legacy (EIP-155) transaction', async () => {
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const tx = createLegacyTx({ nonce: 0n, to: BOB, value: 3n, gasLimit: 21_000n, gasPrice: 10n * GWEI }, { common }).sign(ALICE_KEY);
    const out = await executor.execute({ raw: tx.serialize(), hash: tx.hash(), sender: ALICE }, ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.txType).toBe(0);
    expect(out.effectiveGasPrice).toBe(10n * GWEI);
    state.apply(out);
    expect(state.account(COINBASE).balance).toBe(21_000n * 3n * GWEI);
  });
});

describe('coinbase-delta mode', () => {
  it('reports the tip as a delta without reading or writing the coinbase', async () => {
    const deltas = await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true });
    const state = new TestState([[ALICE, 10n * ETHER], [COINBASE, 3n]]);
    const out = await deltas.execute(signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n }), ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.coinbaseDelta).toBe(21_000n * 2n * GWEI);
    expect(out.reads.has(accountKey(COINBASE))).toBe(false);
    expect(out.writes.has(accountKey(COINBASE))).toBe(false);
    // The plain executor's coinbase write equals base + delta.
    const plain = await executor.execute(signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n }), ENV, state.source);
    expect(plain.coinbaseDelta).toBe(0n);
    expect(decodeAccount(plain.writes.get(accountKey(COINBASE))!).balance).toBe(3n + out.coinbaseDelta);
  });

  it('leaves the EVM as the plain mode has it: the same own properties, in the same order', async () => {
    // A process that runs both modes (the scheduler, an executor) then gives every EVM method one
    // shape to meet. Coinbase-delta mode once wrapped the EVM's runCall in an own property.
    const [deltas, plain] = await Promise.all([TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true }), TxExecutor.create({ chainId: CHAIN_ID })]);
    const evmOf = (x: TxExecutor): object => (x as unknown as { vm: { evm: object } }).vm.evm;
    expect(Object.keys(evmOf(deltas))).toEqual(Object.keys(evmOf(plain)));
    // The EVM takes more properties as it runs (the tx, the block): the same ones in both modes.
    for (const x of [deltas, plain]) {
      const state = new TestState([[ALICE, 10n * ETHER]]);
      expect((await x.execute(signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n }), ENV, state.source)).status).toBe('success');
    }
    expect(Object.keys(evmOf(deltas))).toEqual(Object.keys(evmOf(plain)));
  });

  it('falls back to a normal read and write when the transaction touches the coinbase itself', async () => {
    const deltas = await TxExecutor.create({ chainId: CHAIN_ID, coinbaseDeltas: true });
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const out = await deltas.execute(signed1559(ALICE_KEY, { nonce: 0n, to: COINBASE, value: 5n, gasLimit: 21_000n }), ENV, state.source);
    expect(out.coinbaseDelta).toBe(0n);
    expect(out.reads.has(accountKey(COINBASE))).toBe(true);
    expect(decodeAccount(out.writes.get(accountKey(COINBASE))!).balance).toBe(5n + 21_000n * 2n * GWEI);
  });
});

describe('invalid transactions', () => {
  const cases: [string, (s: TestState) => TxInput, string][] = [
    ['nonce too low', () => signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 1n }), 'nonce too low'],
    ['nonce too high', () => signed1559(ALICE_KEY, { nonce: 9n, to: BOB, value: 1n }), 'nonce too high'],
    ['insufficient funds', () => signed1559(ALICE_KEY, { nonce: 1n, to: BOB, value: 100n * ETHER }), 'insufficient funds for gas * price + value'],
    ['max fee below base fee', () => signed1559(ALICE_KEY, { nonce: 1n, to: BOB, maxFeePerGas: GWEI, maxPriorityFeePerGas: GWEI }), 'max fee per gas less than block base fee'],
    ['intrinsic gas too low', () => signed1559(ALICE_KEY, { nonce: 1n, to: BOB, gasLimit: 20_000n }), 'intrinsic gas too low'],
  ];
  for (const [name, make, error] of cases) {
    it(`${name} → invalid, no writes`, async () => {
      const state = new TestState([[ALICE, 10n * ETHER]]);
      state.map.set(accountKey(ALICE), encodeAccount({ nonce: 1n, balance: 10n * ETHER, codeHash: EMPTY_CODE_HASH }));
      const out = await executor.execute(make(state), ENV, state.source);
      expect(out.status).toBe('invalid');
      expect(out.error).toBe(error);
      expect(out.errorCode).toBe(INVALID_TX_ERROR_CODE);
      expect(out.writes.size).toBe(0);
      expect(out.gasUsed).toBe(0n);
      expect(out.reads.has(accountKey(ALICE))).toBe(true);
    });
  }

  it('undecodable bytes → invalid', async () => {
    const state = new TestState([]);
    const out = await executor.execute({ raw: Buffer.from([0x02, 0xc0, 0x01]), hash: Buffer.alloc(32), sender: ALICE }, ENV, state.source);
    expect(out.status).toBe('invalid');
    expect(out.error).toMatch(/^undecodable transaction/);
    expect(out.writes.size).toBe(0);
  });
});

describe('ERC-20', () => {
  const supply = 1_000_000n * ETHER;
  let state: TestState;
  let token: Buffer;

  beforeAll(async () => {
    state = new TestState([[ALICE, 10n * ETHER]]);
    const out = await executor.execute(signed1559(ALICE_KEY, { nonce: 0n, data: deployErc20Data(supply, ALICE), gasLimit: 3_000_000n }), ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.to).toBeNull();
    expect(out.contractAddress).not.toBeNull();
    token = out.contractAddress!;
    // Writes: the contract account, its code, the owner's balance slot and total supply.
    const account = decodeAccount(out.writes.get(accountKey(token))!);
    expect(account.nonce).toBe(1n);
    const code = out.writes.get(codeKey(account.codeHash));
    expect(code).toEqual(hex(erc20.deployedBytecode));
    expect(out.logs).toHaveLength(1); // Transfer(0, owner, supply)
    state.apply(out);
  });

  it('transfer emits a Transfer log and moves balances', async () => {
    const out = await executor.execute(signed1559(ALICE_KEY, { nonce: 1n, to: token, data: transferData(BOB, 1234n) }), ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.gasUsed).toBeGreaterThan(30_000n);
    expect(out.logs).toHaveLength(1);
    const log = out.logs[0]!;
    expect(log.address).toEqual(token);
    const parsed = erc20Iface.parseLog({ topics: log.topics.map((t) => '0x' + t.toString('hex')), data: '0x' + log.data.toString('hex') });
    expect(parsed?.name).toBe('Transfer');
    expect(parsed?.args[2]).toBe(1234n);
    // What a block keeps of an outcome until its commit: the tx's logs in one allocation, not a
    // view pinning each of the EVM's own buffers (five per Transfer log).
    expect(log.topics.map((t) => t.length)).toEqual([32, 32, 32]);
    for (const part of [...log.topics, log.data]) expect(part.buffer).toBe(log.address.buffer);
    expect(out.returnData).toEqual(Buffer.from('00'.repeat(31) + '01', 'hex')); // true
    // Read-set: sender, token account, token code, the two balance slots, coinbase.
    const storageReads = [...out.reads.keys()].filter((k) => keyKind(k) === 2);
    expect(storageReads).toHaveLength(2);
    const storageWrites = [...out.writes.keys()].filter((k) => keyKind(k) === 2);
    expect(storageWrites).toHaveLength(2);
    state.apply(out);

    const call = await executor.call({ to: token, data: balanceOfData(BOB) }, ENV, state.source);
    expect(call.success).toBe(true);
    expect(BigInt('0x' + call.returnData.toString('hex'))).toBe(1234n);
    const aliceBal = await executor.call({ from: CAROL, to: token, data: balanceOfData(ALICE) }, ENV, state.source);
    expect(BigInt('0x' + aliceBal.returnData.toString('hex'))).toBe(supply - 1234n);
  });

  it('a reverted transfer keeps only the nonce bump and the fee', async () => {
    const before = state.account(ALICE);
    const out = await executor.execute(signed1559(BOB_KEY, { nonce: 0n, to: token, data: transferData(CAROL, 10n ** 30n) }), ENV, state.source);
    // Bob has no ETH: invalid. Fund him first.
    expect(out.status).toBe('invalid');
    state.map.set(accountKey(BOB), encodeAccount({ nonce: 0n, balance: ETHER, codeHash: EMPTY_CODE_HASH }));
    const out2 = await executor.execute(signed1559(BOB_KEY, { nonce: 0n, to: token, data: transferData(CAROL, 10n ** 30n) }), ENV, state.source);
    expect(out2.status).toBe('reverted');
    expect(out2.error).toBe('ERC20: transfer amount exceeds balance');
    expect(out2.logs).toEqual([]);
    expect([...out2.writes.keys()].sort()).toEqual([accountKey(BOB), accountKey(COINBASE)].sort());
    state.apply(out2);
    const bob = state.account(BOB);
    expect(bob.nonce).toBe(1n);
    expect(bob.balance).toBe(ETHER - out2.gasUsed * 9n * GWEI);
    expect(state.account(ALICE)).toEqual(before);
  });

  it('out of gas is included: all gas charged, state untouched', async () => {
    const gasLimit = 30_000n;
    const out = await executor.execute(signed1559(ALICE_KEY, { nonce: 2n, to: token, data: transferData(CAROL, 1n), gasLimit }), ENV, state.source);
    expect(out.status).toBe('reverted');
    expect(out.error).toBe('out of gas');
    expect(out.gasUsed).toBe(gasLimit);
    expect([...out.writes.keys()].filter((k) => keyKind(k) !== KEY_ACCOUNT)).toEqual([]);
    state.apply(out);
    expect(state.account(ALICE).nonce).toBe(3n);
  });

  it('estimateGas finds the smallest limit that succeeds', async () => {
    const req = { from: ALICE, to: token, data: transferData(CAROL, 5n) };
    const est = await executor.estimateGas(req, ENV, state.source);
    expect(est.success).toBe(true);
    expect(est.runs).toBeLessThanOrEqual(20);
    const ok = await executor.call({ ...req, gasLimit: est.gasLimit }, ENV, state.source);
    expect(ok.success).toBe(true);
    const short = await executor.call({ ...req, gasLimit: est.gasLimit - 1n }, ENV, state.source);
    expect(short.success).toBe(false);
    const tx = await executor.execute(signed1559(ALICE_KEY, { nonce: 3n, to: token, data: transferData(CAROL, 5n), gasLimit: est.gasLimit }), ENV, state.source);
    expect(tx.status).toBe('success');
  });

  it('eth_call reports a revert reason', async () => {
    const r = await executor.call({ from: CAROL, to: token, data: transferData(ALICE, 1n) }, ENV, state.source);
    expect(r.success).toBe(false);
    expect(r.error).toBe('ERC20: transfer amount exceeds balance');
  });
});

// Hand-assembled bytecode helpers.
const PUSH1 = 0x60;
const PUSH20 = 0x73;
const MSTORE = 0x52;
const SSTORE = 0x55;
const RETURN = 0xf3;
const CREATE = 0xf0;
const SELFDESTRUCT = 0xff;
const CODECOPY = 0x39;

describe('contract creation', () => {
  it('a contract whose constructor creates a contract', async () => {
    // Child init code: return one byte of runtime code, 0x00 (STOP).
    //   PUSH1 0 PUSH1 0 MSTORE8 ... simpler: PUSH1 0x00 PUSH1 0 MSTORE; PUSH1 1 PUSH1 31 RETURN
    const child = Buffer.from([PUSH1, 0x00, PUSH1, 0x00, MSTORE, PUSH1, 0x01, PUSH1, 0x1f, RETURN]);
    // Parent init code: copy child init code to memory, CREATE it, store the address at slot 0,
    // return no runtime code.  The child code is appended after the parent's 24-byte prefix.
    const prefixLength = 24;
    const parent = Buffer.from([
      PUSH1, child.length, PUSH1, prefixLength, PUSH1, 0x00, CODECOPY, // mem[0..] = child
      PUSH1, child.length, PUSH1, 0x00, PUSH1, 0x00, CREATE, // addr = create(0, 0, len)
      PUSH1, 0x00, SSTORE, // slot0 = addr
      PUSH1, 0x00, PUSH1, 0x00, RETURN, 0x00, 0x00, // return empty runtime; padding to 24
    ]);
    expect(parent.length).toBe(prefixLength);
    const state = new TestState([[ALICE, ETHER]]);
    const out = await executor.execute(signed1559(ALICE_KEY, { nonce: 0n, data: Buffer.concat([parent, child]), gasLimit: 500_000n }), ENV, state.source);
    expect(out.status).toBe('success');
    const factory = out.contractAddress!;
    const slot0 = out.writes.get(storageKey(factory, Buffer.alloc(32)))!;
    const childAddress = slot0.subarray(12);
    const childAccount = decodeAccount(out.writes.get(accountKey(childAddress))!);
    expect(childAccount.nonce).toBe(1n);
    expect(out.writes.get(codeKey(childAccount.codeHash))).toEqual(Buffer.from([0x00]));
    // The factory: nonce 2 (1 at creation, +1 for its CREATE), no code.
    const factoryAccount = decodeAccount(out.writes.get(accountKey(factory))!);
    expect(factoryAccount.nonce).toBe(2n);
    expect(Buffer.from(factoryAccount.codeHash)).toEqual(EMPTY_CODE_HASH);
  });

  it('a contract that SELFDESTRUCTs in its creation transaction leaves nothing behind', async () => {
    // Init code: SSTORE(0, 42); SELFDESTRUCT(CAROL).
    const init = Buffer.concat([Buffer.from([PUSH1, 42, PUSH1, 0x00, SSTORE, PUSH20]), CAROL, Buffer.from([SELFDESTRUCT])]);
    const state = new TestState([[ALICE, ETHER]]);
    const out = await executor.execute(signed1559(ALICE_KEY, { nonce: 0n, data: init, value: 777n, gasLimit: 200_000n }), ENV, state.source);
    expect(out.status).toBe('success');
    const created = out.contractAddress!.toString('hex');
    for (const k of out.writes.keys()) expect(k.includes(created)).toBe(false);
    expect([...out.writes.keys()].sort()).toEqual([accountKey(ALICE), accountKey(CAROL), accountKey(COINBASE)].sort());
    state.apply(out);
    expect(state.account(CAROL).balance).toBe(777n);
  });
});

describe('block environment and sources', () => {
  it('BLOCKHASH, NUMBER, TIMESTAMP, COINBASE come from the env', async () => {
    // Runtime: return keccak-free env values: mem[0]=BLOCKHASH(99), mem[32]=NUMBER, mem[64]=COINBASE.
    const runtime = Buffer.from([PUSH1, 99, 0x40, PUSH1, 0, MSTORE, 0x43, PUSH1, 32, MSTORE, 0x41, PUSH1, 64, MSTORE, 0x42, PUSH1, 96, MSTORE, PUSH1, 128, PUSH1, 0, RETURN]);
    const state = new TestState([[ALICE, ETHER]]);
    const contract = Buffer.from('ee'.repeat(20), 'hex');
    const { keccak_256 } = await import('@noble/hashes/sha3.js');
    const codeHash = Buffer.from(keccak_256(runtime));
    state.map.set(accountKey(contract), encodeAccount({ nonce: 1n, balance: 0n, codeHash }));
    state.map.set(codeKey(codeHash), runtime);
    const r = await executor.call({ to: contract }, ENV, state.source);
    expect(r.success).toBe(true);
    expect(r.returnData.subarray(0, 32)).toEqual(Buffer.alloc(32, 0xab));
    expect(BigInt('0x' + r.returnData.toString('hex', 32, 64))).toBe(ENV.number);
    expect(r.returnData.subarray(64 + 12, 96)).toEqual(COINBASE);
    expect(BigInt('0x' + r.returnData.toString('hex', 96, 128))).toBe(ENV.timestampSec);
  });

  it('marks a tx that asks BLOCKHASH for a block whose hash is not known yet (an empty entry), and only that tx', async () => {
    // Runtime: return BLOCKHASH(99).
    const runtime = Buffer.from([PUSH1, 99, 0x40, PUSH1, 0, MSTORE, PUSH1, 32, PUSH1, 0, RETURN]);
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const contract = Buffer.from('ed'.repeat(20), 'hex');
    const { keccak_256 } = await import('@noble/hashes/sha3.js');
    const codeHash = Buffer.from(keccak_256(runtime));
    state.map.set(accountKey(contract), encodeAccount({ nonce: 1n, balance: 0n, codeHash }));
    state.map.set(codeKey(codeHash), runtime);
    const committing: BlockEnv = { ...ENV, blockHashes: new Map([[98n, Buffer.alloc(32, 0xaa)], [99n, Buffer.alloc(0)]]) };
    const reads = await executor.execute(signed1559(ALICE_KEY, { nonce: 0n, to: contract, gasLimit: 100_000n }), committing, state.source);
    expect(reads.status).toBe('success');
    expect(reads.readsPendingBlockHash).toBe(true);
    expect(reads.returnData).toEqual(Buffer.alloc(32));
    state.apply(reads);
    const plain = await executor.execute(signed1559(ALICE_KEY, { nonce: 1n, to: BOB, value: 1n, gasLimit: 21_000n }), committing, state.source);
    expect(plain.readsPendingBlockHash).toBeUndefined();
    state.apply(plain);
    const known = await executor.execute(signed1559(ALICE_KEY, { nonce: 2n, to: contract, gasLimit: 100_000n }), ENV, state.source);
    expect(known.readsPendingBlockHash).toBeUndefined();
    expect(known.returnData).toEqual(Buffer.alloc(32, 0xab));
  });

  it('an asynchronous source gives the same outcome as a synchronous one', async () => {
    const state = new TestState([[ALICE, 10n * ETHER]]);
    const input = signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n });
    const sync = await executor.execute(input, ENV, state.source);
    const asyncSource: VersionedStateSource = {
      read: (k: StateKey): Promise<VersionedRead> => new Promise((resolve) => setImmediate(() => resolve(state.source.read(k)))),
    };
    const viaAsync = await executor.execute(input, ENV, asyncSource);
    expect(viaAsync.writes).toEqual(sync.writes);
    expect(viaAsync.reads).toEqual(sync.reads);
    expect(viaAsync.gasUsed).toBe(sync.gasUsed);
  });

  it('an error thrown by the source aborts execution instead of making the tx invalid', async () => {
    const state = new TestState([[ALICE, 10n * ETHER]]);
    class Dependency extends Error {}
    const failing: VersionedStateSource = {
      read: (k: StateKey) => {
        if (k === accountKey(BOB)) throw new Dependency('estimate');
        return state.source.read(k);
      },
    };
    const input = signed1559(ALICE_KEY, { nonce: 0n, to: BOB, value: 5n, gasLimit: 21_000n });
    await expect(executor.execute(input, ENV, failing)).rejects.toBeInstanceOf(Dependency);
    // The executor is usable afterwards and the failed attempt left no trace.
    const out = await executor.execute(input, ENV, state.source);
    expect(out.status).toBe('success');
    expect(out.writes.size).toBe(3);
  });

  it('concurrent calls are queued, not interleaved', async () => {
    const state = new TestState([[ALICE, 10n * ETHER], [BOB, 10n * ETHER]]);
    const a = signed1559(ALICE_KEY, { nonce: 0n, to: CAROL, value: 1n, gasLimit: 21_000n });
    const b = signed1559(BOB_KEY, { nonce: 0n, to: CAROL, value: 2n, gasLimit: 21_000n });
    const [oa, ob] = await Promise.all([executor.execute(a, ENV, state.source), executor.execute(b, ENV, state.source)]);
    expect(decodeAccount(oa.writes.get(accountKey(CAROL))!).balance).toBe(1n);
    expect(decodeAccount(ob.writes.get(accountKey(CAROL))!).balance).toBe(2n);
    expect(oa.writes.has(accountKey(BOB))).toBe(false);
  });
});
