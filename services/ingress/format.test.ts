// Blocks, transactions, receipts and logs as ethers v6 parses them: its JsonRpcProvider
// formatters throw on any field they cannot read.
import { JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import type { Receipt } from '../../gen/lanes/v1/types.js';
import { InMemoryBackend } from './testBackend.js';
import { fund, header, signTransfer, startTestRpc, type TestRpc } from './testSupport.js';

describe('formatting for ethers', () => {
  let backend: InMemoryBackend;
  let rpc: TestRpc;
  let provider: JsonRpcProvider;
  let txHash: string;

  beforeAll(async () => {
    backend = new InMemoryBackend();
    fund(backend, DEV_ACCOUNTS[0]!.address, 5n * 10n ** 18n, 1n);
    const { decoded } = await signTransfer(0, 0, 7n);
    txHash = '0x' + decoded.hash.toString('hex');
    const receipt: Receipt = {
      txHash: decoded.hash, txIndex: 0, from: decoded.sender, to: decoded.to!, contractAddress: Buffer.alloc(0),
      gasUsed: 21_000n, cumulativeGasUsed: 21_000n, effectiveGasPrice: Buffer.from('77359400', 'hex'), success: true,
      logs: [{ address: Buffer.alloc(20, 0xaa), topics: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)], data: Buffer.from('cafe', 'hex') }],
      logsBloom: Buffer.alloc(256), txType: 2, firstLogIndex: 0,
    };
    backend.commit({ header: header(0n), txs: [], receipts: [] });
    backend.commit({ header: { ...header(1n), gasUsed: 21_000n, txCount: 1 }, txs: [{ raw: decoded.raw, hash: decoded.hash, sender: decoded.sender }], receipts: [receipt] });
    rpc = await startTestRpc(backend);
    provider = new JsonRpcProvider(rpc.url, 31337, { staticNetwork: true });
  });
  afterAll(async () => { provider.destroy(); await rpc.close(); });

  it('blocks, with and without transactions', async () => {
    expect(await provider.getBlockNumber()).toBe(1);
    const block = (await provider.getBlock(1))!;
    expect(block.number).toBe(1);
    expect(block.transactions).toEqual([txHash]);
    expect(block.baseFeePerGas).toBe(1_000_000_000n);
    expect(block.miner).toBe('0x0909090909090909090909090909090909090909');
    const full = (await provider.getBlock('latest', true))!;
    expect(full.prefetchedTransactions[0]!.hash).toBe(txHash);
    expect(full.prefetchedTransactions[0]!.gasPrice).toBe(2_000_000_000n);
    const byHash = (await provider.getBlock(block.hash!))!;
    expect(byHash.number).toBe(1);
    expect(await provider.getBlock(99)).toBeNull();
  });

  it('transactions and receipts', async () => {
    const tx = (await provider.getTransaction(txHash))!;
    expect(tx.blockNumber).toBe(1);
    expect(tx.from).toBe(DEV_ACCOUNTS[0]!.address);
    expect(tx.value).toBe(7n);
    expect(tx.signature.yParity === 0 || tx.signature.yParity === 1).toBe(true);
    const receipt = (await provider.getTransactionReceipt(txHash))!;
    expect(receipt.status).toBe(1);
    expect(receipt.gasUsed).toBe(21_000n);
    expect(receipt.gasPrice).toBe(2_000_000_000n);
    expect(receipt.logs[0]!.topics).toHaveLength(2);
    expect(receipt.logs[0]!.data).toBe('0xcafe');
    expect(receipt.contractAddress).toBeNull();
    expect(await provider.getTransactionReceipt('0x' + '00'.repeat(32))).toBeNull();
  });

  it('accounts, fees and logs', async () => {
    expect(await provider.getBalance(DEV_ACCOUNTS[0]!.address)).toBe(5n * 10n ** 18n);
    expect(await provider.getTransactionCount(DEV_ACCOUNTS[0]!.address)).toBe(1);
    expect(await provider.getCode(DEV_ACCOUNTS[0]!.address)).toBe('0x');
    expect(await provider.getStorage(DEV_ACCOUNTS[0]!.address, 0)).toBe('0x' + '00'.repeat(32));
    const fees = await provider.getFeeData();
    expect(fees.maxPriorityFeePerGas).toBe(1_000_000_000n);
    expect(fees.gasPrice).toBe(2_000_000_000n);
    const logs = await provider.getLogs({ fromBlock: 0, toBlock: 'latest', address: '0x' + 'aa'.repeat(20) });
    expect(logs).toHaveLength(1);
    expect(logs[0]!.transactionHash).toBe(txHash);
    const history = await provider.send('eth_feeHistory', ['0x2', 'latest', [50]]);
    expect(history).toEqual({ oldestBlock: '0x0', baseFeePerGas: ['0x3b9aca00', '0x3b9aca00', '0x3b9aca00'], gasUsedRatio: [0, 21_000 / 500_000_000], reward: [['0x0'], ['0x3b9aca00']] });
    expect(await provider.estimateGas({ to: DEV_ACCOUNTS[1]!.address })).toBe(21_000n);
  });
});
