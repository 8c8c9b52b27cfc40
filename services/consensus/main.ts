// Consensus service entry point: wires configuration, NATS and the single sequencer.
import { DEFAULT_STREAM_LIMITS, connectBus, connectStreams, streamSetupRetry } from '../../lib/bus/nats.js';
import { TX_STREAM } from '../../lib/bus/subjects.js';
import type { LanesConfig } from '../../lib/config.js';
import { isMainModule, runService } from '../../lib/service.js';
import { startHealthServer } from '../../lib/health.js';
import type { Logger } from '../../lib/log.js';
import { createServiceMetrics } from '../../lib/metrics.js';
import { Sequencer } from './sequencer.js';

export async function startConsensus(config: LanesConfig, log: Logger): Promise<{ stop(): Promise<void>; healthPort: number }> {
  const nc = await connectBus(config.natsUrl, `consensus-${config.instanceId}`, log);
  const jsm = await connectStreams(nc, { ...DEFAULT_STREAM_LIMITS, replicas: config.streamReplicas }, streamSetupRetry(log));
  const sequencer = new Sequencer(nc, nc.jetstream(), jsm, config, log);
  await sequencer.start();
  const metrics = createServiceMetrics('consensus', config.instanceId);
  const stat = sequencer.stats.bind(sequencer);
  metrics.gaugeFrom('lanes_consensus_height', 'Height of the last block ordered into LANES_BLOCKS', () => Number(stat().height));
  metrics.gaugeFrom('lanes_consensus_uncommitted_blocks', 'Ordered blocks not yet committed (the sequencer waits at LANES_MAX_UNCOMMITTED_BLOCKS)',
    () => Math.max(0, Number(stat().height - stat().committedHeight)));
  metrics.gaugeFrom('lanes_consensus_pending_txs', 'Transactions read from LANES_TX and not yet cut into a block', () => stat().pendingTxs);
  metrics.counterFrom('lanes_consensus_duplicates_dropped_total', 'Transactions dropped because they were already ordered', () => stat().duplicatesDropped);
  // Accepted batches not yet committed: the scheduler purges LANES_TX up to each committed block.
  const txStream = async (): Promise<{ messages: number; bytes: number }> => (await jsm.streams.info(TX_STREAM)).state;
  metrics.gaugeFrom('lanes_tx_stream_messages', 'Batches in LANES_TX (accepted, not yet committed)', async () => (await txStream()).messages);
  metrics.gaugeFrom('lanes_tx_stream_bytes', 'Bytes in LANES_TX (accepted, not yet committed)', async () => (await txStream()).bytes);
  const health = await startHealthServer('consensus', config.healthPort, () => {
    const s = sequencer.stats();
    return { ok: s.running && !nc.isClosed(), height: s.height.toString(), committedHeight: s.committedHeight.toString(), pendingTxs: s.pendingTxs };
  }, { host: config.healthHost, metrics: metrics.registry });
  log.info({ healthPort: health.port }, 'consensus ready');
  return {
    healthPort: health.port,
    stop: async () => {
      await sequencer.stop();
      await health.close();
      await nc.drain();
    },
  };
}

if (isMainModule(import.meta.url)) await runService('consensus', startConsensus);
