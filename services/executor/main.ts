// Executor service entry point: wires configuration, genesis, NATS and the worker.
import { connectBus } from '../../lib/bus/nats.js';
import { devGenesis, loadGenesis } from '../../lib/chain/genesis.js';
import { loadConfig, type LanesConfig } from '../../lib/config.js';
import { startHealthServer } from '../../lib/health.js';
import { createLogger, type Logger } from '../../lib/log.js';
import { ExecutorWorker } from './worker.js';

export async function startExecutor(config: LanesConfig, log: Logger): Promise<{ stop(): Promise<void>; healthPort: number }> {
  const genesis = config.genesisPath === '' ? devGenesis() : loadGenesis(config.genesisPath);
  const nc = await connectBus(config.natsUrl, `executor-${config.instanceId}`, log);
  const worker = await ExecutorWorker.create(nc, config, genesis, log);
  worker.start();
  const health = await startHealthServer('executor', config.healthPort, () => {
    const s = worker.stats();
    return { ok: !nc.isClosed(), blocks: s.blocks, txs: s.txs, calls: s.calls, cacheHeight: s.cacheHeight.toString(), cacheEntries: s.cacheEntries, roundTrips: s.roundTrips };
  });
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const log = createLogger('executor', config.logLevel);
  const service = await startExecutor(config, log).catch((err) => {
    log.fatal({ err }, 'executor failed to start');
    process.exit(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'executor stopping');
      void service.stop().then(() => process.exit(0));
    });
  }
}
