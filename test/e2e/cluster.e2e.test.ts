// End to end: a real local cluster (nats-server + every service as its own process), driven by
// unmodified ethers v6 code through JSON-RPC, checked against the serial reference executor.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, Wallet, WebSocketProvider, parseEther } from 'ethers';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { BLOCK_STREAM, TX_STREAM } from '../../lib/bus/subjects.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { erc20Artifact } from '../../lib/contracts.js';
import { replayThroughReference } from '../support/reference.js';

const WARM_UP_TXS = 200;

describe('local cluster end to end', () => {
  let cluster: RunningCluster;
  let provider: JsonRpcProvider;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-e2e-'));
    cluster = await startCluster({ dataDir, executors: 2, env: { LANES_BLOCK_INTERVAL_MS: '50', LANES_LOG_LEVEL: 'info', LANES_WARMUP_TXS: String(WARM_UP_TXS) } });
    provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true, polling: true, pollingInterval: 50 });
  });

  afterAll(async () => {
    provider?.destroy();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('warmed the JIT of the executors and the scheduler before they took work', () => {
    for (const name of ['executor-1', 'executor-2', 'scheduler']) {
      const service = cluster.services.find((s) => s.name === name)!;
      // The running process's lines: one whose port was taken meanwhile had warmed up, then started again.
      const log = fs.readFileSync(service.logFile).subarray(service.logFrom).toString('utf8');
      const lines = log.split('\n').filter((l) => l.includes('warmed up')).map((l) => JSON.parse(l) as { txs: number; succeeded: number });
      expect(lines, name).toHaveLength(1);
      expect(lines[0]).toMatchObject({ txs: WARM_UP_TXS, succeeded: WARM_UP_TXS });
    }
  });

  it('serves chain id, balances and nonces of the dev genesis', async () => {
    const network = await provider.getNetwork();
    expect(network.chainId).toBe(31337n);
    expect(await provider.getBalance(DEV_ACCOUNTS[0]!.address)).toBe(parseEther('10000'));
    expect(await provider.getTransactionCount(DEV_ACCOUNTS[0]!.address)).toBe(0);
    expect(await provider.getBlockNumber()).toBeGreaterThanOrEqual(0);
  });

  it('sends ETH, deploys an ERC-20, transfers it and reads it back; state equals the serial reference', async () => {
    const alice = new Wallet(DEV_ACCOUNTS[0]!.privateKey, provider);
    const bob = new Wallet(DEV_ACCOUNTS[1]!.privateKey, provider);
    const carol = Wallet.createRandom().connect(provider);

    const send = await alice.sendTransaction({ to: carol.address, value: parseEther('1.5') });
    const sendReceipt = await send.wait();
    expect(sendReceipt?.status).toBe(1);
    expect(await provider.getBalance(carol.address)).toBe(parseEther('1.5'));
    expect(await provider.getTransactionCount(alice.address, 'latest')).toBe(1);

    const artifact = erc20Artifact();
    const token = await new ContractFactory(artifact.abi as never, artifact.bytecode, alice).deploy('Test', 'TST', 1_000_000n, alice.address);
    const deployReceipt = await token.deploymentTransaction()!.wait();
    expect(deployReceipt?.contractAddress).toBe(await token.getAddress());
    expect(await provider.getCode(await token.getAddress())).toBe(artifact.deployedBytecode);

    const erc20 = new Contract(await token.getAddress(), artifact.abi as never, alice);
    const transfer = await erc20.getFunction('transfer')(bob.address, 250n);
    const receipt = await transfer.wait();
    expect(receipt.status).toBe(1);
    expect(receipt.logs).toHaveLength(1);
    const parsed = erc20.interface.parseLog(receipt.logs[0]);
    expect(parsed?.name).toBe('Transfer');
    expect(parsed?.args[2]).toBe(250n);
    expect(await erc20.getFunction('balanceOf')(bob.address)).toBe(250n);
    expect(await erc20.getFunction('balanceOf')(alice.address)).toBe(1_000_000n - 250n);

    // A failing call reverts with the reason.
    const asCarol = new Contract(await token.getAddress(), artifact.abi as never, carol);
    await expect(asCarol.getFunction('transfer').staticCall(bob.address, 1n)).rejects.toThrow(/transfer amount exceeds balance/);

    // Blocks by number and by hash, logs by filter.
    const block = await provider.getBlock(receipt.blockNumber);
    expect(block?.hash).toBe(receipt.blockHash);
    const byHash = await provider.getBlock(receipt.blockHash);
    expect(byHash?.number).toBe(receipt.blockNumber);
    expect(byHash?.transactions).toContain(receipt.hash);
    const logs = await provider.getLogs({ address: await token.getAddress(), fromBlock: 0, toBlock: 'latest', topics: [erc20.interface.getEvent('Transfer')!.topicHash] });
    expect(logs.length).toBeGreaterThanOrEqual(2); // mint + transfer

    // Historical reads: the genesis state stays readable after later blocks.
    expect(await provider.getBalance(alice.address, 0)).toBe(parseEther('10000'));
    expect(await provider.getBalance(alice.address, sendReceipt!.blockNumber - 1)).toBe(parseEther('10000'));
    expect(await erc20.getFunction('balanceOf')(bob.address, { blockTag: receipt.blockNumber - 1 })).toBe(0n);

    // Invariant 1: every committed block's state root equals the serial reference's.
    const head = await provider.getBlockNumber();
    const replayed = await replayThroughReference(provider, head);
    for (const b of replayed) {
      expect(b.clusterRoot, `state root of block ${b.number}`).toBe(b.referenceRoot);
      expect(b.clusterReceipts).toEqual(b.referenceReceipts);
    }
  });

  it('streams newHeads over WebSocket', async () => {
    const ws = new WebSocketProvider(cluster.wsUrl);
    try {
      const heads: number[] = [];
      await ws.on('block', (n: number) => heads.push(n));
      const alice = new Wallet(DEV_ACCOUNTS[2]!.privateKey, provider);
      await (await alice.sendTransaction({ to: DEV_ACCOUNTS[3]!.address, value: 1n })).wait();
      const deadline = Date.now() + 10_000;
      while (heads.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(heads.length).toBeGreaterThan(0);
    } finally {
      await ws.destroy();
    }
  });

  it('trims both streams behind the committed blocks (after each commit, off the next block\'s path)', async () => {
    const nc = await connect({ servers: cluster.natsUrl, name: 'e2e-streams' });
    try {
      const jsm = await nc.jetstreamManager();
      // The tests above committed several txs: every tx batch a committed block included is purged.
      await expect.poll(async () => (await jsm.streams.info(TX_STREAM)).state.first_seq, { timeout: 10_000, interval: 100 }).toBeGreaterThan(1);
      const txs = await jsm.streams.info(TX_STREAM);
      expect(txs.state.messages).toBeLessThanOrEqual(2);
      // Empty blocks keep coming every 50 ms: the block stream keeps only the last few.
      await expect.poll(async () => (await jsm.streams.info(BLOCK_STREAM)).state.messages, { timeout: 10_000, interval: 100 }).toBeLessThanOrEqual(3);
      expect((await jsm.streams.info(BLOCK_STREAM)).state.first_seq).toBeGreaterThan(1);
    } finally {
      await nc.close();
    }
  });
});
