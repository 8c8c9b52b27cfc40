// The benchmark driver: for each sweep point, a workload and its genesis, a cluster (the local one,
// started here with that genesis, or a running one by URL), one round at the target rate or a
// search for the highest rate whose p99 latency stays under the bound, then the result check and
// the capacity projection. Everything reaches the cluster through gRPC and JSON-RPC only.
import fs from 'node:fs';
import path from 'node:path';
import { startCluster, type RunningCluster } from '../cli/cluster.js';
import { genesisToJson } from '../lib/chain/genesis.js';
import { WorkloadGenerator, type WorkloadKind, type TxResult } from '../lib/workloads/index.js';
import { SerialBaseline } from './baseline.js';
import { BlockWatcher } from './blockWatcher.js';
import { projectCapacity, type CapacityProjection } from './capacity.js';
import { ClusterClient } from './client.js';
import { checkAccounting, compareState, readExpected, type AccountingResult, type StateMismatch } from './resultCheck.js';
import { runRound, type RoundContext, type RoundResult, type TxRecord } from './round.js';
import type { ServiceEndpoint } from './resources.js';

/**
 * One fresh local cluster per value: of the executor count, the accounts, or one environment
 * variable of every service (`env`, e.g. LANES_PIPELINE_COMMITS=1,0,1,0: a setting compared in one
 * run, values repeated to interleave them on a host whose speed drifts).
 */
export type BenchSweep =
  | { param: 'executors' | 'accounts'; values: number[] }
  | { param: 'env'; name: string; values: string[] };

export interface BenchOptions {
  workload: WorkloadKind;
  durationS: number;
  rateTps: number;
  accounts: number;
  hotShare: number;
  executors: number;
  pools: number;
  seed: string;
  chainId: bigint;
  outDir: string;
  /** JSON-RPC URL of a running cluster; absent = start a local one. */
  url?: string;
  grpcAddress?: string;
  /** Health URLs of a remote cluster's services (http://host:port/healthz). */
  healthUrls: string[];
  search: boolean;
  p99MaxMs: number;
  searchRoundsMax: number;
  sweep?: BenchSweep;
  targetTps: number;
  drainTimeoutS: number;
  /** Extra environment for a local cluster's services (LANES_BLOCK_INTERVAL_MS, …). */
  clusterEnv: Record<string, string>;
  keepData: boolean;
  /** Write each local service's CPU profile (node --cpu-prof) into this directory. */
  profileDir?: string;
}

export interface PointResult {
  label: string;
  executors: number | null;
  accounts: number;
  rounds: RoundResult[];
  /** The round reported as this point's result: the only one, or the best passing one in a search. */
  best: RoundResult;
  accounting: AccountingResult;
  stateChecked: number;
  stateMismatches: StateMismatch[];
  rootMismatches: number;
  baselineStopped?: string;
  capacity: CapacityProjection | null;
  failures: string[];
}

export interface BenchResult {
  startedAt: string;
  options: Omit<BenchOptions, 'chainId'> & { chainId: string };
  points: PointResult[];
  ok: boolean;
}

export interface BenchHooks {
  print: (line: string) => void;
  progress: (line: string) => void;
  progressDone: () => void;
}

export async function runBench(options: BenchOptions, hooks: BenchHooks): Promise<BenchResult> {
  fs.mkdirSync(options.outDir, { recursive: true });
  const points: PointResult[] = [];
  const sweep = options.sweep;
  if (options.url !== undefined && sweep !== undefined) throw new Error('--sweep needs the local cluster (it restarts the cluster per point); run points one by one against a remote cluster');
  const count = sweep?.values.length ?? 1;
  for (let i = 0; i < count; i++) {
    const executors = sweep?.param === 'executors' ? sweep.values[i]! : options.executors;
    const accounts = sweep?.param === 'accounts' ? sweep.values[i]! : options.accounts;
    const env = sweep?.param === 'env' ? { ...options.clusterEnv, [sweep.name]: sweep.values[i]! } : options.clusterEnv;
    let label = sweep === undefined ? 'run' : `${sweep.param === 'env' ? sweep.name : sweep.param}=${sweep.values[i]}`;
    // A repeated value gets its own label (and data and profile directories).
    const earlier = points.filter((p) => p.label === label || p.label.startsWith(`${label} #`)).length;
    if (earlier > 0) label = `${label} #${earlier + 1}`;
    hooks.print(`── ${label}: workload ${options.workload}, ${accounts} accounts, hot share ${options.hotShare}${options.url === undefined ? `, ${executors} executor(s)` : `, cluster ${options.url}`}`);
    points.push(await runPoint({ ...options, clusterEnv: env }, { label, executors, accounts }, hooks));
  }
  return {
    startedAt: new Date().toISOString(),
    options: { ...options, chainId: options.chainId.toString() },
    points,
    ok: points.every((p) => p.failures.length === 0),
  };
}

