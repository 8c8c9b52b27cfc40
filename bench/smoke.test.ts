// Smoke run of the whole benchmark against a real local cluster: a few seconds at a small rate
// with one executor; the run's own result check (accounting, state, serial-reference roots) must
// pass and the outputs must be written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReport, writeReport } from './report.js';
import { runBench } from './run.js';

describe('benchmark smoke run', () => {
  it('runs a mixed workload on a local cluster and checks its own result', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-bench-'));
    try {
      const result = await runBench({
        workload: 'mixed', durationS: 2, rateTps: 40, accounts: 20, hotShare: 0.2, executors: 1, pools: 1, seed: 'smoke', chainId: 31337n,
        outDir, healthUrls: [], search: false, p99MaxMs: 2000, searchRoundsMax: 1, targetTps: 100_000, drainTimeoutS: 30,
        clusterEnv: { LANES_BLOCK_INTERVAL_MS: '50' }, keepData: false,
      }, { print: () => {}, progress: () => {}, progressDone: () => {} });
      const point = result.points[0]!;
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
});
