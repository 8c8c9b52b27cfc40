import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { collectAllNow, scavengeNow } from './idleGc.js';

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
});
