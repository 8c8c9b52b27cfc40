// Test helper: a real nats-server with JetStream in a throw-away directory, on a port the server
// picks itself (listen on :-1, then read the port from its log), so parallel test files never
// race for a port; and a JetStream cluster of several servers on loopback (ports found free just
// before, since routes must name them). max_payload matches the cluster's (lib/bus/subjects.ts
// MAX_PAYLOAD_BYTES).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  url: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and deletes its directory. */
  stop(): Promise<void>;
  /** Stops the server, keeping its directory (its streams), and starts it again on the same port after `downMs`. */
  restart(downMs: number): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_TAIL_CHARS = 4_000;

function natsServerBinary(): string {
  if (process.env['NATS_SERVER_BIN']) return process.env['NATS_SERVER_BIN'];
  for (const candidate of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'nats-server'; // from PATH
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

export async function startNatsServer(): Promise<NatsServerHandle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lanes-nats-'));
  try {
    let server = await spawnServer(dir, ['listen: "127.0.0.1:-1"']);
    const port = server.port;
    return {
      url: `nats://127.0.0.1:${port}`,
      stop: async () => { await server.stop(); await rm(dir, { recursive: true, force: true }); },
      restart: async (downMs) => {
        await server.stop();
        await new Promise((resolve) => setTimeout(resolve, downMs));
        server = await spawnServer(dir, [`listen: "127.0.0.1:${port}"`]);
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface NatsClusterHandle {
  /** One nats:// URL per server. */
  urls: string[];
  stop(): Promise<void>;
}

/** A JetStream cluster of `size` servers on loopback (routes between them), as prod runs NATS. */
export async function startNatsCluster(size: number): Promise<NatsClusterHandle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lanes-nats-cluster-'));
  const clientPorts = await Promise.all(Array.from({ length: size }, () => freeLoopbackPort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freeLoopbackPort()));
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`);
  const servers = await Promise.allSettled(clientPorts.map(async (port, i) => {
    const nodeDir = path.join(dir, `n${i}`);
    await mkdir(nodeDir);
    return spawnServer(nodeDir, [
      `listen: "127.0.0.1:${port}"`,
      `server_name: n${i}`,
      `cluster { name: lanes-test, listen: "127.0.0.1:${routePorts[i]}", routes: [${routes.filter((_, k) => k !== i).map((r) => JSON.stringify(r)).join(', ')}] }`,
    ]);
  }));
  const started = servers.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((server) => server.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  const failed = servers.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  return { urls: clientPorts.map((p) => `nats://127.0.0.1:${p}`), stop };
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts nats-server in `dir` with JetStream, the cluster's max_payload and `lines` (listen, and a
 * cluster block for a cluster node); resolves with its client port once it says it is ready.
 */
async function spawnServer(dir: string, lines: string[]): Promise<{ port: number; stop(): Promise<void> }> {
  const configPath = path.join(dir, 'nats.conf');
  await writeFile(configPath, [
    ...lines,
    'max_payload: 8MB',
    `jetstream { store_dir: ${JSON.stringify(path.join(dir, 'js'))} }`,
    '',
  ].join('\n'));
  const child = spawn(natsServerBinary(), ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let logTail = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within ${START_TIMEOUT_MS} ms:\n${logTail}`)), START_TIMEOUT_MS);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`nats-server exited with ${code}:\n${logTail}`)); });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      logTail = (logTail + chunk).slice(-LOG_TAIL_CHARS);
      const match = /Listening for client connections on [^\s]*:(\d+)/.exec(logTail);
      // "Server is ready" comes after JetStream is up; the port line comes before it.
      if (match !== null && logTail.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.stderr!.removeAllListeners('data');
  child.stderr!.resume(); // keep draining so the server never blocks on a full pipe
  let stopped = false;
  return {
    port,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
        child.kill('SIGKILL');
        await waitForExit(child, STOP_TIMEOUT_MS);
      }
    },
  };
}
