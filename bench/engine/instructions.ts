// `npm run bench:instructions`: what the engine's own serial path costs over the serial baseline,
// counted in instructions instead of timed. On a shared 2-vCPU host the same serial block moves
// by ±20 % in wall time from one minute to the next, more than the few per cent the engine adds
// around the EVM when it runs a dependent block in the scheduler (`bench:engine` at 2 accounts),
// so timings cannot tell whether a change to that path helped. Callgrind counts instructions,
// which do not depend on what else the machine runs.
//
// Each side (the serial baseline; the engine with one executor it never uses, which makes it run
// every block in its own process, as it runs the dependent blocks of 2 accounts) runs under `valgrind --tool=callgrind`
// twice, over the first `lo` and the first `hi` blocks of the same workload. The difference of the
// two runs over the txs they differ by is the cost per tx: start-up, module loading and the
// workload file cancel out. Compiling and parsing are left out (V8 optimizes when its counters
// say so, not per tx); `--single-threaded` keeps V8's work on the main thread, so the garbage
// collector's share is counted in full on both sides, and a young generation of fixed size makes
// it collect at the same points every run (HEAP_FLAGS). The runs are of 8 and 16 blocks by
// default, the steady state `bench:engine` times after its warm-up: over blocks 5–8, V8 was still
// compiling 137k instructions per transfer on the engine's side (functions run once per block
// warm slowly) and the engine's path came out 1.10× the baseline; over blocks 9–16, 15k and 1.07×.
// Instructions are not time (cache misses and
// memory stalls are not in them), so this is the tool for "did the engine's path get cheaper",
// and `bench:engine` stays the tool for speed-ups.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { serviceNodeFlags } from '../../lib/nodeFlags.js';
import { generateWorkload, type WorkloadKind } from '../../lib/workloads/index.js';
import { parseAnnotate, perTxCost, PerfMap, topFunctions, type FunctionCounts, type PerTxCost } from './callgrind.js';
import type { InstructionSide, InstructionWorkload } from './instructionRun.js';

const run = promisify(execFile);
/** The checkout (this file is dist/bench/engine/instructions.js): JS code names are shown relative to it. */
const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

export interface InstructionRow {
  workload: WorkloadKind;
  accounts: number;
  blockTxs: number;
  /** Txs of the smaller and the larger run of each side. */
  txs: [number, number];
  baseline: PerTxCost;
  engine: PerTxCost;
  /** engine.total / baseline.total. */
  ratio: number;
  /** With --partition: an executor's path for a partition (partitionRatio = partition.total / baseline.total). */
  partition?: PerTxCost;
  partitionRatio?: number;
  /**
   * With --parallel: a whole parallel block, the scheduler's slot and one executor's, in one
   * process (engineParallelSide.ts; parallelRatio = parallel.total / baseline.total). On 2 vCPUs a
   * parallel block runs at most 2 / parallelRatio× as fast as the baseline.
   */
  parallel?: PerTxCost;
  parallelRatio?: number;
}

/** Block size by workload: blocks of similar EVM work, so a run stays within a few minutes. */
const BLOCK_TXS: Record<WorkloadKind, number> = { transfer: 500, erc20: 250, amm: 50, nft: 250, mixed: 250 };

interface Options {
  workloads: WorkloadKind[];
  accounts: number;
  blocks: [number, number];
  top: number;
  json: string | undefined;
  seed: string;
  /** Also count an executor's path for a partition. */
  partition: boolean;
  /** Also count a whole parallel block (the scheduler's slot and one executor). */
  parallel: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string', default: 'transfer,erc20' }, accounts: { type: 'string', default: '2' },
      blocks: { type: 'string', default: '8,16' }, top: { type: 'string', default: '0' },
      json: { type: 'string' }, seed: { type: 'string', default: 'instructions' }, partition: { type: 'boolean', default: false },
      parallel: { type: 'boolean', default: false },
    },
  });
  const workloads = values.workload!.split(',') as WorkloadKind[];
  for (const w of workloads) if (!(w in BLOCK_TXS)) throw new Error(`unknown workload ${w}`);
  const blocks = values.blocks!.split(',').map(Number);
  if (blocks.length !== 2 || !blocks.every((n) => Number.isInteger(n) && n > 0) || blocks[0]! >= blocks[1]!) {
    throw new Error(`--blocks takes two block counts, the smaller first (got ${values.blocks})`);
  }
  const accounts = Number(values.accounts);
  if (!Number.isInteger(accounts) || accounts < 2) throw new Error(`--accounts must be an integer of at least 2, got ${values.accounts}`);
  return { workloads, accounts, blocks: [blocks[0]!, blocks[1]!], top: Number(values.top), json: values.json, seed: values.seed!, partition: values.partition!, parallel: values.parallel! };
}

