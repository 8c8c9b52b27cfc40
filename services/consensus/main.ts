// Consensus service entry point: wires configuration, NATS and the single sequencer.
import { connectBus, ensureStreams } from '../../lib/bus/nats.js';
import { loadConfig, type LanesConfig } from '../../lib/config.js';
import { startHealthServer } from '../../lib/health.js';
import { createLogger, type Logger } from '../../lib/log.js';
import { Sequencer } from './sequencer.js';

export async function startConsensus(config: LanesConfig, log: Logger): Promise<{ stop(): Promise<void>; healthPort: number }> {
  const nc = await connectBus(config.natsUrl, `consensus-${config.instanceId}`, log);
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm);
  const sequencer = new Sequencer(nc, nc.jetstream(), jsm, config, log);
  await sequencer.start();
  const health = await startHealthServer('consensus', config.healthPort, () => {
    const s = sequencer.stats();
    return { ok: s.running && !nc.isClosed(), height: s.height.toString(), committedHeight: s.committedHeight.toString(), pendingTxs: s.pendingTxs };
  });
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const log = createLogger('consensus', config.logLevel);
  const service = await startConsensus(config, log).catch((err) => {
    log.fatal({ err }, 'consensus failed to start');
    process.exit(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'consensus stopping');
      void service.stop().then(() => process.exit(0));
    });
  }
}
