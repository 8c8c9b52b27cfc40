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
  /** Where the running process's lines begin in logFile (a service started again after a port clash appends). */
  logFrom: number;
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

/** Attempts at starting a service when a port picked for it was taken before it bound it. */
const PORT_ATTEMPTS = 3;

function logBytes(logFile: string): number {
  return fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
}

/** What the log got after its first `from` bytes. */
function logSince(logFile: string, from: number): string {
  return fs.readFileSync(logFile).subarray(from).toString('utf8');
}

/** Whether what the log got after its first `from` bytes mentions `text`. */
function logSays(logFile: string, text: string, from: number): boolean {
  return logSince(logFile, from).includes(text);
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
    const spawnService = (name: string, service: string, env: Record<string, string>, logFile: string): ChildProcess => {
      const out = fs.openSync(logFile, 'a');
      const child = spawn(process.execPath, [...serviceNodeFlags(service), ...(options.nodeArgs ?? []), path.join(distRoot, 'services', service, 'main.js')], {
        env: { ...baseEnv, LANES_INSTANCE_ID: name, ...env },
        stdio: ['ignore', out, out],
      });
      fs.closeSync(out);
      return child;
    };
    /**
     * How each service was launched: its environment, which of its variables hold ports picked
     * here (LANES_HEALTH_PORT always), and where its log stood then; for a relaunch (ready).
     */
    const launches = new Map<ServiceProcess, { service: string; env: Record<string, string>; picked: string[]; logFrom: number }>();
    const pickInto = async (env: Record<string, string>, picked: readonly string[]): Promise<void> => {
      for (const key of picked) env[key] = String(await pickPort());
    };
    const launch = async (name: string, service: string, fixed: Record<string, string> = {}, pickedPorts: string[] = []): Promise<ServiceProcess> => {
      const picked = ['LANES_HEALTH_PORT', ...pickedPorts];
      const env = { ...fixed };
      await pickInto(env, picked);
      const logFile = path.join(logDir, `${name}.log`);
      const logFrom = logBytes(logFile);
      const child = spawnService(name, service, env, logFile);
      started.push({ name, child });
      const proc = { name, healthPort: Number(env.LANES_HEALTH_PORT), child, logFile, logFrom };
      services.push(proc);
      launches.set(proc, { service, env, picked, logFrom });
      return proc;
    };
    /** The port a service was given in variable `key`. */
    const portOf = (proc: ServiceProcess, key: string): number => Number(launches.get(proc)!.env[key]);
    // A port freePort picked is free when picked, not when the service binds it a moment later:
    // an outgoing connection of any process on the host may take it meanwhile (it is in the
    // ephemeral range), and the service then exits with EADDRINUSE. Seen in CI on an executor's
    // health port and on ingress's RPC ports. Such a service starts again with every port picked
    // here picked anew, a bounded number of times; the same ServiceProcess is kept, so callers'
    // references stay valid. A port the caller chose is never changed: a clash on it fails.
    const ready = async (proc: ServiceProcess): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await waitFor(() => healthy(proc.healthPort), timeoutMs, proc.name, proc.logFile, proc.child);
          return;
        } catch (err) {
          const how = launches.get(proc);
          // Node names the port as `"port":N` in the error's fields, grpc-js as `127.0.0.1:N` in its message.
          const saysPort = (port: string): boolean => new RegExp(`("port":|127\\.0\\.0\\.1:)${port}(?!\\d)`).test(logSince(proc.logFile, how!.logFrom));
          const pickedPortTaken = how !== undefined && proc.child.exitCode !== null
            && logSays(proc.logFile, 'EADDRINUSE', how.logFrom) && how.picked.some((key) => saysPort(how.env[key]!));
          if (!pickedPortTaken || attempt >= PORT_ATTEMPTS) throw err;
          const entry = started.find((s) => s.child === proc.child);
          await pickInto(how.env, how.picked);
          proc.healthPort = Number(how.env.LANES_HEALTH_PORT);
          how.logFrom = logBytes(proc.logFile);
          proc.logFrom = how.logFrom;
          proc.child = spawnService(proc.name, how.service, how.env, proc.logFile);
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
      // Ingress's ports, unless the caller chose them, are picked like the health ports (see ready).
      const fixed: Record<string, string> = {};
      const picked: string[] = [];
      for (const [key, port] of [['LANES_RPC_PORT', options.rpcPort], ['LANES_GRPC_PORT', options.grpcPort]] as const) {
        if (port === undefined) picked.push(key);
        else fixed[key] = String(port);
      }
      const ingress = await launch('ingress', 'ingress', fixed, picked);
      await ready(ingress);
      rpcPort = portOf(ingress, 'LANES_RPC_PORT');
      grpcPort = portOf(ingress, 'LANES_GRPC_PORT');
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
