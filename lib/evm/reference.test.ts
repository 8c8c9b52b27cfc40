import { createFeeMarket1559Tx } from '@ethereumjs/tx';
import { privateToAddress } from '@ethereumjs/util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainCommon } from '../chain/common.js';
import { EMPTY_CODE_HASH, KEY_ACCOUNT, accountKey, decodeAccount, encodeAccount, keyKind, type StateKey } from '../state/keys.js';
import { StateRootAccumulator } from '../state/root.js';
import type { BlockEnv, TxInput } from './execute.js';
import { ReferenceExecutor } from './reference.js';

const CHAIN_ID = 7357n;
const GWEI = 1_000_000_000n;
const ETHER = 10n ** 18n;
const common = chainCommon(CHAIN_ID);

const privateKeys = Array.from({ length: 4 }, (_, i) => {
  const k = new Uint8Array(32);
  k[0] = 0x11;
  k[31] = i + 1;
  return k;
});
const addresses = privateKeys.map((k) => Buffer.from(privateToAddress(k)));
const COINBASE = Buffer.alloc(20, 0xc0);

const env = (number: bigint): BlockEnv => ({
  chainId: CHAIN_ID,
  number,
  timestampSec: 1_700_000_000n + number * 2n,
  coinbase: COINBASE,
  gasLimit: 30_000_000n,
  baseFeePerGas: GWEI,
  prevRandao: Buffer.alloc(32, 1),
});

function genesis(): [StateKey, Buffer][] {
  return addresses.map((a) => [accountKey(a), encodeAccount({ nonce: 0n, balance: 100n * ETHER, codeHash: EMPTY_CODE_HASH })]);
}

function transfer(from: number, nonce: bigint, to: Uint8Array, value: bigint): TxInput {
  const tx = createFeeMarket1559Tx(
    { chainId: CHAIN_ID, nonce, to, value, gasLimit: 21_000n, maxFeePerGas: 3n * GWEI, maxPriorityFeePerGas: GWEI },
    { common },
  ).sign(privateKeys[from]!);
  return { raw: tx.serialize(), hash: tx.hash(), sender: addresses[from]! };
}

function rootFromScratch(ref: ReferenceExecutor): Buffer {
  const acc = new StateRootAccumulator();
  for (const [k, v] of ref.entries()) acc.update(k, null, v);
  return acc.root();
}

describe('ReferenceExecutor', () => {
  it('applies each transaction before the next, so dependent transactions chain', async () => {
    const ref = await ReferenceExecutor.create({ chainId: CHAIN_ID, genesis: genesis() });
    const fresh = Buffer.alloc(20, 0x77);
    const outcomes = await ref.executeBlock(env(1n), [
      transfer(0, 0n, fresh, ETHER),
      transfer(0, 1n, addresses[1]!, 1n), // needs nonce 1: sees the first tx
      transfer(0, 1n, addresses[1]!, 1n), // replay: nonce too low
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['success', 'success', 'invalid']);
    expect(outcomes[2]!.error).toBe('nonce too low');
    expect(decodeAccount(ref.get(accountKey(fresh))!).balance).toBe(ETHER);
    expect(decodeAccount(ref.get(accountKey(addresses[0]!))!).nonce).toBe(2n);
    expect(decodeAccount(ref.get(accountKey(COINBASE))!).balance).toBe(2n * 21_000n * GWEI);
  });

  it('its root changes with state and equals a root recomputed from scratch', async () => {
    const ref = await ReferenceExecutor.create({ chainId: CHAIN_ID, genesis: genesis() });
    const root0 = ref.stateRoot();
    expect(root0).toEqual(rootFromScratch(ref));
    await ref.executeBlock(env(1n), [transfer(1, 0n, addresses[2]!, 5n)]);
    const root1 = ref.stateRoot();
    expect(root1).not.toEqual(root0);
    expect(root1).toEqual(rootFromScratch(ref));
    // An invalid transaction changes nothing.
    await ref.executeBlock(env(2n), [transfer(1, 0n, addresses[2]!, 5n)]);
    expect(ref.stateRoot()).toEqual(root1);
  });

  it('is deterministic: the same blocks from the same genesis give the same root', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ from: fc.nat(3), to: fc.nat(3), value: fc.bigInt(0n, 2n * ETHER) }), { minLength: 1, maxLength: 8 }),
        async (plan) => {
          const nonces = [0n, 0n, 0n, 0n];
          const txs = plan.map((p) => transfer(p.from, nonces[p.from]!++, addresses[p.to]!, p.value));
          const a = await ReferenceExecutor.create({ chainId: CHAIN_ID, genesis: genesis() });
          const b = await ReferenceExecutor.create({ chainId: CHAIN_ID, genesis: genesis().reverse() });
          const outA = await a.executeBlock(env(5n), txs);
          const outB = await b.executeBlock(env(5n), txs);
          expect(a.stateRoot()).toEqual(b.stateRoot());
          expect(a.stateRoot()).toEqual(rootFromScratch(a));
          expect(outA.map((o) => o.gasUsed)).toEqual(outB.map((o) => o.gasUsed));
          // Value is conserved up to the burned base fee.
          let total = 0n;
          for (const [k, v] of a.entries()) if (keyKind(k) === KEY_ACCOUNT) total += decodeAccount(v).balance;
          const burned = outA.reduce((s, o) => s + o.gasUsed * GWEI, 0n);
          expect(total).toBe(400n * ETHER - burned);
        },
      ),
      { numRuns: 8 },
    );
  });
});
