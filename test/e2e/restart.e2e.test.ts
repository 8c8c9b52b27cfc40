// Invariant 3 (nothing lost, nothing twice): transactions acknowledged while services are killed
// mid-stream each end up in exactly one block after the cluster restarts on the same data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonRpcProvider, Wallet, keccak256 } from 'ethers';
import { afterAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';

interface RpcReply { result?: unknown; error?: { code: number; message: string } }

async function rpc(url: string, method: string, params: unknown[]): Promise<RpcReply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return await res.json() as RpcReply;
}

describe('restart', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-restart-'));
  let cluster: RunningCluster | undefined;
  const env = { LANES_BLOCK_INTERVAL_MS: '30', LANES_BLOCK_MAX_TXS: '40' };

  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('every acknowledged transaction ends in exactly one block', async () => {
    cluster = await startCluster({ dataDir, executors: 2, env });
    const senders = DEV_ACCOUNTS.slice(4, 12).map((a) => new Wallet(a.privateKey));
    const perSender = 30;
    const raws: string[][] = [];
    for (const w of senders) {
      const list: string[] = [];
      for (let n = 0; n < perSender; n++) {
        list.push(await w.signTransaction({ type: 2, chainId: 31337n, nonce: n, to: DEV_ACCOUNTS[0]!.address, value: 1n, gasLimit: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n }));
      }
      raws.push(list);
    }
    const acknowledged: string[] = [];
    // Each sender submits its txs in nonce order; halfway through, scheduler and consensus are killed.
    const url = cluster.rpcUrl;
    const submitting = Promise.all(raws.map(async (list) => {
      for (const raw of list) {
        const r: RpcReply = await rpc(url, 'eth_sendRawTransaction', [raw]).catch(() => ({ error: { code: 0, message: 'down' } }));
        if (r.result !== undefined) acknowledged.push(r.result as string);
        else break; // stop this sender at the first failure so its nonces stay contiguous
      }
    }));
    while (acknowledged.length < senders.length * perSender / 2) await new Promise((r) => setTimeout(r, 10));
    await cluster.stopService('scheduler', 'SIGKILL');
    await cluster.stopService('consensus', 'SIGKILL');
    await submitting;
    await cluster.stop();
    expect(acknowledged.length).toBeGreaterThan(senders.length * perSender / 2);

    cluster = await startCluster({ dataDir, executors: 2, env });
    const provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true });
    try {
      const deadline = Date.now() + 60_000;
      let missing = acknowledged;
      while (missing.length > 0 && Date.now() < deadline) {
        const receipts = await Promise.all(missing.map((h) => provider.getTransactionReceipt(h)));
        missing = missing.filter((_, i) => receipts[i] === null);
        if (missing.length > 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(missing).toEqual([]);
      const seen = new Map<string, number>();
      const head = await provider.getBlockNumber();
      for (let n = 1; n <= head; n++) {
        const block = await provider.getBlock(n);
        for (const h of block!.transactions) seen.set(h, (seen.get(h) ?? 0) + 1);
      }
      for (const h of acknowledged) expect(seen.get(h), h).toBe(1);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
      // And the chain moves on after the restart.
      const w = new Wallet(DEV_ACCOUNTS[15]!.privateKey, provider);
      const raw = await w.signTransaction(await w.populateTransaction({ to: DEV_ACCOUNTS[0]!.address, value: 5n }));
      const tx = await provider.broadcastTransaction(raw);
      expect(tx.hash).toBe(keccak256(raw));
      expect((await tx.wait())?.status).toBe(1);
    } finally {
      provider.destroy();
    }
  });
});
