// Starts and stops a local Lanes cluster: one nats-server with JetStream and every service as
// its own process, each logging to <dataDir>/logs/<name>.log. Used by `lanes start`, the
// end-to-end tests and the benchmarks, so all three run exactly the same cluster.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceNodeFlags } from '../lib/nodeFlags.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled tree: this file runs as dist/cli/cluster.js, or from source (tests) next to dist/. */
const distRoot = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..') : path.resolve(here, '..', 'dist');

export interface ClusterOptions {
  dataDir: string;
  executors: number;
  /**
   * Start only state and the executors (no consensus, scheduler or ingress): for benchmarks that
   * drive the engine in-process against real executor processes.
   */
  executionOnly?: boolean;
  /** Extra node arguments for every service process, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR']. */
  nodeArgs?: string[];
  rpcPort?: number;
  grpcPort?: number;
  natsPort?: number;
  genesisPath?: string;
  /** Extra environment for every service (LANES_BLOCK_INTERVAL_MS, LANES_STATE_BACKEND, …). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /**
   * Where the ports the cluster picks come from (default freePort). A test passes one that hands
   * out a port already taken, to check that a service which cannot bind it starts again elsewhere.
   */
  pickPort?: () => Promise<number>;
}

export interface ServiceProcess {
  name: string;
  healthPort: number;
  child: ChildProcess;
  logFile: string;
}

export interface RunningCluster {
  rpcUrl: string;
  wsUrl: string;
  grpcAddress: string;
  natsUrl: string;
  /** The nats-server process's pid (its CPU, for benchmarks). */
  natsPid: number;
  dataDir: string;
  logDir: string;
  services: ServiceProcess[];
  /** Stops one service (SIGTERM, then SIGKILL after a grace period). */
  stopService(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts one more executor process (scale-out) and waits until it is healthy. */
  addExecutor(): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** Lines of a service's log a start error quotes: its data directory may be gone by the time anyone looks. */
const LOG_TAIL_LINES = 8;

export class ClusterStartError extends Error {
  constructor(message: string, readonly logFile?: string) {
    super(logFile === undefined ? message : `${message} (see ${logFile})${logTail(logFile)}`);
    this.name = 'ClusterStartError';
  }
}

function logTail(logFile: string): string {
  try {
    const lines = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).map((l) => l.slice(0, 1_000));
    return lines.length === 0 || lines[0] === '' ? '' : `; its log ends:\n${lines.join('\n')}`;
  } catch {
    return '';
  }
}

export function findNatsServer(): string | null {
  for (const candidate of [process.env['NATS_SERVER_BIN'], '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (candidate !== undefined && candidate !== '' && fs.existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return found === '' ? null : found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, logFile?: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new ClusterStartError(`${what} exited with code ${child.exitCode}`, logFile);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ClusterStartError(`${what} not ready after ${timeoutMs} ms`, logFile);
}

/** Attempts at starting ingress when a port picked for it was taken before it bound it. */
const INGRESS_PORT_ATTEMPTS = 3;
/** Attempts at starting any service when the health port picked for it was taken before it bound it. */
const HEALTH_PORT_ATTEMPTS = 3;

function logBytes(logFile: string): number {
  return fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
}

/** Whether what the log got after its first `from` bytes mentions `text`. */
function logSays(logFile: string, text: string, from: number): boolean {
  return fs.readFileSync(logFile).subarray(from).toString('utf8').includes(text);
}

async function healthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
  return res.status === 200;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const natsBin = findNatsServer();
  if (natsBin === null) throw new ClusterStartError('nats-server not found: install it (apt-get install -y nats-server) or set NATS_SERVER_BIN');
  const dataDir = path.resolve(options.dataDir);
  const logDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const pickPort = options.pickPort ?? freePort;
  const natsPort = options.natsPort ?? await pickPort();
  let rpcPort = options.rpcPort ?? 0;
  let grpcPort = options.grpcPort ?? 0;
  const services: ServiceProcess[] = [];
  const started: Array<{ name: string; child: ChildProcess }> = [];

  const natsConf = path.join(dataDir, 'nats.conf');
  fs.writeFileSync(natsConf, [
    `listen: 127.0.0.1:${natsPort}`,
    'max_payload: 8MB',
    'jetstream {',
    `  store_dir: ${JSON.stringify(path.join(dataDir, 'nats'))}`,
    '  max_memory_store: 256MB',
    '  max_file_store: 8GB',
    '}',
    '',
  ].join('\n'));
  const natsLog = path.join(logDir, 'nats.log');
  const nats = spawn(natsBin, ['-c', natsConf], { stdio: ['ignore', fs.openSync(natsLog, 'a'), fs.openSync(natsLog, 'a')] });
  started.push({ name: 'nats', child: nats });
  const natsUrl = `nats://127.0.0.1:${natsPort}`;

  const stopAll = async (): Promise<void> => {
    // Reverse start order: ingress stops taking work first, nats goes last.
    for (const s of [...started].reverse()) await stopChild(s.child, 'SIGTERM', 10_000);
  };

  let launchService: ((name: string, service: string) => Promise<ServiceProcess>) | null = null;
  let awaitReady: ((proc: ServiceProcess) => Promise<void>) | null = null;
  try {
    await waitFor(() => tcpOpen(natsPort), timeoutMs, 'nats-server', natsLog, nats);
    const baseEnv: Record<string, string> = {
      ...process.env as Record<string, string>,
      LANES_NATS_URL: natsUrl,
      LANES_DATA_DIR: dataDir,
      ...(options.genesisPath !== undefined ? { LANES_GENESIS: path.resolve(options.genesisPath) } : {}),
      ...options.env,
    };
    const spawnService = (name: string, service: string, extra: Record<string, string>, healthPort: number, logFile: string): ChildProcess => {
      const out = fs.openSync(logFile, 'a');
      const child = spawn(process.execPath, [...serviceNodeFlags(service), ...(options.nodeArgs ?? []), path.join(distRoot, 'services', service, 'main.js')], {
        env: { ...baseEnv, LANES_HEALTH_PORT: String(healthPort), LANES_INSTANCE_ID: name, ...extra },
        stdio: ['ignore', out, out],
      });
      fs.closeSync(out);
      return child;
    };
    /** How each service was launched, for a relaunch (ready), and where its log stood then. */
    const launches = new Map<ServiceProcess, { service: string; extra: Record<string, string>; logFrom: number }>();
    const launch = async (name: string, service: string, extra: Record<string, string> = {}): Promise<ServiceProcess> => {
      const healthPort = await pickPort();
      const logFile = path.join(logDir, `${name}.log`);
      const logFrom = logBytes(logFile);
      const child = spawnService(name, service, extra, healthPort, logFile);
      started.push({ name, child });
      const proc = { name, healthPort, child, logFile };
      services.push(proc);
      launches.set(proc, { service, extra, logFrom });
      return proc;
    };
    // A port freePort picked is free when picked, not when the service binds it a moment later:
    // an outgoing connection of any process on the host may take it meanwhile (it is in the
    // ephemeral range), and the service then exits with EADDRINUSE. Seen once in CI on an
    // executor's health port. Such a service starts again on another port, a bounded number of
    // times; the same ServiceProcess is kept, so callers' references stay valid.
    const ready = async (proc: ServiceProcess): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await waitFor(() => healthy(proc.healthPort), timeoutMs, proc.name, proc.logFile, proc.child);
          return;
        } catch (err) {
          const how = launches.get(proc);
          const healthPortTaken = how !== undefined && proc.child.exitCode !== null
            && logSays(proc.logFile, 'EADDRINUSE', how.logFrom)
            && (logSays(proc.logFile, `"port":${proc.healthPort},`, how.logFrom) || logSays(proc.logFile, `"port":${proc.healthPort}}`, how.logFrom));
          if (!healthPortTaken || attempt >= HEALTH_PORT_ATTEMPTS) throw err;
          const entry = started.find((s) => s.child === proc.child);
          proc.healthPort = await pickPort();
          how.logFrom = logBytes(proc.logFile);
          proc.child = spawnService(proc.name, how.service, how.extra, proc.healthPort, proc.logFile);
          if (entry !== undefined) entry.child = proc.child;
        }
      }
    };
    launchService = launch;
    awaitReady = ready;

