// Regression tests of the parallel engine on blocks built to hit one hazard each; every block
// must give the serial reference's receipts and state root.
import { Interface, Wallet, getCreateAddress, keccak256 } from 'ethers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { createSimExecutors, runChain, type SimExecutor } from '../../test/support/engineHarness.js';
import { DEV_ACCOUNTS, devGenesis } from '../chain/genesis.js';
import { erc20Artifact } from '../contracts.js';
import { TxExecutor } from '../evm/index.js';
import { accountKey } from '../state/keys.js';
import { deriveAccount, signEip1559 } from '../workloads/index.js';

const genesis = devGenesis();
const chainId = genesis.chainId;
const wallets = DEV_ACCOUNTS.slice(0, 8).map((a) => new Wallet(a.privateKey));
const noChaos = { failRate: 0, maxDelayMs: 0, random: () => 0.5 };

async function tx(wallet: Wallet, nonce: number, to: string | null, opts: { data?: string; value?: bigint; gasLimit?: bigint } = {}): Promise<Tx> {
  const raw = await wallet.signTransaction({
    type: 2, chainId, nonce, to, data: opts.data ?? '0x', value: opts.value ?? 0n, gasLimit: opts.gasLimit ?? 300_000n,
    maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
  });
  return { raw: Buffer.from(raw.slice(2), 'hex'), hash: Buffer.from(keccak256(raw).slice(2), 'hex'), sender: Buffer.from(wallet.address.slice(2), 'hex') };
}

// Hand-assembled contracts (see the comments for the opcodes).
const CHILD_INIT = '6000600053600160' + '00f3'; // MSTORE8(0,0); RETURN(0,1): runtime = STOP
const FACTORY_RUNTIME = '69' + CHILD_INIT + '600052' + '600a60166000f0' + '600055' + '00'; // CREATE child; SSTORE(0, address)
const COUNTER_RUNTIME = '600054600101600055' + '00'; // SSTORE(0, SLOAD(0) + 1)
const deployer = (runtimeHex: string): string => {
  const len = (runtimeHex.length / 2).toString(16).padStart(2, '0');
  return '0x60' + len + '600c60003960' + len + '6000f3' + runtimeHex; // CODECOPY runtime; RETURN it
};
const SELF_DESTRUCT_INIT = '0x33ff'; // SELFDESTRUCT(CALLER) in the constructor

