// Structured logging for every service: pino, JSON lines to stdout, one child per service.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string = process.env['LANES_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ level, base: { service, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
