// The public gRPC API end to end: submit a batch of raw transactions, stream new blocks, get receipts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { LanesClient, type GetReceiptsResponse, type SubmitTransactionsResponse } from '../../gen/lanes/v1/api.js';
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';

describe('gRPC API', () => {
  let cluster: RunningCluster;
  let dataDir: string;
  let client: LanesClient;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-grpc-'));
    cluster = await startCluster({ dataDir, executors: 2, env: { LANES_BLOCK_INTERVAL_MS: '50' } });
    client = new LanesClient(cluster.grpcAddress, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('submits a batch, streams the blocks that commit it and returns its receipts', async () => {
    const heads: BlockHeader[] = [];
    const stream = client.streamBlocks({ fromHeight: 0n });
    stream.on('data', (h: BlockHeader) => heads.push(h));
    stream.on('error', () => {});

    const wallet = new Wallet(DEV_ACCOUNTS[7]!.privateKey);
    const raws: Buffer[] = [];
    for (let nonce = 0; nonce < 20; nonce++) {
      const raw = await wallet.signTransaction({ type: 2, chainId: 31337n, nonce, to: DEV_ACCOUNTS[8]!.address, value: 1000n, gasLimit: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n });
      raws.push(Buffer.from(raw.slice(2), 'hex'));
    }
    raws.push(Buffer.from('not a transaction'));
    const submitted = await new Promise<SubmitTransactionsResponse>((resolve, reject) =>
      client.submitTransactions({ rawTxs: raws }, (err, res) => (err ? reject(err) : resolve(res))));
    expect(submitted.results).toHaveLength(21);
    expect(submitted.results.slice(0, 20).every((r) => r.accepted)).toBe(true);
    expect(submitted.results[20]!.accepted).toBe(false);
    expect(submitted.results[20]!.errorMessage).not.toBe('');

    const hashes = submitted.results.slice(0, 20).map((r) => r.txHash);
    let receipts: GetReceiptsResponse | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      receipts = await new Promise<GetReceiptsResponse>((resolve, reject) =>
        client.getReceipts({ txHashes: hashes }, (err, res) => (err ? reject(err) : resolve(res))));
      if (receipts.results.every((r) => r.found)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(receipts!.results.every((r) => r.found && r.receipt?.success)).toBe(true);
    const last = receipts!.results.reduce((m, r) => (r.blockNumber > m ? r.blockNumber : m), 0n);
    while (!heads.some((h) => h.number >= last) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(heads.some((h) => h.number === last)).toBe(true);
    stream.cancel();
  });
});
