// Smoke run of the whole benchmark against a real local cluster: a few seconds at a small rate
// with one executor; the run's own result check (accounting, state, serial-reference roots) must
// pass and the outputs must be written. The run is an env sweep of one value, commit pipelining
// off, so the scheduler's unpipelined path is checked end to end too (the default is on).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../cli/bench.js';
import { envSweepSummary, formatReport, writeReport } from './report.js';
import { runBench, type BenchResult, type PointResult } from './run.js';

describe('benchmark smoke run', () => {
  it('runs a mixed workload on a local cluster and checks its own result', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-bench-'));
    try {
      const result = await runBench({
        workload: 'mixed', durationS: 2, rateTps: 40, accounts: 20, hotShare: 0.2, executors: 1, pools: 1, seed: 'smoke', chainId: 31337n,
        outDir, healthUrls: [], search: false, p99MaxMs: 2000, searchRoundsMax: 1, targetTps: 100_000, drainTimeoutS: 30,
        clusterEnv: { LANES_BLOCK_INTERVAL_MS: '50' }, keepData: false, sweep: { param: 'env', name: 'LANES_PIPELINE_COMMITS', values: ['0'] },
      }, { print: () => {}, progress: () => {}, progressDone: () => {} });
      const point = result.points[0]!;
      expect(point.label).toBe('LANES_PIPELINE_COMMITS=0');
      expect(point.failures).toEqual([]);
      expect(result.ok).toBe(true);
      const round = point.best;
      expect({ refused: round.refused, rejected: round.rejectedInBlock, committed: round.committed }).toEqual({ refused: {}, rejected: {}, committed: 80 });
      expect(round.succeeded).toBe(80);
      expect(round.committedTps).toBeGreaterThan(0);
      expect(round.latency.p99Ms).toBeGreaterThan(0);
      expect(round.baseline.txs).toBe(80);
      expect(point.stateChecked).toBeGreaterThan(20);
      expect(round.services.some((s) => s.name === 'scheduler' && s.cpuSeconds !== undefined)).toBe(true);
      expect(formatReport(result).join('\n')).toContain('RESULT CHECK PASSED');
      const files = writeReport(result, outDir).map((f) => path.basename(f));
      expect(files).toEqual(expect.arrayContaining(['results.json', 'latency-cdf.svg', 'report.txt']));
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('parses an env sweep, labels repeated values apart, and sums each value\'s TPS up against the first', () => {
    const { options } = parseBenchArgs(['--sweep', 'env:LANES_PIPELINE_COMMITS=1,0,1,0']);
    expect(options.sweep).toEqual({ param: 'env', name: 'LANES_PIPELINE_COMMITS', values: ['1', '0', '1', '0'] });
    expect(() => parseBenchArgs(['--sweep', 'env:lanes=1'])).toThrow(/--sweep must look like/);
    const point = (label: string, tps: number): PointResult => ({ label, best: { committedTps: tps } }) as unknown as PointResult;
    const result = {
      options: { sweep: options.sweep },
      points: [point('LANES_PIPELINE_COMMITS=1', 1000), point('LANES_PIPELINE_COMMITS=0', 900), point('LANES_PIPELINE_COMMITS=1 #2', 1200), point('LANES_PIPELINE_COMMITS=0 #2', 1000)],
    } as unknown as BenchResult;
    expect(envSweepSummary(result)).toEqual([
      '',
      'LANES_PIPELINE_COMMITS: committed TPS by value (median of its points; ratio to LANES_PIPELINE_COMMITS=1)',
      '   LANES_PIPELINE_COMMITS=1: 1100 tx/s (1000, 1200), 1.00×',
      '   LANES_PIPELINE_COMMITS=0: 950 tx/s (900, 1000), 0.86×',
    ]);
  });
});
