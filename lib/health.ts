// The health endpoint every service exposes: GET /healthz answers 200 with the service's own
// status object while `check()` returns ok, 503 otherwise. The launcher and probes poll it.
// GET /metrics serves the service's Prometheus registry (lib/metrics.ts) when one is given.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from './metrics.js';

export interface HealthStatus {
  ok: boolean;
  [field: string]: unknown;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export interface HealthServerOptions {
  /** Interface to listen on: 127.0.0.1 (default) on a laptop, 0.0.0.0 in a pod so probes reach it. */
  host?: string;
  metrics?: Registry;
}

export async function startHealthServer(service: string, port: number, check: () => HealthStatus, options: HealthServerOptions = {}): Promise<HealthServer> {
  const { metrics } = options;
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics' && metrics !== undefined) {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (req.url === '/healthz' || req.url === '/health') {
      let status: HealthStatus;
      try {
        status = check();
      } catch (err) {
        status = { ok: false, error: (err as Error).message };
      }
      // The process's own accounting, so benchmarks and operators read real CPU and memory.
      const cpu = process.cpuUsage();
      const usage = process.resourceUsage();
      res.writeHead(status.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        service, pid: process.pid, ...status,
        cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rssBytes: process.memoryUsage.rss(), maxRssBytes: usage.maxRSS * 1024,
      }));
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
