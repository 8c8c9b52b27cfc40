// The root's entry hashes on worker threads (the compiled dist/lib/state/rootWorker.js, which
// `npm test` builds first) must give the lattice the service thread gives, and a thread that
// fails must cost a call, never a wrong lattice.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyFromHex, keyToBytes } from './keys.js';
import { StateRootAccumulator, frameChanges, latticeOfFramed, type RootChange } from './root.js';
import { MAX_FAILURES, MIN_CHANGES_FOR_THREADS, RootHashers, RootHashersError, threadOf } from './rootHashers.js';

const key = fc.oneof(
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => keyFromHex('01' + Buffer.from(a).toString('hex'))),
  fc.uint8Array({ minLength: 52, maxLength: 52 }).map((a) => keyFromHex('02' + Buffer.from(a).toString('hex'))),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => keyFromHex('03' + Buffer.from(a).toString('hex'))),
);
// Short values, and code longer than the accumulator's scratch buffer.
const value = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 72 }), fc.uint8Array({ minLength: 300, maxLength: 700 }));
// With the key's bytes or without (the framing then copies the key's characters).
const change = fc.record({ key, before: fc.option(value, { nil: null }), after: fc.option(value, { nil: null }), same: fc.boolean(), withBytes: fc.boolean() })
  .map(({ key: k, before, after, same, withBytes }): RootChange => ({
    key: k, before: same && after !== null ? Uint8Array.from(after) : before, after, ...(withBytes ? { keyBytes: keyToBytes(k) } : {}),
  }));

function onThisThread(start: StateRootAccumulator, changes: readonly RootChange[]): Buffer {
  const acc = start.clone();
  for (const c of changes) acc.update(c.key, c.before, c.after);
  return acc.serialize();
}

