// `lanes bench` / `npm run bench -- …`: the cluster-wide TPS benchmark (bench/README.md).
// Parses options, runs bench/run.ts, prints the table and writes JSON and SVG; exits non-zero
// when the run's own result check fails.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { formatReport, writeReport } from '../bench/report.js';
import { ProgressLine } from '../bench/progress.js';
import { runBench, writeWorkloadGenesis, type BenchOptions } from '../bench/run.js';
import { isWorkloadKind, WORKLOAD_KINDS } from '../lib/workloads/index.js';

export const BENCH_USAGE = `usage: lanes bench [options]            (or: npm run bench -- [options])
  --workload ${WORKLOAD_KINDS.join('|')}   (default erc20)
  --duration S        seconds of load per round (default 5)
  --rate TPS          target send rate, tx/s (default 200; start rate with --search)
  --accounts N        funded sender accounts (default 1000)
  --hot-share F       share of txs aimed at one hot account / pool 0 (default 0)
  --pools N           Uniswap V2 pools for amm/mixed (default 2)
  --executors N       executors of the local cluster (default 2)
  --search            find the highest rate with p99 latency ≤ --p99-max-ms (default 2000)
  --search-rounds N   at most N rounds (default 6)
  --sweep executors=1,2,4 | accounts=2,100,10000 | env:NAME=v1,v2,…
                      one fresh local cluster per value; env: sets NAME for every service
                      (repeat values to interleave them: env:LANES_PIPELINE_COMMITS=1,0,1,0)
  --target TPS        capacity projection target (default 100000)
  --seed S            workload seed (default 1)
  --out DIR           results directory (default bench-results/<workload>-<time>)
  --url URL           JSON-RPC of a running cluster instead of starting one
  --grpc HOST:PORT    its gRPC address (default <url host>:50051)
  --health URL,...    its services' /healthz URLs, for CPU, memory and re-executions
  --print-genesis F   write the genesis this workload needs to F and exit
  --block-interval-ms local cluster's LANES_BLOCK_INTERVAL_MS
  --drain-timeout S   wait at most S s for acknowledged txs to commit (default 60)
  --keep-data         keep the local cluster's data directory
  --profile DIR       write a CPU profile of each local service into DIR/<point>/ (node --cpu-prof)`;

function positive(name: string, raw: string | undefined, fallback: number, integer = true): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${raw}'`);
  return v;
}

export function parseBenchArgs(args: string[]): { options: BenchOptions; printGenesis?: string } {
  const { values } = parseArgs({
    args,
    options: {
      workload: { type: 'string', default: 'erc20' }, duration: { type: 'string' }, rate: { type: 'string' }, accounts: { type: 'string' },
      'hot-share': { type: 'string' }, pools: { type: 'string' }, executors: { type: 'string' }, search: { type: 'boolean', default: false },
      'p99-max-ms': { type: 'string' }, 'search-rounds': { type: 'string' }, sweep: { type: 'string' }, target: { type: 'string' },
      seed: { type: 'string', default: '1' }, out: { type: 'string' }, url: { type: 'string' }, grpc: { type: 'string' }, health: { type: 'string' },
      'print-genesis': { type: 'string' }, 'block-interval-ms': { type: 'string' }, 'drain-timeout': { type: 'string' }, 'keep-data': { type: 'boolean', default: false },
      profile: { type: 'string' }, 'chain-id': { type: 'string' },
    },
  });
  const workload = values.workload!;
  if (!isWorkloadKind(workload)) throw new Error(`--workload must be one of ${WORKLOAD_KINDS.join(', ')}, got '${workload}'`);
  const hotShare = values['hot-share'] === undefined ? 0 : Number(values['hot-share']);
  if (!(hotShare >= 0 && hotShare <= 1)) throw new Error(`--hot-share must be in [0, 1], got '${values['hot-share']}'`);
  let sweep: BenchOptions['sweep'];
  if (values.sweep !== undefined) {
    const m = /^(executors|accounts)=([\d,]+)$/.exec(values.sweep);
    const env = /^env:([A-Z_][A-Z0-9_]*)=([^,]*(?:,[^,]*)*)$/.exec(values.sweep);
    if (m !== null) {
      sweep = { param: m[1] as 'executors' | 'accounts', values: m[2]!.split(',').filter((s) => s !== '').map((s) => positive('sweep', s, 1)) };
    } else if (env !== null) {
      sweep = { param: 'env', name: env[1]!, values: env[2]!.split(',') };
    } else {
      throw new Error(`--sweep must look like executors=1,2,4, accounts=2,100,10000 or env:NAME=v1,v2, got '${values.sweep}'`);
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const clusterEnv: Record<string, string> = {};
  if (values['block-interval-ms'] !== undefined) clusterEnv['LANES_BLOCK_INTERVAL_MS'] = String(positive('block-interval-ms', values['block-interval-ms'], 100));
  const options: BenchOptions = {
    workload, hotShare, ...(sweep !== undefined ? { sweep } : {}),
    durationS: positive('duration', values.duration, 5, false),
    rateTps: positive('rate', values.rate, 200, false),
    accounts: positive('accounts', values.accounts, 1000),
    pools: positive('pools', values.pools, 2),
    executors: positive('executors', values.executors, 2),
    seed: values.seed!,
    chainId: BigInt(positive('chain-id', values['chain-id'], 31337)),
    outDir: path.resolve(values.out ?? path.join('bench-results', `${workload}-${stamp}`)),
    ...(values.url !== undefined ? { url: values.url } : {}),
    ...(values.grpc !== undefined ? { grpcAddress: values.grpc } : {}),
    healthUrls: values.health === undefined ? [] : values.health.split(',').filter((s) => s !== ''),
    search: values.search!,
    p99MaxMs: positive('p99-max-ms', values['p99-max-ms'], 2000, false),
    searchRoundsMax: positive('search-rounds', values['search-rounds'], 6),
    targetTps: positive('target', values.target, 100_000, false),
    drainTimeoutS: positive('drain-timeout', values['drain-timeout'], 60, false),
    clusterEnv,
    keepData: values['keep-data']!,
    ...(values.profile !== undefined ? { profileDir: path.resolve(values.profile) } : {}),
  };
  return { options, ...(values['print-genesis'] !== undefined ? { printGenesis: values['print-genesis'] } : {}) };
}

export async function benchCommand(args: string[], print: (line: string) => void = (l) => { process.stdout.write(l + '\n'); }): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { print(BENCH_USAGE); return 0; }
  const { options, printGenesis } = parseBenchArgs(args);
  if (printGenesis !== undefined) {
    await writeWorkloadGenesis(options, printGenesis);
    print(`wrote the genesis of workload ${options.workload} (${options.accounts} accounts, seed ${options.seed}) to ${printGenesis}`);
    print(`start every service with LANES_GENESIS=${path.resolve(printGenesis)}, then run lanes bench --url … with the same --workload/--accounts/--seed/--hot-share/--pools`);
    return 0;
  }
  const progress = new ProgressLine();
  const result = await runBench(options, { print: (l) => { progress.done(); print(l); }, progress: (l) => progress.update(l), progressDone: () => progress.done() });
  progress.done();
  print('');
  for (const line of formatReport(result)) print(line);
  const files = writeReport(result, options.outDir);
  print(`\nwritten: ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  return result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  benchCommand(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`lanes bench: ${err.message}\n`);
    process.exit(1);
  });
}
