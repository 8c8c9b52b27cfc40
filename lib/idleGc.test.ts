import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { collectAllNow, scavengeNow, settleYoungGeneration } from './idleGc.js';

/** Exposes gc() as --expose-gc would, runs `collect`, and returns what it said and the kinds of GC seen meanwhile. */
async function gcKindsDuring(collect: () => boolean): Promise<{ ran: boolean; kinds: number[] }> {
  v8.setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc = vm.runInNewContext('gc');
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  const ran = collect();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return { ran, kinds };
}

describe('scavengeNow and collectAllNow', () => {
  const saved = (globalThis as { gc?: unknown }).gc;
  afterEach(() => {
    (globalThis as { gc?: unknown }).gc = saved;
  });

  it('do nothing without gc() exposed', () => {
    (globalThis as { gc?: unknown }).gc = undefined;
    expect(scavengeNow()).toBe(false);
    expect(collectAllNow()).toBe(false);
    expect(settleYoungGeneration()).toBe(false);
  });

  it('scavengeNow runs a minor GC when the process has --expose-gc', async () => {
    const { ran, kinds } = await gcKindsDuring(scavengeNow);
    expect(ran).toBe(true);
    // (A full collection may land in the same window: the test runner's own, finishing its marking.)
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MINOR);
  });

  it('collectAllNow runs a full GC', async () => {
    const { ran, kinds } = await gcKindsDuring(collectAllNow);
    expect(ran).toBe(true);
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
  });

  it('settleYoungGeneration moves what is alive in the young generation to old space', () => {
    // A child with a fixed 16 MB young generation, as the scheduler has a fixed one: 4 MB of live
    // objects stay in it until something promotes them.
    const script = `
      const { settleYoungGeneration } = await import(${JSON.stringify(pathToFileURL(path.resolve('dist/lib/idleGc.js')).href)});
      const v8 = await import('node:v8');
      const used = (name) => v8.getHeapSpaceStatistics().find((sp) => sp.space_name === name).space_used_size;
      const kept = Array.from({ length: 4096 }, (_, i) => new Array(126).fill(i));
      const before = { young: used('new_space'), old: used('old_space') };
      const settled = settleYoungGeneration();
      const after = { young: used('new_space'), old: used('old_space') };
      process.stdout.write(JSON.stringify({ settled, before, after, last: kept[4095][0] }));
    `;
    const run = (flags: string[]): { settled: boolean; before: Record<string, number>; after: Record<string, number>; last: number } =>
      JSON.parse(execFileSync(process.execPath, [...flags, '--min-semi-space-size=16', '--max-semi-space-size=16', '--input-type=module', '-e', script], { encoding: 'utf8' }));
    const exposed = run(['--expose-gc']);
    expect(exposed.settled).toBe(true);
    expect(exposed.before.young! - exposed.after.young!).toBeGreaterThan(3 << 20);
    expect(exposed.after.old! - exposed.before.old!).toBeGreaterThan(3 << 20);
    expect(exposed.last).toBe(4095);
    const plain = run([]);
    expect(plain.settled).toBe(false);
    expect(plain.after.young).toBeGreaterThan(3 << 20);
  });
});