async function requireValgrind(): Promise<void> {
  try {
    await run('valgrind', ['--version']);
    await run('sh', ['-c', 'command -v callgrind_annotate']);
  } catch {
    throw new Error('bench:instructions needs valgrind (Debian: apt-get install -y valgrind)');
  }
}

/** One side's run under callgrind; its per-function counts, with the JIT code named. */
async function countRun(
  side: InstructionSide, workloadFile: string, txs: number, blockTxs: number, dir: string, nameJit: boolean,
): Promise<FunctionCounts> {
  const out = path.join(dir, `${side}-${txs}.callgrind`);
  const runner = path.join(path.dirname(new URL(import.meta.url).pathname), 'instructionRun.js');
  const { stderr } = await run('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${out}`,
    // --perf-basic-prof names JIT code, but V8 then reports every object the GC moves: only with --top.
    process.execPath, '--single-threaded', HASH_SEED_FLAG, ...HEAP_FLAGS, ...GC_SCHEDULE_FLAGS, ...(nameJit ? ['--perf-basic-prof'] : []), runner, side, workloadFile, String(txs), String(blockTxs),
  ], { maxBuffer: 64 << 20, cwd: dir }); // V8's logs land in the run's directory, deleted with it
  const notSerial = /not-serial-blocks (\d+)/.exec(stderr);
  if (notSerial !== null) throw new Error(`the engine ran ${notSerial[1]} blocks in parallel or fell back: they are not its serial path`);
  const notParallel = /not-parallel-blocks (\d+)/.exec(stderr);
  if (notParallel !== null) throw new Error(`the engine ran ${notParallel[1]} blocks serially or fell back: they are not its parallel path (too few accounts?)`);
  const pid = /^pid: (\d+)$/m.exec(fs.readFileSync(out, 'utf8').slice(0, 4096))?.[1];
  const mapFile = `/tmp/perf-${pid}.map`;
  const perfMap = pid !== undefined && fs.existsSync(mapFile) ? new PerfMap(fs.readFileSync(mapFile, 'utf8')) : null;
  if (pid !== undefined) fs.rmSync(mapFile, { force: true });
  const { stdout } = await run('callgrind_annotate', ['--threshold=100', out], { maxBuffer: 256 << 20 });
  return parseAnnotate(stdout, perfMap, REPO_ROOT);
}

/**
 * The scheduler's heap flags (lib/nodeFlags.ts), whose young generation is fixed at its largest
 * from the start: scavenges then come at the same allocation points in every run (two runs of
 * one side agree to about 0.1 %), at the size the services run with. Not
 * `--predictable-gc-schedule`, which is as repeatable but forces 4 MB semi-spaces whatever else
 * is asked: that made the engine's path, whose block results outlive many 4 MB scavenges, look
 * ≈ 60k instructions per transfer dearer in GC than it is in a service.
 */
const HEAP_FLAGS = serviceNodeFlags('scheduler');

/**
 * What `--predictable-gc-schedule` fixes besides the semi-spaces: V8 grows the old generation's
 * limit by a factor it derives from the GC's and the program's measured speeds (wall time), the
 * memory reducer starts a mark-compact from a timer, and incremental marking advances from tasks
 * as well as from allocation. Under callgrind all three depend on the host's load, so a
 * mark-compact fell into one run and not the next: in session 32 the GC column of one build moved
 * by ±100k per tx between runs, and the total outside GC by up to 28k. With these, two runs of the
 * baseline (ERC-20, 10,000 accounts) counted 826.0k and 826.8k per tx, GC 51.5k in both.
 */
const GC_SCHEDULE_FLAGS = ['--heap-growing-percent=30', '--no-memory-reducer', '--no-incremental-marking-task'];

/**
 * V8 seeds its string hashes at random in each process, and its start-up work depends on the
 * seed (its set-up alone took 9M instructions in one run and far fewer in another), so the lo
 * and hi runs did not cancel it: ≈ 1.6k per transfer of noise over a 2,000-tx difference. With a
 * fixed seed, two runs of one side agree to 0.1k per tx.
 */
const HASH_SEED_FLAG = '--hash-seed=7';

function k(n: number): string {
  return `${(n / 1000).toFixed(1)}k`;
}

