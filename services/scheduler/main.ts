// Scheduler service entry point: wires configuration, genesis, NATS and the scheduler loop.
import { connectBus, ensureStreams } from '../../lib/bus/nats.js';
import { devGenesis, loadGenesis } from '../../lib/chain/genesis.js';
import { loadConfig, type LanesConfig } from '../../lib/config.js';
import { startHealthServer } from '../../lib/health.js';
import { createLogger, type Logger } from '../../lib/log.js';
import { Scheduler } from './scheduler.js';

export async function startScheduler(config: LanesConfig, log: Logger): Promise<{ stop(): Promise<void>; healthPort: number }> {
  const genesis = config.genesisPath === '' ? devGenesis() : loadGenesis(config.genesisPath);
  const nc = await connectBus(config.natsUrl, `scheduler-${config.instanceId}`, log);
  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm);
  const scheduler = new Scheduler(nc, jsm, config, genesis, log);
  await scheduler.start();
  const health = await startHealthServer('scheduler', config.healthPort, () => {
    const s = scheduler.stats();
    return {
      ok: s.running && !nc.isClosed(), committedHeight: s.committedHeight.toString(), blocks: s.blocks, txs: s.txs, rejected: s.rejected,
      executions: s.executions, reexecutions: s.reexecutions, parallelBlocks: s.parallelBlocks, serialBlocks: s.serialBlocks,
      serialFallbacks: s.serialFallbacks, execRetries: s.execRetries, executors: s.executors,
    };
  });
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const log = createLogger('scheduler', config.logLevel);
  const service = await startScheduler(config, log).catch((err) => {
    log.fatal({ err }, 'scheduler failed to start');
    process.exit(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'scheduler stopping');
      void service.stop().then(() => process.exit(0));
    });
  }
}
