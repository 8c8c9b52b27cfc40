// The serial baseline on a thread of its own runs the same blocks to the same state as on the
// calling thread, reports its own GC pauses, and fails a request with a clear error.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { genesisStateEntries, genesisToJson } from '../../lib/chain/genesis.js';
import { generateWorkload } from '../../lib/workloads/index.js';
import { currentThreadId } from '../threadAffinity.js';
import { generateOffThread, ownHeapBaseline, sharedHeapBaseline } from './baselineThread.js';

describe('serial baseline thread', () => {
  it('runs blocks on its own heap to the state the calling thread reaches', async () => {
    const w = await generateWorkload({ workload: 'erc20', accounts: 40, hotShare: 0, chainId: 31337n, seed: 'baseline-thread', txCount: 96 });
    const txs: Tx[] = w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }));
    const blocks = [txs.slice(0, 32), txs.slice(32, 64), txs.slice(64)];
    const own = await ownHeapBaseline(w.genesis, blocks);
    const shared = await sharedHeapBaseline(w.genesis, genesisStateEntries(w.genesis), blocks);
    try {
      for (let b = 0; b < blocks.length; b++) {
        if (b === 1) {
          // Between warm-up and timed blocks, as bench:engine does: on either heap, nothing to answer.
          await expect(own.settle()).resolves.toBeUndefined();
          await expect(shared.settle()).resolves.toBeUndefined();
        }
        const mine = await own.runBlock(b, b > 0);
        expect(mine.seconds).toBeGreaterThan(0);
        expect(mine.gcMs).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN((await shared.runBlock(b, b > 0)).gcMs)).toBe(true); // its pauses are the caller's to count
      }
      const [a, b] = [await own.totals(), await shared.totals()];
      expect(a.txs).toBe(64); // the timed blocks only
      expect(b.txs).toBe(64);
      expect(Buffer.isBuffer(a.root)).toBe(true);
      expect(a.root.equals(b.root)).toBe(true);
      expect(a.threadId).not.toBe(process.pid); // a thread of its own, which the bench can pin
      expect(fs.existsSync(`/proc/${process.pid}/task/${a.threadId}`)).toBe(true);
      expect(b.threadId).toBe(currentThreadId());
      await expect(own.runBlock(blocks.length, true)).rejects.toThrow('serial baseline: no block 3 (3 blocks)');
    } finally {
      await own.stop();
      await shared.stop();
    }
    await expect(own.runBlock(0, false)).rejects.toThrow('serial baseline thread stopped');
  }, 60_000);

  it('starts with V8\'s own young generation where the calling process has a fixed one, and leaves the process\'s flag as it was', () => {
    const dist = (file: string): string => JSON.stringify(pathToFileURL(path.resolve('dist', file)).href);
    const script = `
      const { ownHeapBaseline } = await import(${dist('bench/engine/baselineThread.js')});
      const { generateWorkload } = await import(${dist('lib/workloads/index.js')});
      const { Worker } = await import('node:worker_threads');
      const w = await generateWorkload({ workload: 'transfer', accounts: 4, hotShare: 0, chainId: 31337n, seed: 'young', txCount: 8 });
      const baseline = await ownHeapBaseline(w.genesis, [w.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender }))]);
      const { startNewSpaceBytes } = await baseline.totals();
      await baseline.stop();
      const probe = "require('node:worker_threads').parentPort.postMessage(require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)";
      const later = new Worker(probe, { eval: true });
      const laterBytes = await new Promise((resolve) => later.once('message', resolve));
      await later.terminate();
      process.stdout.write(JSON.stringify({ startNewSpaceBytes, laterBytes }));
    `;
    // A file, not -e: the worker inherits the process's flags, and --input-type is refused there.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-young-'));
    const file = path.join(dir, 'young.mjs');
    fs.writeFileSync(file, script);
    let out: string;
    try {
      out = execFileSync(process.execPath, ['--min-semi-space-size=64', '--max-semi-space-size=64', file], { encoding: 'utf8' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const { startNewSpaceBytes, laterBytes } = JSON.parse(out) as { startNewSpaceBytes: number; laterBytes: number };
    expect(startNewSpaceBytes).toBeGreaterThan(0);
    expect(startNewSpaceBytes).toBeLessThan(64 << 20);
    expect(laterBytes).toBe(64 << 20);
  }, 60_000);

  it('generates on its own thread the workload the calling thread generates', async () => {
    const options = { workload: 'amm' as const, accounts: 30, hotShare: 0, chainId: 31337n, seed: 'generate-thread', txCount: 40 };
    const [there, here] = await Promise.all([generateOffThread(options), generateWorkload(options)]);
    expect(genesisToJson(there.genesis)).toEqual(genesisToJson(here.genesis));
    expect(there.txs).toEqual(here.txs.map((t) => ({ raw: t.raw, hash: t.hash, sender: t.sender })));
    await expect(generateOffThread({ ...options, accounts: 0 })).rejects.toThrow(/^workload generation: /);
  }, 60_000);
});
