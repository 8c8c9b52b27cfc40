// Turns a benchmark result into what a user reads: a table per point and round, resources and
// the capacity projection as text, results.json, and SVG plots.
import fs from 'node:fs';
import path from 'node:path';
import type { BenchResult, PointResult } from './run.js';
import { lineChart, type Series } from './svg.js';

const f0 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(0));
const f1 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(1));
const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)}%`);
const sum = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0);

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

export function formatReport(result: BenchResult): string[] {
  const lines: string[] = [];
  const header = ['point', 'round', 'rate', 'sent/s', 'TPS', 'Mgas/s', 'ok', 'reverted', 'refused', 'rej.blk', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'reexec', 'serial TPS', 'ratio'];
  const rows = [header];
  for (const p of result.points) {
    for (const r of p.rounds) {
      rows.push([
        p.label + (r === p.best && p.rounds.length > 1 ? ' *' : ''), String(r.round), String(r.targetRateTps), f0(r.sendRateTps), f0(r.committedTps), f1(r.mgasPerSec),
        String(r.succeeded), String(r.reverted), String(sum(r.refused)), String(sum(r.rejectedInBlock)),
        f0(r.latency.p50Ms), f0(r.latency.p90Ms), f0(r.latency.p99Ms), f0(r.latency.maxMs), pct(r.reexecutionRate), f0(r.baseline.tps),
        r.baseline.ratio === null ? 'n/a' : `${r.baseline.ratio.toFixed(2)}×`,
      ]);
    }
  }
  lines.push(...table(rows));
  lines.push('TPS = this run\'s txs committed per second, counted from blocks (first submit → last commit seen on StreamBlocks); latency = submit → block seen; ratio = TPS / serial reference TPS over the same blocks' + (result.options.search ? '; * = reported round' : ''));
  lines.push(...envSweepSummary(result));
  for (const p of result.points) lines.push('', ...formatPoint(p, result.options.targetTps));
  lines.push('', result.ok ? 'RESULT CHECK PASSED for every point' : 'RESULT CHECK FAILED');
  return lines;
}

/**
 * For an env sweep: each value's committed TPS over its points (in run order), their median, and
 * that median over the first value's (the ratio a setting is judged by, from one run).
 */
export function envSweepSummary(result: BenchResult): string[] {
  const sweep = result.options.sweep;
  if (sweep?.param !== 'env') return [];
  const byValue = new Map<string, number[]>();
  result.points.forEach((p, i) => {
    const value = sweep.values[i]!;
    byValue.set(value, [...(byValue.get(value) ?? []), p.best.committedTps]);
  });
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const first = median(byValue.values().next().value!);
  const lines = ['', `${sweep.name}: committed TPS by value (median of its points; ratio to ${sweep.name}=${sweep.values[0]})`];
  for (const [value, tps] of byValue) {
    lines.push(`   ${sweep.name}=${value}: ${f0(median(tps))} tx/s (${tps.map(f0).join(', ')}), ${(median(tps) / first).toFixed(2)}×`);
  }
  return lines;
}

function formatPoint(p: PointResult, targetTps: number): string[] {
  const r = p.best;
  const out = [`── ${p.label} (round ${r.round})`];
  for (const [what, reasons] of [['refused by ingress', r.refused], ['rejected in a block', r.rejectedInBlock]] as const) {
    for (const [reason, n] of Object.entries(reasons)) out.push(`   ${what}: ${n} × ${reason}`);
  }
  out.push(`   signing ${r.txs} txs took ${r.signSeconds.toFixed(2)} s (before the timed phase); sender lag max ${f0(r.sendLagMaxMs)} ms; ${r.blocks} blocks`);
  const svcRows = [['service', 'CPU s', 'µs/tx', 'peak RSS MB', 'source']];
  for (const s of r.services) {
    svcRows.push([s.name, s.cpuSeconds === undefined ? 'n/a' : s.cpuSeconds.toFixed(2), s.cpuSeconds === undefined || r.committed === 0 ? 'n/a' : f0((s.cpuSeconds * 1e6) / r.committed),
      s.peakRssBytes === undefined ? 'n/a' : f0(s.peakRssBytes / 1048576), s.name === 'bench-client' ? 'process.cpuUsage' : s.source === 'proc' ? 'proc (fallback)' : s.source]);
  }
  out.push(...table(svcRows).map((l) => '   ' + l));
  const c = p.capacity;
  if (c === null) {
    out.push('   capacity projection: n/a (no CPU figures)');
  } else {
    out.push(`   capacity projection for ${targetTps.toLocaleString('en-US')} tx/s (from ${c.committedTxs} committed txs):`);
    const capRows = [['stage', 'µs/tx', 'cores', 'scales out', 'ceiling tx/s/core']];
    for (const s of c.stages) capRows.push([s.stage, f0(s.cpuUsPerTx), f1(s.coresForTarget), s.scalesOut ? 'yes' : 'no', f0(s.ceilingTpsPerCore)]);
    out.push(...table(capRows).map((l) => '     ' + l));
    out.push(`     total ≈ ${f0(c.totalCores)} cores; ceiling ≈ ${f0(c.ceilingTps)} tx/s, set by ${c.ceilingStage ?? 'none'} (${c.ceilingStage === null ? '' : 'cannot add replicas'})`);
    for (const m of c.moved) out.push(`     counted with ${m.to}, not ${m.from}: ${f0(m.cpuUsPerTx)} µs/tx of ${m.what}`);
    out.push(`     assumes: ${c.assumptions.join('; ')}`);
  }
  out.push(`   check: ${p.accounting.included} txs committed, ${p.accounting.lost.length} lost, ${p.accounting.duplicated.length} applied twice, ${p.stateChecked} state values compared (${p.stateMismatches.length} differ), ${p.rootMismatches} state-root mismatches vs serial reference${p.baselineStopped !== undefined ? `; baseline stopped ${p.baselineStopped}` : ''}`);
  for (const f of p.failures) out.push(`   FAIL: ${f}`);
  return out;
}

const bigintJson = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);

export function writeReport(result: BenchResult, outDir: string): string[] {
  const files: string[] = [];
  const write = (name: string, text: string): void => { const f = path.join(outDir, name); fs.writeFileSync(f, text); files.push(f); };
  write('results.json', JSON.stringify(result, bigintJson, 2) + '\n');
  write('report.txt', formatReport(result).join('\n') + '\n');
  const sweep = result.options.sweep;
  const serial = (xs: PointResult[], x: (p: PointResult) => number): Series => ({ name: 'serial reference', dashed: true, points: xs.map((p) => [x(p), p.best.baseline.tps]) });
  if (sweep?.param === 'executors') {
    const x = (p: PointResult): number => p.executors ?? 0;
    write('throughput-vs-executors.svg', lineChart({
      title: `Committed TPS vs executors (${result.options.workload}, ${result.options.accounts} accounts)`, xLabel: 'executors', yLabel: 'tx/s',
      series: [{ name: 'cluster TPS', points: result.points.map((p) => [x(p), p.best.committedTps]) }, serial(result.points, x)],
    }));
  }
  if (sweep?.param === 'accounts') {
    const x = (p: PointResult): number => p.accounts;
    write('throughput-vs-accounts.svg', lineChart({
      title: `Committed TPS vs accounts (${result.options.workload}, ${result.options.executors} executors)`, xLabel: 'accounts', yLabel: 'tx/s', logX: true,
      series: [{ name: 'cluster TPS', points: result.points.map((p) => [x(p), p.best.committedTps]) }, serial(result.points, x)],
    }));
  }
  if (result.options.search) {
    for (const p of result.points) {
      write(`throughput-vs-rate-${p.label.replace(/[^a-z0-9=.-]+/gi, '_')}.svg`, lineChart({
        title: `Committed TPS and p99 latency vs offered rate (${p.label})`, xLabel: 'offered tx/s', yLabel: 'tx/s | ms',
        series: [
          { name: 'committed TPS', points: p.rounds.map((r) => [r.targetRateTps, r.committedTps] as [number, number]).sort((a, b) => a[0] - b[0]) },
          { name: 'p99 ms', dashed: true, points: p.rounds.map((r) => [r.targetRateTps, r.latency.p99Ms] as [number, number]).sort((a, b) => a[0] - b[0]) },
        ],
      }));
    }
  }
  write('latency-cdf.svg', lineChart({
    title: `Submit → commit latency CDF (${result.options.workload})`, xLabel: 'latency ms', yLabel: 'fraction of txs',
    series: result.points.flatMap((p) => (result.options.search ? [p.best] : p.rounds).map((r) => ({ name: `${p.label} @${r.targetRateTps}/s`, points: r.latencyCdf }))),
  }));
  return files;
}
