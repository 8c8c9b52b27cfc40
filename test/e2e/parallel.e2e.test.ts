// The parallel engine in the real cluster: blocks split across executor processes, an executor
// that joins takes work, one killed mid-run has its work re-issued, and every block's state root
// equals the serial reference's.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../../cli/cluster.js';
import { LanesClient, type SubmitTransactionsResponse } from '../../gen/lanes/v1/api.js';
import { genesisToJson } from '../../lib/chain/genesis.js';
import { generateWorkload, type GeneratedWorkload } from '../../lib/workloads/index.js';
import { replayThroughReference } from '../support/reference.js';

interface SchedulerHealth { parallelBlocks: number; reexecutions: number; executors: number; committedHeight: string }

describe('parallel execution across executor processes', () => {
  let cluster: RunningCluster;
  let dataDir: string;
  let workload: GeneratedWorkload;
  let client: LanesClient;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-par-'));
    workload = await generateWorkload({ workload: 'erc20', accounts: 200, hotShare: 0.05, chainId: 31337n, seed: 'parallel-e2e', txCount: 600 });
    const genesisPath = path.join(dataDir, 'genesis.json');
    fs.writeFileSync(genesisPath, JSON.stringify(genesisToJson(workload.genesis)));
    cluster = await startCluster({
      dataDir, executors: 2, genesisPath,
      env: { LANES_BLOCK_INTERVAL_MS: '200', LANES_BLOCK_MAX_TXS: '200', LANES_MIN_PARALLEL_TXS: '8', LANES_MAX_CONFLICT_PERCENT: '100', LANES_MAX_GROUP_PERCENT: '100', LANES_ADAPTIVE_MODE: '0' },
    });
    client = new LanesClient(cluster.grpcAddress, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const scheduler = async (): Promise<SchedulerHealth> => {
    const s = cluster.services.find((x) => x.name === 'scheduler')!;
    return (await (await fetch(`http://127.0.0.1:${s.healthPort}/healthz`)).json()) as SchedulerHealth;
  };
  const submit = (raws: Buffer[]) => new Promise<SubmitTransactionsResponse>((resolve, reject) =>
    client.submitTransactions({ rawTxs: raws }, (err, res) => (err ? reject(err) : resolve(res))));

  it('commits parallel blocks through an executor crash and equals the reference', async () => {
    const provider = new JsonRpcProvider(cluster.rpcUrl, undefined, { staticNetwork: true });
    try {
      // Each sender's txs in nonce order: submit in waves of one tx per sender.
      const bySender = new Map<string, Buffer[]>();
      for (const t of workload.txs) {
        const k = t.sender.toString('hex');
        bySender.set(k, [...(bySender.get(k) ?? []), t.raw]);
      }
      const waves: Buffer[][] = [];
      for (const list of bySender.values()) list.forEach((raw, i) => { (waves[i] ??= []).push(raw); });
      let accepted = 0;
      let joined: { healthPort: number; name: string } | undefined;
      for (const [w, wave] of waves.entries()) {
        if (w === 1) await cluster.stopService('executor-2', 'SIGKILL'); // dies mid-run
        if (w === 2) joined = await cluster.addExecutor(); // scale-out during the run
        const res = await submit(wave);
        accepted += res.results.filter((r) => r.accepted).length;
        expect(res.results.every((r) => r.accepted), res.results.find((r) => !r.accepted)?.errorMessage).toBe(true);
        // The next wave's nonces must be admitted after this wave is committed.
        const hashes = res.results.map((r) => '0x' + r.txHash.toString('hex'));
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const last = await provider.getTransactionReceipt(hashes[hashes.length - 1]!);
          if (last !== null) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(accepted).toBe(workload.txs.length);
      // The executor that joined during the run took work.
      const joinedHealth = (await (await fetch(`http://127.0.0.1:${joined!.healthPort}/healthz`)).json()) as { blocks: number };
      expect(joinedHealth.blocks, `${joined!.name} executed nothing`).toBeGreaterThan(0);
      const health = await scheduler();
      expect(health.parallelBlocks).toBeGreaterThan(0);
      const head = await provider.getBlockNumber();
      const replayed = await replayThroughReference(provider, head, workload.genesis);
      for (const b of replayed) {
        expect(b.clusterRoot, `state root of block ${b.number}`).toBe(b.referenceRoot);
        expect(b.clusterReceipts).toEqual(b.referenceReceipts);
      }
      expect(replayed.reduce((n, b) => n + b.txs, 0)).toBe(workload.txs.length);

      // The conflict report, through gRPC and through the CLI.
      const parallelHeight = replayed.filter((b) => b.txs >= 8).map((b) => b.number).pop()!;
      const rep = await new Promise<{ found: boolean; reportJson: string }>((resolve, reject) =>
        client.getConflictReport({ height: BigInt(parallelHeight) }, (err, r) => (err ? reject(err) : resolve(r))));
      expect(rep.found).toBe(true);
      const report = JSON.parse(rep.reportJson) as { txs: number; executions: number; longestChain: number; mode: string };
      expect(report.executions).toBeGreaterThanOrEqual(report.txs);
      expect(report.longestChain).toBeGreaterThan(0);
      const cli = spawnSync(process.execPath, [path.resolve('dist/cli/lanes.js'), 'report', '--grpc', cluster.grpcAddress, '--height', String(parallelHeight)], { encoding: 'utf8' });
      expect(cli.status, cli.stdout + cli.stderr).toBe(0);
      expect(cli.stdout).toContain('"reexecutions"');
    } finally {
      provider.destroy();
    }
  }, 240_000);
});
