// Runs in a child Node with a small fixed young generation, as the scheduler runs with a large
// one (lib/nodeFlags.ts): after one touch, allocating through it again takes no new pages.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = `
const { touchYoungGeneration } = await import(${JSON.stringify(pathToFileURL(path.resolve('dist/lib/youngGeneration.js')).href)});
const first = touchYoungGeneration();
// Afterwards, small objects of another size through both semi-spaces again, as a block's
// allocations come: every page they land on must already be backed, the tail of each page too.
const faults = process.resourceUsage().minorPageFault;
let sink;
for (let bytes = 0; bytes < 2.25 * first.newSpaceBytes; bytes += 56) sink = { a: bytes, b: sink === undefined ? 0 : 1, c: null, d: null };
const second = { pageFaults: process.resourceUsage().minorPageFault - faults };
process.stdout.write(JSON.stringify({ first, second }));
`;

describe('touchYoungGeneration', () => {
  it('takes the fixed young generation\'s pages once, and small objects allocated through it later fault on none of them', () => {
    const out = execFileSync(process.execPath, ['--min-semi-space-size=32', '--max-semi-space-size=32', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { first, second } = JSON.parse(out) as Record<'first' | 'second', { newSpaceBytes: number; pageFaults: number }>;
    expect(first.newSpaceBytes).toBe(32 << 20);
    // Two 32 MB semi-spaces are 16,384 pages of 4 KB; some may already have been touched at start.
    expect(first.pageFaults).toBeGreaterThan(8_000);
    expect(second.pageFaults).toBeLessThan(first.pageFaults / 20);
  });
});
