// Workload generation: deterministic from a seed, and the expected-state model agrees with the
// serial reference executor running the generated transactions from the generated genesis.
import { describe, expect, it } from 'vitest';
import { genesisStateEntries } from '../chain/genesis.js';
import { ReferenceExecutor, type BlockEnv } from '../evm/index.js';
import { decodeWord } from './abi.js';
import { GENESIS_BASE_FEE_WEI, GENESIS_GAS_LIMIT, GENESIS_TIMESTAMP_SEC } from './genesisBuilder.js';
import { accountKey, decodeAccount } from '../state/keys.js';
import { generateWorkload, WorkloadGenerator } from './workload.js';
import type { ExpectedValue } from './ledger.js';
import type { WorkloadKind } from './types.js';

async function readOnReference(reference: ReferenceExecutor, env: BlockEnv, e: ExpectedValue): Promise<bigint> {
  const q = e.query;
  if (q.kind === 'nonce' || q.kind === 'balance') {
    const raw = reference.get(accountKey(q.address));
    if (raw === null) return 0n;
    const account = decodeAccount(raw);
    return q.kind === 'nonce' ? account.nonce : account.balance;
  }
  const result = await reference.txExecutor.call({ to: q.to, data: q.data }, env, reference.stateSource);
  expect(result.success).toBe(true);
  return decodeWord(result.returnData, q.word);
}

describe('workloads', () => {
  it('are deterministic from a seed', async () => {
    const opts = { workload: 'mixed' as const, accounts: 5, hotShare: 0.3, txCount: 30, chainId: 31337n, seed: 'det' };
    const a = await generateWorkload(opts);
    const b = await generateWorkload(opts);
    expect(a.txs.map((t) => t.raw.toString('hex'))).toEqual(b.txs.map((t) => t.raw.toString('hex')));
    expect([...genesisStateEntries(a.genesis)]).toEqual([...genesisStateEntries(b.genesis)]);
    expect(a.expected.map((e) => [e.label, e.value])).toEqual(b.expected.map((e) => [e.label, e.value]));
    const c = await generateWorkload({ ...opts, seed: 'other' });
    expect(c.txs[0]!.raw.equals(a.txs[0]!.raw)).toBe(false);
    // next() continues the same sequence: 10 + 20 equals 30 at once.
    const g = await WorkloadGenerator.create(opts);
    const parts = [...g.next(10), ...g.next(20)];
    expect(parts.map((t) => t.hash.toString('hex'))).toEqual(a.txs.map((t) => t.hash.toString('hex')));
  });

  it('sends the hot share to the hot account', async () => {
    const w = await generateWorkload({ workload: 'transfer', accounts: 50, hotShare: 0.5, txCount: 400, chainId: 31337n, seed: 1 });
    const hot = w.accounts[0]!.address;
    const toHot = w.txs.filter((t) => t.effect.kind === 'transfer' && t.effect.to.equals(hot)).length;
    expect(toHot / 400).toBeGreaterThan(0.4);
    expect(toHot / 400).toBeLessThan(0.62);
  });

  for (const workload of ['transfer', 'erc20', 'amm', 'nft', 'mixed'] as WorkloadKind[]) {
    it(`${workload}: the model's expected state equals the reference executor's`, async () => {
      const w = await generateWorkload({ workload, accounts: 4, hotShare: 0.25, txCount: 24, chainId: 31337n, seed: `model-${workload}` });
      const reference = await ReferenceExecutor.create({ chainId: 31337n, genesis: genesisStateEntries(w.genesis) });
      const env: BlockEnv = {
        chainId: 31337n, number: 1n, timestampSec: GENESIS_TIMESTAMP_SEC + 1n, coinbase: w.genesis.coinbase,
        gasLimit: GENESIS_GAS_LIMIT, baseFeePerGas: GENESIS_BASE_FEE_WEI, prevRandao: Buffer.alloc(32),
      };
      const outcomes = await reference.executeBlock(env, w.txs);
      expect(outcomes.map((o) => o.error ?? o.status)).toEqual(w.txs.map(() => 'success'));
      const ledger = w.generator.newLedger();
      w.txs.forEach((tx, i) => ledger.apply(tx, { status: 'success', gasUsed: outcomes[i]!.gasUsed }));
      const expected = ledger.expectations();
      expect(expected.length).toBeGreaterThan(0);
      for (const e of expected) expect([e.label, await readOnReference(reference, env, e)]).toEqual([e.label, e.value]);
      // Without gas figures only plain transfers have a known ETH balance; the rest still match.
      for (const e of w.expected) expect([e.label, await readOnReference(reference, env, e)]).toEqual([e.label, e.value]);
    });
  }
});