describe('parallel engine regressions', () => {
  let executors: SimExecutor[];
  let local: TxExecutor;
  const run = (blocks: Tx[][], executorCount = 2) => runChain({ genesis, blocks, executors, executorCount, local, chaos: noChaos });
  const expectSerialEquivalent = (r: Awaited<ReturnType<typeof run>>) => {
    expect(r.receipts).toEqual(r.referenceReceipts);
    expect(r.rejected).toEqual(r.referenceRejected);
    expect(r.roots.map((x) => x.toString('hex'))).toEqual(r.referenceRoots.map((x) => x.toString('hex')));
  };

  beforeAll(async () => {
    executors = await createSimExecutors(chainId, 4);
    local = await TxExecutor.create({ chainId });
  });

  it('a tx reading a value written earlier in the block by a tx that is itself re-executed', async () => {
    const [a, b, c, d] = wallets;
    // Calldata on each transfer: the partitioner groups plain transfers with their recipient's
    // txs (which would put this chain in one partition); these must conflict across partitions.
    const block = [
      await tx(a!, 0, b!.address, { value: 10n ** 18n, data: '0x01' }),
      await tx(b!, 0, c!.address, { value: 10n ** 18n, data: '0x01' }), // reads b: written by tx 0 in another partition
      await tx(c!, 0, d!.address, { value: 10n ** 18n, data: '0x01' }), // reads c: written by tx 1, which is re-executed
      await tx(d!, 0, a!.address, { value: 10n ** 18n, data: '0x01' }),
    ];
    const r = await run([block], 4);
    expectSerialEquivalent(r);
    expect(r.reports[0]!.mode).toBe('parallel');
    expect(r.reports[0]!.reexecutions).toBeGreaterThanOrEqual(2);
  });

  it('a reverted tx does not leak writes, an out-of-gas tx is charged, nonces of one sender stay ordered', async () => {
    const artifact = erc20Artifact();
    const iface = new Interface(artifact.abi as never);
    const [a, b, c] = wallets;
    const token = getCreateAddress({ from: a!.address, nonce: 0 });
    const deploy = artifact.bytecode + iface.encodeDeploy(['T', 'T', 1000n, a!.address]).slice(2);
    const block1 = [await tx(a!, 0, null, { data: deploy, gasLimit: 3_000_000n })];
    const block2 = [
      await tx(a!, 1, token, { data: iface.encodeFunctionData('transfer', [b!.address, 100n]) }),
      await tx(b!, 0, token, { data: iface.encodeFunctionData('transfer', [c!.address, 500n]) }), // reverts: b has 100
      await tx(b!, 1, token, { data: iface.encodeFunctionData('transfer', [c!.address, 50n]) }),
      await tx(c!, 0, token, { data: iface.encodeFunctionData('transfer', [a!.address, 1n]), gasLimit: 25_000n }), // out of gas
      ...(await Promise.all([2, 3, 4, 5, 6].map((n) => tx(a!, n, c!.address, { value: 1n })))),
    ];
    const r = await run([block1, block2], 2);
    expectSerialEquivalent(r);
    expect(r.receipts[1]!.map((x) => x.success)).toEqual([true, false, true, false, true, true, true, true, true]);
  });

  it('a contract creating a contract, and one created, called and called again in the same block', async () => {
    const [a, b, c] = wallets;
    const factory = getCreateAddress({ from: a!.address, nonce: 0 });
    const counter = getCreateAddress({ from: a!.address, nonce: 1 });
    const block = [
      await tx(a!, 0, null, { data: deployer(FACTORY_RUNTIME) }),
      await tx(a!, 1, null, { data: deployer(COUNTER_RUNTIME) }),
      await tx(b!, 0, factory),
      await tx(c!, 0, counter),
      await tx(b!, 1, counter),
      await tx(c!, 1, factory),
    ];
    const r = await run([block], 2);
    expectSerialEquivalent(r);
    expect(r.receipts[0]!.every((x) => x.success)).toBe(true);
  });

  it('a contract that self-destructs in the transaction that created it', async () => {
    const [a, b] = wallets;
    const block = [
      await tx(a!, 0, null, { data: SELF_DESTRUCT_INIT, value: 12345n }),
      await tx(b!, 0, getCreateAddress({ from: a!.address, nonce: 0 }), { value: 1n }),
      await tx(a!, 1, b!.address, { value: 2n }),
    ];
    const r = await run([block], 2);
    expectSerialEquivalent(r);
  });

  it('5,000 transfers paying one fee recipient: same result, and the fee does not serialize the block', async () => {
    // 5,000 senders paying 5,000 fresh recipients: independent but for the shared fee recipient.
    const senders = Array.from({ length: 5000 }, (_, i) => deriveAccount('fees', i));
    const feeGenesis = { ...genesis, alloc: senders.map((s) => ({ address: s.address, balance: 10n ** 18n, nonce: 0n })) };
    const txs = senders.map((s, i) => signEip1559({
      chainId, nonce: 0n, maxPriorityFeePerGas: 1_000_000_000n, maxFeePerGas: 3_000_000_000n, gasLimit: 21_000n,
      to: Buffer.from(keccak256(Buffer.from(`recipient-${i}`)).slice(26), 'hex'), value: 1000n, data: new Uint8Array(0),
    }, s));
    const r = await runChain({ genesis: feeGenesis, blocks: [txs], executors, executorCount: 2, local, chaos: noChaos });
    expectSerialEquivalent(r);
    const report = r.reports[0]!;
    expect(report.mode).toBe('parallel');
    expect(report.reexecutions).toBe(0);
    expect(report.longestChain).toBe(1);
    expect(report.idealSpeedup).toBe(5000);
  }, 120_000);
});