export async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  await requireValgrind();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-instructions-'));
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const rows: InstructionRow[] = [];
  try {
    out(`instructions per tx under callgrind (compiling left out), ${options.accounts} accounts, runs of ${options.blocks[0]} and ${options.blocks[1]} blocks`);
    out(`workload  accounts   baseline  (gc)     engine    (gc)   engine/baseline${options.partition ? '  partition    (gc)  partition/baseline' : ''}${options.parallel ? '   parallel    (gc)  parallel/baseline' : ''}`);
    for (const workload of options.workloads) {
      const blockTxs = BLOCK_TXS[workload];
      const top = options.top > 0;
      const [lo, hi] = [options.blocks[0] * blockTxs, options.blocks[1] * blockTxs];
      const w = await generateWorkload({ workload, accounts: options.accounts, hotShare: 0, chainId: 31337n, seed: `${options.seed}-${workload}`, txCount: hi });
      const file = path.join(dir, `${workload}.bin`);
      const data: InstructionWorkload = { genesis: w.genesis, txs: w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender })) };
      fs.writeFileSync(file, v8.serialize(data));
      process.stderr.write(`  ${workload}: four runs under callgrind, two at a time…\n`);
      // Two at a time: this host has two cores, and instruction counts do not mind sharing.
      const [baseLo, engineLo] = await Promise.all([countRun('baseline', file, lo, blockTxs, dir, top), countRun('engine', file, lo, blockTxs, dir, top)]);
      const [baseHi, engineHi] = await Promise.all([countRun('baseline', file, hi, blockTxs, dir, top), countRun('engine', file, hi, blockTxs, dir, top)]);
      const baseline = perTxCost(baseLo, baseHi, hi - lo);
      const engine = perTxCost(engineLo, engineHi, hi - lo);
      const row: InstructionRow = { workload, accounts: options.accounts, blockTxs, txs: [lo, hi], baseline, engine, ratio: engine.total / baseline.total };
      let partitionRuns: [FunctionCounts, FunctionCounts] | null = null;
      if (options.partition) {
        partitionRuns = await Promise.all([countRun('partition', file, lo, blockTxs, dir, top), countRun('partition', file, hi, blockTxs, dir, top)]);
        row.partition = perTxCost(partitionRuns[0], partitionRuns[1], hi - lo);
        row.partitionRatio = row.partition.total / baseline.total;
      }
      let parallelRuns: [FunctionCounts, FunctionCounts] | null = null;
      if (options.parallel) {
        parallelRuns = await Promise.all([countRun('parallel', file, lo, blockTxs, dir, top), countRun('parallel', file, hi, blockTxs, dir, top)]);
        row.parallel = perTxCost(parallelRuns[0], parallelRuns[1], hi - lo);
        row.parallelRatio = row.parallel.total / baseline.total;
      }
      rows.push(row);
      out([
        workload.padEnd(8), String(options.accounts).padStart(9), k(baseline.total).padStart(10), `(${k(baseline.byCategory.gc)})`.padStart(8),
        k(engine.total).padStart(10), `(${k(engine.byCategory.gc)})`.padStart(8), `${row.ratio.toFixed(3)}×`.padStart(17),
        ...(row.partition === undefined ? [] : [
          k(row.partition.total).padStart(10), `(${k(row.partition.byCategory.gc)})`.padStart(8), `${row.partitionRatio!.toFixed(3)}×`.padStart(20),
        ]),
        ...(row.parallel === undefined ? [] : [
          k(row.parallel.total).padStart(10), `(${k(row.parallel.byCategory.gc)})`.padStart(8), `${row.parallelRatio!.toFixed(3)}×`.padStart(19),
        ]),
      ].join(' '));
      if (options.top > 0) {
        out(`  ${workload}: baseline, top ${options.top} functions (self instructions per tx)`);
        for (const [fn, n] of topFunctions(baseLo, baseHi, hi - lo, options.top)) out(`    ${n.toFixed(0).padStart(8)}  ${fn.slice(0, 140)}`);
        const minusBaseline = (side: string, [sideLo, sideHi]: [FunctionCounts, FunctionCounts]): void => {
          out(`  ${workload}: ${side} minus baseline, top ${options.top} functions`);
          const diff = new Map<string, number>();
          for (const [fn, n] of topFunctions(sideLo, sideHi, hi - lo, Infinity)) diff.set(fn, n);
          for (const [fn, n] of topFunctions(baseLo, baseHi, hi - lo, Infinity)) diff.set(fn, (diff.get(fn) ?? 0) - n);
          for (const [fn, n] of [...diff].sort((a, b) => b[1] - a[1]).slice(0, options.top)) out(`    ${n.toFixed(0).padStart(8)}  ${fn.slice(0, 140)}`);
        };
        minusBaseline('engine', [engineLo, engineHi]);
        if (partitionRuns !== null) minusBaseline('partition', partitionRuns);
        if (parallelRuns !== null) minusBaseline('parallel', parallelRuns);
      }
    }
    if (options.json !== undefined) {
      fs.mkdirSync(path.dirname(path.resolve(options.json)), { recursive: true });
      fs.writeFileSync(options.json, `${JSON.stringify(rows, null, 2)}\n`);
      out(`wrote ${options.json}`);
    }
    return 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`bench:instructions: ${err.message}\n`);
    process.exit(1);
  });
}
