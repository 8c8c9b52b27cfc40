import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { collectAllNow, scavengeNow } from './idleGc.js';

describe('scavengeNow', () => {
  const saved = (globalThis as { gc?: unknown }).gc;
  afterEach(() => {
    (globalThis as { gc?: unknown }).gc = saved;
  });

  it('does nothing without gc() exposed', () => {
    (globalThis as { gc?: unknown }).gc = undefined;
    expect(scavengeNow()).toBe(false);
    expect(collectAllNow()).toBe(false);
  });

  it('runs a minor GC when the process has --expose-gc', async () => {
    v8.setFlagsFromString('--expose-gc');
    (globalThis as { gc?: unknown }).gc = vm.runInNewContext('gc');
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ['gc'] });
    expect(scavengeNow()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    // (A full collection may land in the same window: the test runner's own, finishing its marking.)
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MINOR);
  });

  it('runs a full GC when asked to collect everything', async () => {
    v8.setFlagsFromString('--expose-gc');
    (globalThis as { gc?: unknown }).gc = vm.runInNewContext('gc');
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
    });
    observer.observe({ entryTypes: ['gc'] });
    expect(collectAllNow()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
  });
});