/** Writes the genesis a workload needs (for --print-genesis and for the local cluster). */
export async function writeWorkloadGenesis(options: Pick<BenchOptions, 'workload' | 'accounts' | 'hotShare' | 'chainId' | 'seed' | 'pools'>, file: string): Promise<WorkloadGenerator> {
  const generator = await WorkloadGenerator.create({ workload: options.workload, accounts: options.accounts, hotShare: options.hotShare, chainId: options.chainId, seed: options.seed, pools: options.pools });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(genesisToJson(generator.genesis)) + '\n');
  return generator;
}

async function runPoint(options: BenchOptions, point: { label: string; executors: number; accounts: number }, hooks: BenchHooks): Promise<PointResult> {
  const slug = point.label.replace(/[^a-z0-9=.-]+/gi, '_');
  const genesisFile = path.join(options.outDir, `genesis-${slug}.json`);
  const t0 = performance.now();
  const generator = await writeWorkloadGenesis({ ...options, accounts: point.accounts }, genesisFile);
  hooks.print(`   genesis: ${generator.genesis.alloc.length} accounts/contracts → ${genesisFile} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  let cluster: RunningCluster | undefined;
  let client: ClusterClient | undefined;
  let watcher: BlockWatcher | undefined;
  const dataDir = path.join(options.outDir, `cluster-${slug}`);
  try {
    let endpoints: ServiceEndpoint[];
    if (options.url === undefined) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      hooks.progress(`starting a local cluster with ${point.executors} executor(s)…`);
      cluster = await startCluster({
        dataDir, executors: point.executors, genesisPath: genesisFile, env: options.clusterEnv,
        ...(options.profileDir !== undefined ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(options.profileDir, slug)}`] } : {}),
      });
      hooks.progressDone();
      client = new ClusterClient(cluster.grpcAddress, cluster.rpcUrl);
      const pids = readClusterPids(dataDir);
      endpoints = [
        ...cluster.services.map((s) => ({ name: s.name, healthUrl: `http://127.0.0.1:${s.healthPort}/healthz`, ...(s.child.pid !== undefined ? { pid: s.child.pid } : {}) })),
        ...(pids.nats !== undefined ? [{ name: 'nats', pid: pids.nats }] : []),
      ];
    } else {
      client = new ClusterClient(options.grpcAddress ?? defaultGrpcAddress(options.url), options.url);
      endpoints = await remoteEndpoints(options.healthUrls);
    }

    const baseline = await SerialBaseline.create(generator.genesis);
    const genesisBlock = await client.block(0n);
    const head = await client.block('latest');
    if (!genesisBlock.found || genesisBlock.header === undefined || !head.found || head.header === undefined) throw new Error('the cluster has no genesis block');
    const genesisRoot = Buffer.from(genesisBlock.header.stateRoot);
    if (!genesisRoot.equals(baseline.genesisRoot) || !Buffer.from(head.header.stateRoot).equals(baseline.genesisRoot)) {
      throw new Error(`the cluster is not at this workload's genesis (state root 0x${Buffer.from(head.header.stateRoot).toString('hex').slice(0, 16)}…, expected 0x${baseline.genesisRoot.toString('hex').slice(0, 16)}…): start it with the genesis from \`lanes bench --print-genesis FILE\` and the same --workload/--accounts/--seed/--hot-share, and run each benchmark on a fresh chain`);
    }
    baseline.setGenesisHash(genesisBlock.header.hash);
    watcher = new BlockWatcher(client, head.header.number + 1n);
    watcher.start();
    const records = new Map<string, TxRecord>();
    const ctx: RoundContext = { client, watcher, baseline, endpoints, records, drainTimeoutS: options.drainTimeoutS, onProgress: hooks.progress };
    const rounds = options.search ? await searchRounds(options, ctx, generator, hooks) : [await oneRound(options, ctx, generator, 1, options.rateTps, hooks)];
    const best = pickBest(rounds, options);
    const result = await checkPoint(ctx, generator, rounds, hooks);
    const capacity = projectCapacity(best.services.filter((s) => s.name !== 'bench-client'), best.committed, options.targetTps);
    return { label: point.label, executors: options.url === undefined ? point.executors : null, accounts: point.accounts, rounds, best, capacity, ...result };
  } finally {
    hooks.progressDone();
    watcher?.stop();
    client?.close();
    if (cluster !== undefined) {
      await cluster.stop();
      if (!options.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

async function oneRound(options: BenchOptions, ctx: RoundContext, generator: WorkloadGenerator, round: number, rateTps: number, hooks: BenchHooks): Promise<RoundResult> {
  const count = Math.max(1, Math.round(rateTps * options.durationS));
  hooks.progress(`round ${round}: signing ${count} txs…`);
  const t0 = performance.now();
  const txs = generator.next(count);
  const signSeconds = (performance.now() - t0) / 1000;
  const result = await runRound(ctx, round, txs, rateTps, options.durationS, signSeconds);
  hooks.progressDone();
  hooks.print(`   round ${round} @ ${rateTps} tx/s: ${result.committedTps.toFixed(0)} tx/s committed, p99 ${result.latency.p99Ms.toFixed(0)} ms, serial reference ${result.baseline.tps.toFixed(0)} tx/s`);
  await repairNonces(ctx, generator, txs.map((t) => ctx.records.get(t.hash.toString('hex'))!));
  return result;
}

/** After refusals or execution rejections, restart those senders' nonces at their committed nonce. */
async function repairNonces(ctx: RoundContext, generator: WorkloadGenerator, records: TxRecord[]): Promise<void> {
  const broken = new Map<string, Buffer>();
  for (const r of records) if (!r.submit.accepted || r.status === 'invalid' || (r.submit.accepted && r.height === undefined)) broken.set(r.tx.sender.toString('hex'), r.tx.sender);
  if (broken.size === 0) return;
  const senders = [...broken.values()];
  const results = await ctx.client.rpcBatch(senders.map((s) => ({ method: 'eth_getTransactionCount', params: ['0x' + s.toString('hex'), 'latest'] })));
  senders.forEach((s, i) => generator.setNextNonce(s, BigInt(results[i] as string)));
}

function passes(r: RoundResult, options: BenchOptions): boolean {
  const refused = Object.values(r.refused).reduce((a, b) => a + b, 0);
  return r.latency.p99Ms <= options.p99MaxMs && r.committedTps >= 0.8 * r.sendRateTps && refused === 0 && r.missing === 0;
}

async function searchRounds(options: BenchOptions, ctx: RoundContext, generator: WorkloadGenerator, hooks: BenchHooks): Promise<RoundResult[]> {
  const rounds: RoundResult[] = [];
  let rate = options.rateTps;
  let good = 0;
  let bad = Infinity;
  for (let i = 1; i <= options.searchRoundsMax; i++) {
    const r = await oneRound(options, ctx, generator, i, Math.round(rate), hooks);
    rounds.push(r);
    if (passes(r, options)) good = Math.max(good, rate); else bad = Math.min(bad, rate);
    hooks.print(`   search: ${passes(r, options) ? 'pass' : 'fail'} (p99 bound ${options.p99MaxMs} ms); highest passing ${good} tx/s${Number.isFinite(bad) ? `, lowest failing ${bad} tx/s` : ''}`);
    if (Number.isFinite(bad) && good > 0 && bad / good < 1.15) break;
    rate = Number.isFinite(bad) ? (good > 0 ? (good + bad) / 2 : bad / 2) : rate * 2;
    if (rate < 1) break;
  }
  return rounds;
}

function pickBest(rounds: RoundResult[], options: BenchOptions): RoundResult {
  if (!options.search) return rounds[0]!;
  const passing = rounds.filter((r) => passes(r, options));
  const pool = passing.length > 0 ? passing : rounds;
  return pool.reduce((a, b) => (b.committedTps > a.committedTps ? b : a));
}

async function checkPoint(ctx: RoundContext, generator: WorkloadGenerator, rounds: RoundResult[], hooks: BenchHooks): Promise<Omit<PointResult, 'label' | 'executors' | 'accounts' | 'rounds' | 'best' | 'capacity'>> {
  hooks.progress('checking the committed state…');
  await ctx.watcher.settle();
  const records = [...ctx.records.values()];
  const executionRejections = new Map(records.filter((r) => r.status === 'invalid').map((r) => [r.tx.hash.toString('hex'), r.rejection ?? '']));
  const blocks = [...ctx.watcher.blocks.values()].sort((a, b) => Number(a.header.number - b.header.number))
    .map((b) => ({ height: b.header.number, txHashes: b.txHashes.map((h) => h.toString('hex')) }));
  const accounting = checkAccounting({
    accepted: records.filter((r) => r.submit.accepted).map((r) => r.tx.hash.toString('hex')),
    refused: records.filter((r) => !r.submit.accepted && r.submit.unknown !== true).map((r) => r.tx.hash.toString('hex')),
    blocks, executionRejections,
  }, new Set(ctx.records.keys()));

  // The model, fed the included txs in committed order with the cluster's statuses and gas.
  const position = new Map<string, number>();
  let p = 0;
  for (const b of blocks) for (const h of b.txHashes) if (!position.has(h)) position.set(h, p++);
  const included = records.filter((r) => position.has(r.tx.hash.toString('hex'))).sort((a, b) => position.get(a.tx.hash.toString('hex'))! - position.get(b.tx.hash.toString('hex'))!);
  const ledger = generator.newLedger();
  for (const r of included) {
    const result: TxResult = { status: r.status ?? 'success', ...(r.gasUsed !== undefined ? { gasUsed: r.gasUsed } : {}) };
    ledger.apply(r.tx, result);
  }
  const expected = ledger.expectations();
  const height = ctx.watcher.height;
  const actual = await readExpected((calls) => ctx.client.rpcBatch(calls), expected, '0x' + height.toString(16));
  const stateMismatches = compareState(expected, actual);
  const rootMismatches = rounds.reduce((s, r) => s + r.baseline.rootMismatches, 0);
  const stopped = rounds.find((r) => r.baseline.stopped !== undefined)?.baseline.stopped;

  const failures: string[] = [];
  if (accounting.lost.length > 0) failures.push(`${accounting.lost.length} acknowledged tx(s) LOST (neither committed nor rejected), e.g. 0x${accounting.lost[0]}`);
  if (accounting.duplicated.length > 0) failures.push(`${accounting.duplicated.length} tx(s) APPLIED TWICE, e.g. 0x${accounting.duplicated[0]!.hash} at heights ${accounting.duplicated[0]!.heights.join(', ')}`);
  if (accounting.refusedButIncluded.length > 0) failures.push(`${accounting.refusedButIncluded.length} tx(s) refused by ingress but committed, e.g. 0x${accounting.refusedButIncluded[0]}`);
  if (stateMismatches.length > 0) failures.push(`${stateMismatches.length} of ${expected.length} state values differ from what the workload implies, e.g. ${stateMismatches[0]!.label}: expected ${stateMismatches[0]!.expected}, cluster has ${stateMismatches[0]!.actual}`);
  if (rootMismatches > 0) failures.push(`${rootMismatches} block(s) whose state root differs from the serial reference executor's`);
  hooks.progressDone();
  return { accounting, stateChecked: expected.length, stateMismatches, rootMismatches, ...(stopped !== undefined ? { baselineStopped: stopped } : {}), failures };
}

function readClusterPids(dataDir: string): Record<string, number> {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(dataDir, 'cluster.json'), 'utf8')) as { pids: Array<{ name: string; pid: number }> };
    return Object.fromEntries(json.pids.map((p) => [p.name, p.pid]));
  } catch {
    return {};
  }
}

export function defaultGrpcAddress(url: string): string {
  return `${new URL(url).hostname}:50051`;
}

/** Remote services named by the `service` field of their health JSON (executor, executor-2, …). */
async function remoteEndpoints(healthUrls: readonly string[]): Promise<ServiceEndpoint[]> {
  const names = await Promise.all(healthUrls.map(async (url) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return ((await res.json()) as { service?: string }).service ?? 'service';
    } catch {
      return 'service';
    }
  }));
  const seen = new Map<string, number>();
  return healthUrls.map((url, i) => {
    const n = (seen.get(names[i]!) ?? 0) + 1;
    seen.set(names[i]!, n);
    return { name: n === 1 ? names[i]! : `${names[i]!}-${n}`, healthUrl: url };
  });
}
