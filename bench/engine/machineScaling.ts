// How much parallel compute this machine really gives: the same serial EVM work (ERC-20
// transfers, in-process, warm) in 1 process, then in N processes at once; the ratio of aggregate
// throughputs is the ceiling any parallel engine can reach here, whatever its design.
// Run as a child (`node machineScaling.js --child`) it executes the work and prints µs/tx.
//
// Each child warms up on 4,000 txs before the timed ones. With 500 (up to session 19), the timed
// txs fell inside V8's warm-up: the compiler threads were still busy (≈ 130 µs of CPU per tx on
// four V8 worker threads beside the main thread's ≈ 190), so one process alone already used
// about 1.7 of the 2 cores, and two at once read as a ceiling of 1.00–1.18×. Warmed, a process
// uses ≈ 1.2 cores and the same measurement reads ≈ 1.6× (session 20, bench/README).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { genesisStateEntries } from '../../lib/chain/genesis.js';
import { MapStateSource, TxExecutor } from '../../lib/evm/index.js';
import { generateWorkload } from '../../lib/workloads/index.js';
import { median } from '../stats.js';

const WARM_TXS = 4000;
const TIMED_TXS = 2000;

async function child(): Promise<void> {
  const w = await generateWorkload({ workload: 'erc20', accounts: 1000, hotShare: 0, chainId: 31337n, seed: 'scaling', txCount: WARM_TXS + TIMED_TXS });
  const state = new Map(genesisStateEntries(w.genesis));
  const source = new MapStateSource(state);
  const executor = await TxExecutor.create({ chainId: w.genesis.chainId });
  const g = w.genesis;
  const env = { chainId: g.chainId, number: 1n, timestampSec: g.timestamp + 1n, coinbase: g.coinbase, gasLimit: g.gasLimit, baseFeePerGas: g.baseFeePerGas, prevRandao: Buffer.alloc(32) };
  let started = 0;
  for (const [i, tx] of w.txs.entries()) {
    if (i === WARM_TXS) started = performance.now();
    const out = await executor.execute(tx, env, source);
    for (const [k, v] of out.writes) {
      if (v === null) state.delete(k);
      else state.set(k, v);
    }
  }
  process.stdout.write(`${((performance.now() - started) * 1000) / TIMED_TXS}\n`);
}

function runChildren(n: number): Promise<number[]> {
  const script = fileURLToPath(import.meta.url);
  return Promise.all(Array.from({ length: n }, () => new Promise<number>((resolve, reject) => {
    const p = spawn(process.execPath, [script, '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`scaling child exited with ${code}`))));
  })));
}

export interface MachineScaling {
  processes: number;
  /** µs per tx of one process alone (median over rounds). */
  singleMicrosPerTx: number;
  /** µs per tx of each of `processes` running at once (median over rounds of their mean). */
  concurrentMicrosPerTx: number;
  /** Aggregate throughput of `processes` at once over one alone: the speed-up ceiling (median over rounds). */
  ceiling: number;
  /** Each round's ceiling: one alone, then `processes` at once, back to back. */
  roundCeilings: number[];
}


/**
 * `rounds` rounds of one process alone then `processes` at once, back to back: the host's load
 * drifts within minutes, so a ceiling is only meaningful from runs made close together, and the
 * median of several rounds is moved less by one burst.
 */
export async function measureMachineScaling(processes: number, rounds = 3): Promise<MachineScaling> {
  if (!(rounds >= 1)) throw new Error(`measureMachineScaling: rounds must be >= 1, got ${rounds}`);
  const singles: number[] = [];
  const concurrents: number[] = [];
  const roundCeilings: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const [single] = await runChildren(1);
    const concurrent = await runChildren(processes);
    const mean = concurrent.reduce((a, b) => a + b, 0) / concurrent.length;
    singles.push(single!);
    concurrents.push(mean);
    roundCeilings.push((processes * single!) / mean);
  }
  return {
    processes, singleMicrosPerTx: median(singles), concurrentMicrosPerTx: median(concurrents),
    ceiling: median(roundCeilings), roundCeilings,
  };
}

if (process.argv.includes('--child')) {
  child().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
