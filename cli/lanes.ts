// The `lanes` command: start a local cluster (optionally running the demo), stop one, or run
// the demo against a running cluster.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster } from './cluster.js';
import { BENCH_USAGE, benchCommand } from './bench.js';
import { runDemo } from './demo.js';

const USAGE = `usage:
  lanes start [--data-dir DIR] [--genesis FILE] [--executors N] [--rpc-port P] [--grpc-port P] [--demo] [--exit-after-demo]
  lanes stop  [--data-dir DIR]
  lanes demo  [--url URL] [--accounts N] [--transfers N]
  lanes bench [options]   (lanes bench --help)
  lanes report [--grpc HOST:PORT] [--height N]   conflict report of a block (default: the latest)

${BENCH_USAGE}`;

const print = (line: string): void => { process.stdout.write(line + '\n'); };

async function start(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string', default: '.lanes/data' },
      genesis: { type: 'string' },
      executors: { type: 'string', default: '2' },
      'rpc-port': { type: 'string', default: '8545' },
      'grpc-port': { type: 'string', default: '50051' },
      demo: { type: 'boolean', default: false },
      'exit-after-demo': { type: 'boolean', default: false },
    },
  });
  const dataDir = path.resolve(values['data-dir']!);
  print(`starting Lanes in ${dataDir} …`);
  const cluster = await startCluster({
    dataDir,
    executors: Number(values.executors),
    rpcPort: Number(values['rpc-port']),
    grpcPort: Number(values['grpc-port']),
    ...(values.genesis !== undefined ? { genesisPath: values.genesis } : {}),
  });
  print([
    'Lanes is running:',
    `  JSON-RPC   ${cluster.rpcUrl}   (WebSocket ${cluster.wsUrl})`,
    `  gRPC       ${cluster.grpcAddress}   (service lanes.v1.Lanes, proto/lanes/v1/api.proto)`,
    `  NATS       ${cluster.natsUrl}`,
    `  services   ${cluster.services.map((s) => `${s.name} (health :${s.healthPort})`).join(', ')}`,
    `  logs       ${cluster.logDir}/<service>.log`,
    `  data       ${cluster.dataDir}  (kept across restarts)`,
    '  stop with Ctrl-C, or `npm run stop` from another terminal',
  ].join('\n'));
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    print('stopping Lanes …');
    await cluster.stop();
    print('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  if (values.demo) {
    print('running the demo workload …');
    try {
      await runDemo({ rpcUrl: cluster.rpcUrl, accounts: 10, transfersPerAccount: 20, print });
    } catch (err) {
      print(`demo failed: ${(err as Error).message}`);
      process.exitCode = 1;
    }
    if (values['exit-after-demo']) await shutdown();
  }
}

async function stop(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'data-dir': { type: 'string', default: '.lanes/data' } } });
  const file = path.join(path.resolve(values['data-dir']!), 'cluster.json');
  if (!fs.existsSync(file)) {
    print(`no running cluster recorded in ${file}`);
    return;
  }
  const { pids } = JSON.parse(fs.readFileSync(file, 'utf8')) as { pids: Array<{ name: string; pid: number }> };
  for (const { name, pid } of [...pids].reverse()) {
    try {
      process.kill(pid, 'SIGTERM');
      print(`sent SIGTERM to ${name} (${pid})`);
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(file, { force: true });
}

async function demo(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8545' },
      accounts: { type: 'string', default: '10' },
      transfers: { type: 'string', default: '20' },
    },
  });
  await runDemo({ rpcUrl: values.url!, accounts: Number(values.accounts), transfersPerAccount: Number(values.transfers), print });
}

const [command, ...rest] = process.argv.slice(2);
async function bench(args: string[]): Promise<void> {
  process.exitCode = await benchCommand(args, print);
}

async function report(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { grpc: { type: 'string', default: '127.0.0.1:50051' }, height: { type: 'string', default: '0' } },
  });
  const { credentials } = await import('@grpc/grpc-js');
  const { LanesClient } = await import('../gen/lanes/v1/api.js');
  const client = new LanesClient(values.grpc!, credentials.createInsecure());
  try {
    const res = await new Promise<{ found: boolean; reportJson: string }>((resolve, reject) =>
      client.getConflictReport({ height: BigInt(values.height!) }, (err, r) => (err ? reject(err) : resolve(r))));
    if (!res.found) {
      print(`no conflict report for block ${values.height === '0' ? 'latest' : values.height} (only recent blocks are kept)`);
      process.exitCode = 1;
      return;
    }
    print(JSON.stringify(JSON.parse(res.reportJson), null, 2));
  } finally {
    client.close();
  }
}

const commands: Record<string, (args: string[]) => Promise<void>> = { start, stop, demo, bench, report };
const run = command === undefined ? undefined : commands[command];
if (run === undefined) {
  print(USAGE);
  process.exit(command === undefined || command === 'help' ? 0 : 2);
} else {
  run(rest).catch((err: Error) => {
    print(`lanes ${command}: ${err.message}`);
    process.exit(1);
  });
}