describe('RootHashers', () => {
  const pools: RootHashers[] = [];
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lanes-root-'));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  const pool = (threads: number, file?: string, digestEntries = 0): RootHashers => {
    const p = file === undefined ? new RootHashers(threads, undefined, digestEntries) : new RootHashers(threads, file, digestEntries);
    pools.push(p);
    return p;
  };

  it('frames changes so that their lattice is the one the accumulator computes', () => {
    fc.assert(fc.property(fc.array(change, { maxLength: 20 }), (changes) => {
      const acc = new StateRootAccumulator();
      acc.addLattice(latticeOfFramed(frameChanges(changes, 0, changes.length)));
      expect(acc.serialize().equals(onThisThread(new StateRootAccumulator(), changes))).toBe(true);
    }), { numRuns: 100 });
    expect(() => latticeOfFramed(Uint8Array.of(5, 0, 0, 0, 1))).toThrow(/bad framed entry/);
    expect(() => latticeOfFramed(Uint8Array.of(5, 0))).toThrow(/truncated/);
  });

  it('gives the service thread\'s lattice with 1, 2 and 3 threads, over blocks split into parts', async () => {
    const start = new StateRootAccumulator();
    start.update(keyFromHex('01' + '11'.repeat(20)), null, Buffer.alloc(72, 3));
    for (const threads of [1, 2, 3]) {
      const hashers = pool(threads);
      await fc.assert(fc.asyncProperty(fc.array(change, { minLength: MIN_CHANGES_FOR_THREADS, maxLength: 4 * MIN_CHANGES_FOR_THREADS }), async (changes) => {
        expect(hashers.worthIt(changes.length)).toBe(true);
        const acc = start.clone();
        acc.addLattice(await hashers.delta(changes));
        expect(acc.serialize().equals(onThisThread(start, changes))).toBe(true);
      }), { numRuns: 8 });
    }
  });

  it('sends each key to the same thread, whose remembered digests make a rewrite one digest, with the same lattice', async () => {
    expect([0, 1, 2].map((t) => threadOf(keyFromHex('02' + 'ab'.repeat(48) + '0000000' + t), 3))).toEqual([0, 1, 2]);
    expect(threadOf(keyFromHex('01' + 'ab'.repeat(20)), 1)).toBe(0);
    const hashers = pool(3, undefined, 3 * 4_096);
    const keys = Array.from({ length: 300 }, (_, i) => keyFromHex('02' + 'cd'.repeat(20) + i.toString(16).padStart(64, '0')));
    const word = (n: number): Buffer => Buffer.alloc(32, n);
    const service = new StateRootAccumulator();
    const threads = new StateRootAccumulator();
    let previous: Buffer | null = null;
    for (let round = 1; round <= 3; round++) {
      const changes = keys.map((k): RootChange => ({ key: k, before: previous, after: word(round) }));
      for (const c of changes) service.update(c.key, c.before, c.after);
      threads.addLattice(await hashers.delta(changes));
      expect(threads.serialize().equals(service.serialize())).toBe(true);
      previous = word(round);
    }
    // Rounds 2 and 3 found every old entry where round 1 and 2 put it.
    expect(hashers.digestStats).toEqual({ hits: 2 * keys.length, misses: 0 });
  });

  it('fails a call whose thread dies, and starts a new thread for the next', async () => {
    // The real worker, behind a listener that ends the thread on a job of more than 1 MB. Imported
    // first, the guard listens first, so such a job is not answered before the thread dies.
    writeFileSync(path.join(dir, 'guard.mjs'), [
      "import { parentPort } from 'node:worker_threads';",
      "parentPort.on('message', (job) => { if (job.framed.byteLength > 1_000_000) process.exit(7); });",
      '',
    ].join('\n'));
    const dying = path.join(dir, 'dying-worker.mjs');
    const worker = new URL('../../dist/lib/state/rootWorker.js', import.meta.url).href; // built by `npm test`, as the pool's default
    writeFileSync(dying, `import './guard.mjs';\nimport ${JSON.stringify(worker)};\n`);
    const hashers = pool(2, dying);
    const changes = fc.sample(change, 4 * MIN_CHANGES_FOR_THREADS);
    const expected = onThisThread(new StateRootAccumulator(), changes);
    const check = async (): Promise<void> => {
      const acc = new StateRootAccumulator();
      acc.addLattice(await hashers.delta(changes));
      expect(acc.serialize().equals(expected)).toBe(true);
    };
    await check(); // both threads started
    // A call of many large code values, all for thread 1: it dies on it, before hashing.
    const big = Array.from({ length: 20_000 }, (_, i): RootChange => ({ key: keyFromHex('03' + (2 * i + 1).toString(16).padStart(64, '0')), before: null, after: Buffer.alloc(600, i) }));
    expect(big.every((c) => threadOf(c.key, 2) === 1)).toBe(true);
    await expect(hashers.delta(big)).rejects.toBeInstanceOf(RootHashersError);
    await check();
  });

  it('stops after failing calls in a row, so the caller hashes on its own thread', async () => {
    const broken = path.join(dir, 'broken-worker.js');
    writeFileSync(broken, 'process.exit(3);\n');
    const hashers = pool(1, broken);
    const changes = fc.sample(change, MIN_CHANGES_FOR_THREADS);
    for (let i = 0; i < MAX_FAILURES; i++) {
      expect(hashers.worthIt(changes.length)).toBe(true);
      await expect(hashers.delta(changes)).rejects.toThrow(/exited with code 3/);
    }
    expect(hashers.worthIt(changes.length)).toBe(false);
    await expect(hashers.delta(changes)).rejects.toThrow(/stopped after/);
  });

  it('refuses a bad thread count and a missing worker file, and skips small blocks', () => {
    expect(() => new RootHashers(0)).toThrow(/threads must be/);
    expect(() => new RootHashers(1, undefined, -1)).toThrow(/digestEntries must be/);
    expect(() => new RootHashers(1, path.join(dir, 'none.js'))).toThrow(/not found/);
    expect(pool(1).worthIt(MIN_CHANGES_FOR_THREADS - 1)).toBe(false);
  });
});
