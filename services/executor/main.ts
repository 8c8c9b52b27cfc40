// Executor service entry point: wires configuration, genesis, NATS and the worker.
import { connectBus } from '../../lib/bus/nats.js';
import { devGenesis, loadGenesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import { isMainModule, runService } from '../../lib/service.js';
import { startHealthServer } from '../../lib/health.js';
import type { Logger } from '../../lib/log.js';
import { createServiceMetrics } from '../../lib/metrics.js';
import { ExecutorWorker } from './worker.js';

export async function startExecutor(config: LanesConfig, log: Logger): Promise<{ stop(): Promise<void>; healthPort: number }> {
  const genesis = config.genesisPath === '' ? devGenesis() : loadGenesis(config.genesisPath);
  const nc = await connectBus(config.natsUrl, `executor-${config.instanceId}`, log);
  const worker = await ExecutorWorker.create(nc, config, genesis, log);
  // Before it says hello: the scheduler sends work only to executors that run at full speed.
  await worker.warmUp();
  worker.start();
  const metrics = createServiceMetrics('executor', config.instanceId);
  metrics.counterFrom('lanes_executor_blocks_total', 'Execution requests (blocks or partitions) this executor ran', () => worker.stats().blocks);
  metrics.counterFrom('lanes_executor_txs_total', 'Transactions this executor executed, re-executions included', () => worker.stats().txs);
  metrics.counterFrom('lanes_executor_calls_total', 'eth_call / eth_estimateGas requests answered', () => worker.stats().calls);
  metrics.counterFrom('lanes_executor_state_round_trips_total', 'Batched reads from the state service (cache misses)', () => worker.stats().roundTrips);
  metrics.gaugeFrom('lanes_executor_cache_entries', 'Entries in the committed-state cache', () => worker.stats().cacheEntries);
  metrics.gaugeFrom('lanes_executor_cache_height', 'Block height the committed-state cache is at', () => Number(worker.stats().cacheHeight));
  const health = await startHealthServer('executor', config.healthPort, () => {
    const s = worker.stats();
    return { ok: !nc.isClosed(), blocks: s.blocks, txs: s.txs, calls: s.calls, cacheHeight: s.cacheHeight.toString(), cacheEntries: s.cacheEntries, roundTrips: s.roundTrips };
  }, { host: config.healthHost, metrics: metrics.registry });
  log.info({ healthPort: health.port }, 'executor ready');
  return {
    healthPort: health.port,
    stop: async () => {
      // Unsubscribing first hands new work to the other executors; drain finishes what is in hand.
      await worker.stop();
      await nc.drain();
      await health.close();
    },
  };
}

if (isMainModule(import.meta.url)) await runService('executor', startExecutor);
