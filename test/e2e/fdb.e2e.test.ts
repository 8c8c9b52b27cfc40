// End to end with FoundationDB as the state backend: the same cluster as cluster.e2e.test.ts, its
// state service on a fresh key prefix of a real database. The state roots must equal the serial
// reference executor's, which the lmdb cluster's equal (cluster.e2e.test.ts): so FoundationDB and
// the embedded store give the same roots over the same blocks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { erc20Artifact } from '../../lib/contracts.js';
import { testFdb, uniquePrefix } from '../support/fdb.js';
import { replayThroughReference } from '../support/reference.js';

const found = await testFdb();

describe.skipIf(found.skip !== null)(`local cluster end to end on FoundationDB${found.skip === null ? '' : ` (skipped: ${found.skip})`}`, () => {
  const prefix = uniquePrefix('e2e');
  let cluster: RunningCluster | undefined;
  let provider: JsonRpcProvider;
  let dataDir: string;

  beforeAll(async () => {
    const fdb = found.fdb!;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-e2e-fdb-'));
    cluster = await startCluster({
      dataDir, executors: 2,
      env: {
        LANES_BLOCK_INTERVAL_MS: '50', LANES_STATE_BACKEND: 'fdb', FDB_CLUSTER_FILE: fdb.clusterFile,
        LD_LIBRARY_PATH: fdb.libraryPath, LANES_FDB_PREFIX: prefix,
      },
    });
    provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true, polling: true, pollingInterval: 50 });
  });

  afterAll(async () => {
    provider?.destroy();
    await cluster?.stop();
    if (found.fdb !== null) {
      const { FdbStateBackend } = await import('../../services/state/fdbBackend.js');
      const backend = await FdbStateBackend.open({ clusterFile: found.fdb.clusterFile, prefix });
      await backend.destroyAll();
      await backend.close();
      await found.fdb.stop();
    }
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('commits transfers and an ERC-20 through FoundationDB with the reference roots', async () => {
    const stateLog = fs.readFileSync(cluster!.services.find((s) => s.name === 'state')!.logFile, 'utf8');
    expect(stateLog).toContain(`prefix '${prefix}'`);
    const alice = new Wallet(DEV_ACCOUNTS[0]!.privateKey, provider);
    const bob = new Wallet(DEV_ACCOUNTS[1]!.privateKey, provider);
    const carol = Wallet.createRandom().connect(provider);
    const sent = await Promise.all([0, 1, 2].map(async (i) => alice.sendTransaction({ to: carol.address, value: parseEther('1'), nonce: i })));
    for (const tx of sent) expect((await tx.wait())?.status).toBe(1);
    expect(await provider.getBalance(carol.address)).toBe(parseEther('3'));

    const artifact = erc20Artifact();
    const token = await new ContractFactory(artifact.abi as never, artifact.bytecode, bob).deploy('Test', 'TST', 1_000n, bob.address);
    await token.deploymentTransaction()!.wait();
    const erc20 = new Contract(await token.getAddress(), artifact.abi as never, bob);
    const receipt = await (await erc20.getFunction('transfer')(carol.address, 25n)).wait();
    expect(receipt.status).toBe(1);
    expect(await erc20.getFunction('balanceOf')(carol.address)).toBe(25n);
    expect(await erc20.getFunction('balanceOf')(carol.address, { blockTag: receipt.blockNumber - 1 })).toBe(0n);
    const logs = await provider.getLogs({ address: await token.getAddress(), fromBlock: 0, toBlock: 'latest' });
    expect(logs.length).toBe(2); // mint + transfer

    const head = await provider.getBlockNumber();
    const replayed = await replayThroughReference(provider, head);
    expect(replayed.reduce((n, b) => n + b.txs, 0)).toBe(5);
    for (const b of replayed) {
      expect(b.clusterRoot, `state root of block ${b.number}`).toBe(b.referenceRoot);
      expect(b.clusterReceipts).toEqual(b.referenceReceipts);
    }
  });
});