    await ready(await launch('state', 'state'));
    const executors: ServiceProcess[] = [];
    for (let i = 0; i < options.executors; i++) executors.push(await launch(`executor-${i + 1}`, 'executor'));
    if (options.executionOnly === true) {
      for (const proc of executors) await ready(proc);
    } else {
      const consensus = await launch('consensus', 'consensus');
      const scheduler = await launch('scheduler', 'scheduler');
      // Ports picked by freePort are free when picked, not when ingress binds them a moment later:
      // another process may take one meanwhile. Pick them as late as possible, and pick again
      // (a bounded number of times) when ingress found one taken.
      for (let attempt = 1; ; attempt++) {
        if (options.rpcPort === undefined) rpcPort = await pickPort();
        if (options.grpcPort === undefined) grpcPort = await pickPort();
        const logFrom = logBytes(path.join(logDir, 'ingress.log'));
        const ingress = await launch('ingress', 'ingress', { LANES_RPC_PORT: String(rpcPort), LANES_GRPC_PORT: String(grpcPort) });
        try {
          await ready(ingress);
          break;
        } catch (err) {
          const portsOurs = options.rpcPort === undefined && options.grpcPort === undefined;
          if (!portsOurs || attempt >= INGRESS_PORT_ATTEMPTS || ingress.child.exitCode === null || !logSays(ingress.logFile, 'EADDRINUSE', logFrom)) throw err;
          services.splice(services.indexOf(ingress), 1);
          started.splice(started.findIndex((s) => s.child === ingress.child), 1);
        }
      }
      for (const proc of [...executors, consensus, scheduler]) await ready(proc);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  fs.writeFileSync(path.join(dataDir, 'cluster.json'), JSON.stringify({
    pids: started.map((s) => ({ name: s.name, pid: s.child.pid })), rpcPort, grpcPort, natsPort,
  }, null, 2));

  return {
    rpcUrl: `http://127.0.0.1:${rpcPort}`,
    wsUrl: `ws://127.0.0.1:${rpcPort}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    natsUrl,
    natsPid: nats.pid ?? -1,
    dataDir,
    logDir,
    services,
    addExecutor: async () => {
      const n = services.filter((s) => s.name.startsWith('executor-')).length + 1;
      const proc = await launchService!(`executor-${n}`, 'executor');
      await awaitReady!(proc);
      return proc;
    },
    stopService: async (name, signal = 'SIGTERM') => {
      const s = started.find((x) => x.name === name);
      if (s === undefined) throw new Error(`no service named ${name}`);
      await stopChild(s.child, signal, 10_000);
    },
    stop: async () => {
      await stopAll();
      fs.rmSync(path.join(dataDir, 'cluster.json'), { force: true });
    },
  };
}
