// The process entry of every service: configuration, logger, start, and a clean stop on SIGTERM
// or SIGINT (exit 0), or exit 1 when starting or stopping fails. Each main.ts calls it once.
import { loadConfig, type LanesConfig } from './config.js';
import { createLogger, type Logger } from './log.js';

export interface RunningService {
  stop(): Promise<void>;
}

/** True when `moduleUrl` is the script node was started with (not an import from a test). */
export function isMainModule(moduleUrl: string): boolean {
  return moduleUrl === `file://${process.argv[1]}`;
}

export async function runService(name: string, start: (config: LanesConfig, log: Logger) => Promise<RunningService>): Promise<void> {
  const config = loadConfig();
  const log = createLogger(name, config.logLevel);
  const service = await start(config, log).catch((err: unknown) => {
    log.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, `${name} stopping`);
      service.stop().then(() => process.exit(0), (err: unknown) => {
        log.error({ err }, `${name} stop failed`);
        process.exit(1);
      });
    });
  }
}
