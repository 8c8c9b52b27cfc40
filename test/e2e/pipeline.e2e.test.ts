// Commit pipelining in the real cluster (LANES_PIPELINE_COMMITS, on by default): the scheduler
// runs each block while the one before commits. A burst cut into many small blocks keeps blocks
// queued, and every tx reads BLOCKHASH of the block before its own, the one value the commit in
// flight alone decides: each such block must run again once the hash is known, so every stored
// hash equals the real one and the cluster still equals the serial reference.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { JsonRpcProvider, Wallet, toBeHex, zeroPadValue } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { LanesClient, type SubmitTransactionsResponse } from '../../gen/lanes/v1/api.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { replayThroughReference } from '../support/reference.js';

interface SchedulerHealth { overlappedBlocks: number; blockHashReruns: number; committedHeight: string }

// Runtime: SSTORE(NUMBER, BLOCKHASH(NUMBER - 1)); STOP. Init code copies it out and returns it.
const RUNTIME = '6001430340435500';
const INIT = '6008600c60003960086000f3' + RUNTIME;
const SENDERS = 4;
const TXS_PER_SENDER = 12;

describe('commit pipelining (LANES_PIPELINE_COMMITS)', () => {
  let cluster: RunningCluster;
  let dataDir: string;
  let client: LanesClient;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-pipeline-'));
    cluster = await startCluster({ dataDir, executors: 1, env: { LANES_BLOCK_INTERVAL_MS: '20', LANES_BLOCK_MAX_TXS: '3', LANES_BATCH_MAX_TXS: '3' } });
    client = new LanesClient(cluster.grpcAddress, credentials.createInsecure());
    provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true, polling: true, pollingInterval: 50 });
  });
  afterAll(async () => {
    provider?.destroy();
    client?.close();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const submit = (raws: Buffer[]) => new Promise<SubmitTransactionsResponse>((resolve, reject) =>
    client.submitTransactions({ rawTxs: raws }, (err, res) => (err ? reject(err) : resolve(res))));

  it('runs blocks while the one before commits, and redoes those that read its hash', async () => {
    const deployer = new Wallet(DEV_ACCOUNTS[0]!.privateKey, provider);
    const deployed = (await (await deployer.sendTransaction({ data: '0x' + INIT, gasLimit: 200_000n })).wait())!;
    const recorder = deployed.contractAddress!;
    expect(await provider.getCode(recorder)).toBe('0x' + RUNTIME);

    // One burst, batched and cut into blocks of 3: the blocks queue, so each one runs while the one before commits.
    const raws: Buffer[] = [];
    for (let s = 1; s <= SENDERS; s++) {
      const wallet = new Wallet(DEV_ACCOUNTS[s]!.privateKey);
      for (let nonce = 0; nonce < TXS_PER_SENDER; nonce++) {
        const signed = await wallet.signTransaction({
          type: 2, chainId: 31337n, nonce, to: recorder, gasLimit: 100_000n, maxFeePerGas: 10_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
        });
        raws.push(Buffer.from(signed.slice(2), 'hex'));
      }
    }
    // Round-robin over senders keeps each sender's nonces in order and every block mixed.
    const ordered = Array.from({ length: TXS_PER_SENDER }, (_, n) => Array.from({ length: SENDERS }, (_, s) => raws[s * TXS_PER_SENDER + n]!)).flat();
    const res = await submit(ordered);
    expect(res.results.every((r) => r.accepted), res.results.find((r) => !r.accepted)?.errorMessage).toBe(true);
    const hashes = res.results.map((r) => '0x' + r.txHash.toString('hex'));
    const deadline = Date.now() + 60_000;
    while ((await provider.getTransactionReceipt(hashes.at(-1)!)) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const blocks = new Set<number>();
    for (const hash of hashes) {
      const receipt = (await provider.getTransactionReceipt(hash))!;
      expect(receipt.status).toBe(1);
      blocks.add(receipt.blockNumber);
    }
    expect(blocks.size).toBeGreaterThanOrEqual((SENDERS * TXS_PER_SENDER) / 3);
    for (const n of blocks) {
      const stored = await provider.getStorage(recorder, zeroPadValue(toBeHex(n), 32));
      expect(stored, `BLOCKHASH(${n - 1}) recorded in block ${n}`).toBe((await provider.getBlock(n - 1))!.hash);
    }

    const s = cluster.services.find((x) => x.name === 'scheduler')!;
    const health = (await (await fetch(`http://127.0.0.1:${s.healthPort}/healthz`)).json()) as SchedulerHealth;
    expect(health.overlappedBlocks).toBeGreaterThan(0);
    expect(health.blockHashReruns).toBeGreaterThan(0);

    const replayed = await replayThroughReference(provider, Number(health.committedHeight));
    for (const b of replayed) {
      expect(b.clusterRoot, `state root of block ${b.number}`).toBe(b.referenceRoot);
      expect(b.clusterReceipts).toEqual(b.referenceReceipts);
    }
  }, 120_000);
});
