// Bad input through JSON-RPC: each is answered with a clear error, no process exits, and a good
// transaction sent afterwards commits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';

interface RpcReply { result?: unknown; error?: { code: number; message: string } }

describe('bad input through JSON-RPC', () => {
  let cluster: RunningCluster;
  let dataDir: string;
  const alice = new Wallet(DEV_ACCOUNTS[5]!.privateKey);
  const base = { type: 2, chainId: 31337n, to: DEV_ACCOUNTS[0]!.address, value: 1n, gasLimit: 21_000n, maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1n };

  const post = async (body: string): Promise<{ status: number; json: RpcReply | RpcReply[] }> => {
    const res = await fetch(cluster.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    return { status: res.status, json: JSON.parse(text) as RpcReply | RpcReply[] };
  };
  const one = (json: RpcReply | RpcReply[]): RpcReply => (Array.isArray(json) ? json[0] ?? {} : json);
  const send = async (raw: string): Promise<RpcReply> => one((await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: [raw] }))).json);

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-bad-'));
    cluster = await startCluster({ dataDir, executors: 1, env: { LANES_BLOCK_INTERVAL_MS: '50' } });
  });
  afterAll(async () => {
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers each bad transaction with the error a wallet understands', async () => {
    expect((await send('0xzz')).error?.code).toBe(-32602);
    expect((await send('0xf86c0185')).error?.message).toMatch(/rlp|decod|invalid/i);
    const wrongChain = await alice.signTransaction({ ...base, chainId: 1n, nonce: 0 });
    expect((await send(wrongChain)).error?.message).toMatch(/invalid chain id/);
    const good = await alice.signTransaction({ ...base, nonce: 0 });
    const badSig = good.slice(0, -6) + 'ffffff';
    expect((await send(badSig)).error?.code).toBeLessThan(0);
    const unfunded = Wallet.createRandom();
    expect((await send(await unfunded.signTransaction({ ...base, nonce: 0 }))).error?.message).toMatch(/^insufficient funds for gas \* price \+ value/);
    expect((await send(await alice.signTransaction({ ...base, nonce: 0, gasLimit: 20_000n }))).error?.message).toMatch(/^intrinsic gas too low/);
    const big = '0x' + '11'.repeat(200 * 1024);
    expect((await send(await alice.signTransaction({ ...base, nonce: 0, data: big, gasLimit: 30_000_000n }))).error?.message).toMatch(/oversized data/);
  });

  it('answers broken JSON, unknown methods and oversize batches without crashing', async () => {
    const broken = await post('{"jsonrpc": "2.0", "method": ');
    expect(one(broken.json).error?.code).toBe(-32700);
    const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_mine', params: [] }));
    expect(one(unknown.json).error?.code).toBe(-32601);
    const batch = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_chainId', params: [] })));
    const tooMany = await post(batch);
    expect(one(tooMany.json).error?.code).toBeDefined();
    const okBatch = await post(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }, { jsonrpc: '2.0', id: 2, method: 'net_version', params: [] }]));
    expect((okBatch.json as RpcReply[]).map((r) => r.result)).toEqual(['0x7a69', '31337']);
  });

  it('rejects a replayed nonce and still commits a good transaction afterwards', async () => {
    const provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true, polling: true, pollingInterval: 50 });
    try {
      const wallet = alice.connect(provider);
      const raw = await wallet.signTransaction(await wallet.populateTransaction({ to: DEV_ACCOUNTS[1]!.address, value: parseEther('1') }));
      const tx = await provider.broadcastTransaction(raw);
      expect((await tx.wait())?.status).toBe(1);
      expect((await send(raw)).error?.message).toMatch(/nonce too low|already known/);
      for (const s of cluster.services) expect(s.child.exitCode, s.name).toBeNull();
    } finally {
      provider.destroy();
    }
  });
});
