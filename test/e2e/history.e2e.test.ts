// The state service's history window through the public API: with LANES_STATE_RETAIN_BLOCKS=3 a
// real cluster serves state at its last heights, refuses older block tags with a JSON-RPC error
// that names the window, and still serves old blocks and receipts (only state versions go).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { erc20Artifact } from '../../lib/contracts.js';

describe('state history window (LANES_STATE_RETAIN_BLOCKS)', () => {
  let cluster: RunningCluster;
  let provider: JsonRpcProvider;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-history-'));
    cluster = await startCluster({
      dataDir, executors: 1,
      // Empty blocks every 200 ms: a read at a height the test just saw must land within the
      // 3 kept heights (≈ 0.6 s) on a loaded 2-core host; at 100 ms ethers' gas estimate for the
      // deployment once outlived them under load and failed as "missing revert data".
      env: { LANES_BLOCK_INTERVAL_MS: '50', LANES_EMPTY_BLOCK_INTERVAL_MS: '200', LANES_STATE_RETAIN_BLOCKS: '3', LANES_LOG_LEVEL: 'info' },
    });
    provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true, polling: true, pollingInterval: 50 });
  });

  afterAll(async () => {
    provider?.destroy();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the last heights, refuses older ones by name, and keeps old blocks and receipts', async () => {
    const alice = new Wallet(DEV_ACCOUNTS[0]!.privateKey, provider);
    const artifact = erc20Artifact();
    // Gas limits given: no estimate at a head that may move on meanwhile.
    const token = await new ContractFactory(artifact.abi as never, artifact.bytecode, alice).deploy('Test', 'TST', 1_000n, alice.address, { gasLimit: 3_000_000n });
    const deployed = (await token.deploymentTransaction()!.wait())!;
    const erc20 = new Contract(await token.getAddress(), artifact.abi as never, alice);
    const sent = (await (await erc20.getFunction('transfer')(DEV_ACCOUNTS[1]!.address, 10n, { gasLimit: 100_000n })).wait())!;
    const at = sent.blockNumber;
    expect(await erc20.getFunction('balanceOf')(DEV_ACCOUNTS[1]!.address, { blockTag: at })).toBe(10n);

    // Empty blocks every 200 ms move the head; commits prune below head − 3, 4 blocks at a time.
    const deadline = Date.now() + 20_000;
    while ((await provider.getBlockNumber()) < at + 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await provider.getBlockNumber()).toBeGreaterThanOrEqual(at + 8);

    await expect(provider.getBalance(alice.address, at)).rejects.toThrow(new RegExp(`height ${at} is pruned: state is kept from height \\d+ on`));
    // eth_call goes through an executor; ethers reports any eth_call error as "missing revert data", so ask raw.
    const call = { to: await token.getAddress(), data: erc20.interface.encodeFunctionData('balanceOf', [DEV_ACCOUNTS[1]!.address]) };
    const res = await fetch(cluster.rpcUrl, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_call', params: [call, `0x${at.toString(16)}`] }),
    });
    expect(await res.json()).toMatchObject({ error: { code: -32000, message: expect.stringMatching(new RegExp(`height ${at} is pruned`)) } });
    expect(await erc20.getFunction('balanceOf')(DEV_ACCOUNTS[1]!.address)).toBe(10n);
    expect(await provider.getBalance(alice.address, 'latest')).toBeGreaterThan(0n);
    expect((await provider.getBlock(deployed.blockNumber))?.hash).toBe(deployed.blockHash);
    expect((await provider.getTransactionReceipt(sent.hash))?.status).toBe(1);
  });
});
