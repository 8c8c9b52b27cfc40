// Prometheus metrics of one service (prom-client), served as GET /metrics by lib/health.ts.
// Most series are read from the services' existing stats() objects when Prometheus scrapes, so
// the hot paths are not touched; only what must be seen per event (commit latency, block time)
// is observed where it happens. Names and meanings: docs/DEPLOY.md, "Metrics".
import client from 'prom-client';

export type { Histogram, Registry } from 'prom-client';

/** Bucket bounds (seconds) for block time and commit latency: 1 ms … 30 s. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Bucket bounds for transactions per block. */
export const BLOCK_TXS_BUCKETS = [0, 1, 8, 32, 64, 128, 256, 512, 1000, 2000, 5000];

export interface ServiceMetrics {
  readonly registry: client.Registry;
  /** A counter whose value is `read()` at scrape time (a monotonically growing stats field). */
  counterFrom(name: string, help: string, read: () => number): void;
  /** A gauge whose value is `read()` at scrape time; an async read may ask NATS (one request per scrape). */
  gaugeFrom(name: string, help: string, read: () => number | Promise<number>): void;
  counter(name: string, help: string): client.Counter;
  histogram(name: string, help: string, buckets: number[]): client.Histogram;
}

/**
 * A registry for one service with Node's default process metrics (CPU seconds, resident memory,
 * heap, event-loop lag, GC) and labels `service` and `instance` on every series. One registry per
 * service rather than prom-client's global one, so tests that start several services in one
 * process do not collide.
 */
export function createServiceMetrics(service: string, instance: string): ServiceMetrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service, instance });
  client.collectDefaultMetrics({ register: registry });
  return {
    registry,
    counterFrom(name, help, read) {
      let last = 0;
      new client.Counter({
        name, help, registers: [registry],
        collect() {
          // Counters only go up: a stats field is a running total, so add what grew since last scrape.
          const value = read();
          if (value > last) this.inc(value - last);
          last = Math.max(last, value);
        },
      });
    },
    gaugeFrom(name, help, read) {
      new client.Gauge({
        name, help, registers: [registry],
        async collect() {
          // A failed read (NATS briefly away) keeps the last value rather than failing the scrape.
          const value = await Promise.resolve().then(read).catch(() => undefined);
          if (value !== undefined) this.set(value);
        },
      });
    },
    counter: (name, help) => new client.Counter({ name, help, registers: [registry] }),
    histogram: (name, help, buckets) => new client.Histogram({ name, help, buckets, registers: [registry] }),
  };
}

/** Observes how long `work` takes, in seconds, whether it resolves or throws. */
export async function timed<T>(histogram: client.Histogram, work: () => Promise<T> | T): Promise<T> {
  const stop = histogram.startTimer();
  try {
    return await work();
  } finally {
    stop();
  }
}
