// Latency and percentile math, and the SVG chart's basic shape.
import { describe, expect, it } from 'vitest';
import { latencyCdf, median, percentile, summarizeLatencies } from './stats.js';
import { lineChart, niceTicks } from './svg.js';

describe('latency statistics', () => {
  it('uses nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1); // 1 … 100
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 90)).toBe(90);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(sorted, 101)).toThrow(RangeError);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
  });

  it('takes the median of unsorted values, the mean of the middle two for an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([1.3])).toBe(1.3);
    expect(median([])).toBeNaN();
  });

  it('summarizes unsorted latencies', () => {
    const s = summarizeLatencies([30, 10, 20, 40, 1000]);
    expect(s).toMatchObject({ count: 5, p50Ms: 30, p90Ms: 1000, p99Ms: 1000, maxMs: 1000, meanMs: 220 });
    expect(summarizeLatencies([]).count).toBe(0);
  });

  it('builds a monotone CDF ending at 1 with bounded points', () => {
    const lat = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 1000);
    const cdf = latencyCdf(lat, 100);
    expect(cdf.length).toBeLessThanOrEqual(101);
    expect(cdf[cdf.length - 1]![1]).toBe(1);
    for (let i = 1; i < cdf.length; i++) {
      expect(cdf[i]![0]).toBeGreaterThanOrEqual(cdf[i - 1]![0]);
      expect(cdf[i]![1]).toBeGreaterThan(cdf[i - 1]![1]);
    }
    expect(latencyCdf([])).toEqual([]);
  });

  it('draws charts with round ticks', () => {
    expect(niceTicks(0, 1000)).toEqual([0, 200, 400, 600, 800, 1000]);
    const svg = lineChart({ title: 'TPS vs executors', xLabel: 'executors', yLabel: 'tx/s', series: [{ name: 'cluster', points: [[1, 100], [2, 180], [4, 300]] }] });
    expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('<polyline');
    expect(svg).toContain('TPS vs executors');
  });
});
