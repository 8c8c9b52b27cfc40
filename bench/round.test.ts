import { describe, expect, it } from 'vitest';
import type { SeenBlock } from './blockWatcher.js';
import { CommittedCount } from './round.js';

const hash = (n: number): Buffer => Buffer.alloc(32, n);
const block = (height: bigint, hashes: number[]): SeenBlock => ({
  header: { number: height } as SeenBlock['header'], txHashes: hashes.map(hash), seenAtMs: 0,
});

describe('CommittedCount', () => {
  it('counts the round\'s txs once each, from the blocks recorded after it started', () => {
    const watcher = { blocks: new Map<bigint, SeenBlock>([[5n, block(5n, [1])]]), height: 5n };
    const ours = [1, 2, 3, 4].map((n) => hash(n).toString('hex'));
    const counter = new CommittedCount(watcher, ours);
    expect(counter.count()).toBe(0); // block 5 came before the round

    watcher.blocks.set(6n, block(6n, [2, 9]));
    watcher.height = 6n;
    expect(counter.count()).toBe(1);
    expect(counter.count()).toBe(1);

    // A tx seen again (a duplicate inclusion) is not counted twice; a block not yet recorded ends the scan.
    watcher.blocks.set(7n, block(7n, [2, 3]));
    watcher.height = 8n;
    expect(counter.count()).toBe(2);
    watcher.blocks.set(8n, block(8n, [4]));
    expect(counter.count()).toBe(3);
  });
});
