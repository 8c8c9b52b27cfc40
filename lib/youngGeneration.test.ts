// Runs in a child Node with a small fixed young generation, as the scheduler runs with a large
// one (lib/nodeFlags.ts): after one touch, allocating through it again takes no new pages.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = `
const { touchYoungGeneration } = await import(${JSON.stringify(pathToFileURL(path.resolve('dist/lib/youngGeneration.js')).href)});
const first = touchYoungGeneration();
const second = touchYoungGeneration();
process.stdout.write(JSON.stringify({ first, second }));
`;

describe('touchYoungGeneration', () => {
  it('takes the fixed young generation\'s pages once, and allocating through it again faults on none of them', () => {
    const out = execFileSync(process.execPath, ['--min-semi-space-size=32', '--max-semi-space-size=32', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { first, second } = JSON.parse(out) as Record<'first' | 'second', { newSpaceBytes: number; pageFaults: number }>;
    expect(first.newSpaceBytes).toBe(32 << 20);
    // Two 32 MB semi-spaces are 16,384 pages of 4 KB; some may already have been touched at start.
    expect(first.pageFaults).toBeGreaterThan(8_000);
    expect(second.pageFaults).toBeLessThan(first.pageFaults / 20);
  });
});
