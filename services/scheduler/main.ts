// Scheduler service entry point: wires configuration, genesis, NATS and the scheduler loop.
import { DEFAULT_STREAM_LIMITS, connectBus, connectStreams, streamSetupRetry } from '../../lib/bus/nats.js';
import { BLOCK_STREAM } from '../../lib/bus/subjects.js';
import { devGenesis, loadGenesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import { isMainModule, runService } from '../../lib/service.js';
import { startHealthServer } from '../../lib/health.js';
import type { Logger } from '../../lib/log.js';
import { createServiceMetrics } from '../../lib/metrics.js';
import { touchYoungGeneration } from '../../lib/youngGeneration.js';
import { Scheduler } from './scheduler.js';

export async function startScheduler(config: LanesConfig, log: Logger): Promise<{ stop(): Promise<void>; healthPort: number }> {
  const genesis = config.genesisPath === '' ? devGenesis() : loadGenesis(config.genesisPath);
  // Its fixed young generation's pages, taken now rather than by the first blocks (lib/youngGeneration.ts).
  log.info(touchYoungGeneration(), 'young generation touched');
  const nc = await connectBus(config.natsUrl, `scheduler-${config.instanceId}`, log);
  const jsm = await connectStreams(nc, { ...DEFAULT_STREAM_LIMITS, replicas: config.streamReplicas }, streamSetupRetry(log));
  const scheduler = new Scheduler(nc, jsm, config, genesis, log);
  await scheduler.start();
  const metrics = createServiceMetrics('scheduler', config.instanceId);
  const stat = scheduler.stats.bind(scheduler);
  metrics.counterFrom('lanes_scheduler_blocks_total', 'Blocks the scheduler had executed and committed', () => stat().blocks);
  metrics.counterFrom('lanes_scheduler_txs_total', 'Transactions included in committed blocks', () => stat().txs);
  metrics.counterFrom('lanes_scheduler_rejected_txs_total', 'Transactions rejected at execution (nonce, funds), with a reason', () => stat().rejected);
  metrics.counterFrom('lanes_scheduler_executions_total', 'Transaction executions on executors (first runs and re-runs)', () => stat().executions);
  metrics.counterFrom('lanes_scheduler_reexecutions_total', 'Transactions re-executed after failing read-set validation', () => stat().reexecutions);
  metrics.counterFrom('lanes_scheduler_parallel_blocks_total', 'Blocks run by the parallel engine', () => stat().parallelBlocks);
  metrics.counterFrom('lanes_scheduler_serial_blocks_total', 'Blocks run serially by plan (small or predicted too contended)', () => stat().serialBlocks);
  metrics.counterFrom('lanes_scheduler_serial_fallbacks_total', 'Parallel blocks abandoned for a serial run', () => stat().serialFallbacks);
  metrics.counterFrom('lanes_scheduler_overlapped_blocks_total', 'Blocks that began executing while the block before was still committing (LANES_PIPELINE_COMMITS)', () => stat().overlappedBlocks);
  metrics.counterFrom('lanes_scheduler_block_hash_reruns_total', 'Blocks run again because a tx read the hash of the block still committing', () => stat().blockHashReruns);
  metrics.counterFrom('lanes_scheduler_exec_retries_total', 'Execution requests retried (timeout or executor gone)', () => stat().execRetries);
  metrics.gaugeFrom('lanes_scheduler_executors', 'Executors that heartbeated recently', () => stat().executors);
  metrics.gaugeFrom('lanes_scheduler_committed_height', 'Last block height committed through the scheduler', () => Number(stat().committedHeight));
  metrics.gaugeFrom('lanes_scheduler_last_block_seconds', 'Time the scheduler spent on its last block, execution to commit', () => stat().lastBlockMs / 1000);
  // The executors' queue: ordered blocks in LANES_BLOCKS not yet committed (one request per scrape).
  metrics.gaugeFrom('lanes_blocks_lag', 'Ordered blocks waiting for execution and commit (LANES_BLOCKS last seq - committed height)', async () => {
    const info = await jsm.streams.info(BLOCK_STREAM);
    return Math.max(0, info.state.last_seq - Number(stat().committedHeight));
  });
  const health = await startHealthServer('scheduler', config.healthPort, () => {
    const s = scheduler.stats();
    return {
      ok: s.running && !nc.isClosed(), committedHeight: s.committedHeight.toString(), blocks: s.blocks, txs: s.txs, rejected: s.rejected,
      executions: s.executions, reexecutions: s.reexecutions, parallelBlocks: s.parallelBlocks, serialBlocks: s.serialBlocks,
      serialFallbacks: s.serialFallbacks, execRetries: s.execRetries, executors: s.executors,
      overlappedBlocks: s.overlappedBlocks, blockHashReruns: s.blockHashReruns, chosenSerialMs: s.chosenSerialMs,
    };
  }, { host: config.healthHost, metrics: metrics.registry });
  log.info({ healthPort: health.port }, 'scheduler ready');
  return {
    healthPort: health.port,
    stop: async () => {
      await scheduler.stop();
      await health.close();
      await nc.drain();
    },
  };
}

if (isMainModule(import.meta.url)) await runService('scheduler', startScheduler);
