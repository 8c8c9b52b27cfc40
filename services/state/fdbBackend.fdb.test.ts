// The FoundationDB backend against a real database (test/support/fdb.ts finds or starts one):
// the shared conformance suite, chunked commits (never half visible, leftovers cleared, a second
// writer refused), and a child process killed with SIGKILL in the middle of a chunked commit.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CommitRequest } from '../../gen/lanes/v1/bus.js';
import { devGenesis } from '../../lib/chain/genesis.js';
import { keyToBytes, storageKey, type StateKey } from '../../lib/state/keys.js';
import { REPO_ROOT, testFdb, uniquePrefix } from '../../test/support/fdb.js';
import { HeightNotCommittedError, HeightPrunedError } from './backend.js';
import { addr, describeBackendConformance, recordOf, txOf, word } from './backendConformance.js';
import type { FdbBackendOptions, FdbStateBackend } from './fdbBackend.js';
import { LmdbStateBackend } from './lmdbBackend.js';
import { StateService } from './stateService.js';

const found = await testFdb();
const genesis = devGenesis();
const log = pino({ level: 'silent' });
const limits = { maxReadKeys: 20_000, maxLogsRange: 100, maxLogs: 100 };

if (found.skip !== null) {
  describe('FoundationDB backend', () => {
    it.skip(`skipped: ${found.skip}`, () => undefined);
  });
} else {
  const { fdb } = found;
  const { FdbStateBackend: Fdb } = await import('./fdbBackend.js');
  const opened: FdbStateBackend[] = [];
  const open = async (prefix: string, options: Partial<FdbBackendOptions> = {}): Promise<FdbStateBackend> => {
    const backend = await Fdb.open({ clusterFile: fdb.clusterFile, prefix, ...options });
    opened.push(backend);
    return backend;
  };
  afterAll(async () => { await fdb.stop(); }); // runs last: hooks run in reverse order

  for (const [label, chunkMaxBytes] of [['fdb, one transaction per block', undefined], ['fdb, forced chunks of 2 kB', 2048]] as const) {
    let prefix = '';
    describeBackendConformance(label, {
      sharedStore: true,
      create: async () => { prefix = uniquePrefix('conf'); return open(prefix, { chunkMaxBytes }); },
      reopen: async () => open(prefix, { chunkMaxBytes }),
      destroy: async () => { const b = await open(prefix); await b.destroyAll(); await b.close(); },
      stateVersions: (backend) => (backend as FdbStateBackend).stateVersionCount(),
    });
  }

  describe('FoundationDB pruning', () => {
    it('resumes a prune interrupted between raising the oldest height and clearing below it', async () => {
      const prefix = uniquePrefix('prune');
      const crashing = await open(prefix, { onOldestRaised: async (h) => { if (h === 2n) throw new Error('crash after the move'); } });
      const s = storageKey(addr(5), word(1));
      for (let h = 0n; h <= 4n; h++) await crashing.commit(recordOf({ height: h, writes: [{ key: s, value: word(Number(h) + 1) }] }));
      await expect(crashing.prune(3n, 10)).rejects.toThrow(/crash after the move/);
      expect(await crashing.oldestReadable()).toBe(2n);
      expect(await crashing.stateVersionCount()).toBe(4); // s@0 went with block 1; s@1 is still there
      const fresh = await open(prefix);
      expect(await fresh.readAt([s], 2n)).toEqual([word(3)]);
      await expect(fresh.readAt([s], 1n)).rejects.toBeInstanceOf(HeightPrunedError);
      expect(await fresh.prune(3n, 10)).toEqual({ oldestReadable: 3n, blocks: 1 });
      expect(await fresh.stateVersionCount()).toBe(2); // s@3 and s@4
      expect(await fresh.readAt([s], 3n)).toEqual([word(4)]);
      await fresh.destroyAll();
    });
  });

  describe('FoundationDB chunked commits', () => {
    const writesOf = (n: number, salt: number) => Array.from({ length: n }, (_, i) => ({ key: storageKey(addr(4), word(i)), value: word(i + salt) }));

    it('never shows half a block to a reader while chunks are written', async () => {
      const prefix = uniquePrefix('half');
      const reader = await open(prefix);
      const seen: string[] = [];
      const writes = writesOf(400, 1);
      const keys = writes.map((w) => w.key);
      const tx = txOf(1);
      const writer = await open(prefix, {
        chunkMaxBytes: 4096,
        onChunkCommitted: async (index, count) => {
          const [values, meta, records, logs, block] = await Promise.all([
            reader.readAt(keys, 0n), reader.meta(), reader.getTxRecords([tx.hash]),
            reader.getLogs({ fromBlock: 0n, toBlock: 5n, addresses: [], topics: [], maxResults: 10 }), reader.getBlock(1n),
          ]);
          seen.push(`${index + 1}/${count}`);
          expect(values.every((v) => v === null)).toBe(true);
          expect(meta?.height).toBe(0n);
          expect(records).toEqual([null]);
          expect(logs).toEqual([]);
          expect(block).toBeNull();
          await expect(reader.readAt(keys.slice(0, 1), 1n)).rejects.toBeInstanceOf(HeightNotCommittedError);
        },
      });
      await writer.commit(recordOf({ height: 0n }));
      await writer.commit(recordOf({ height: 1n, writes, txs: [{ tx, logs: [{ address: addr(1), topics: [], data: Buffer.alloc(0) }] }] }));
      expect(seen.length).toBeGreaterThan(10);
      const values = await reader.readAt(keys, 1n);
      expect(values.every((v, i) => v !== null && v.equals(word(i + 1)))).toBe(true);
      expect((await reader.getTxRecords([tx.hash]))[0]?.kind).toBe('included');
      await writer.destroyAll();
    });

    it('clears the leftovers of an interrupted chunked commit, even when the retry is a different, smaller block', async () => {
      const prefix = uniquePrefix('leftover');
      const stopAfter = 3;
      const crashing = await open(prefix, {
        chunkMaxBytes: 4096,
        onChunkCommitted: async (index) => { if (index + 1 === stopAfter) throw new Error('simulated crash'); },
      });
      await crashing.commit(recordOf({ height: 0n }));
      const lost = txOf(5);
      await expect(crashing.commit(recordOf({ height: 1n, writes: writesOf(400, 1), txs: [{ tx: lost }] }))).rejects.toThrow(/simulated crash/);
      const retry = await open(prefix); // one transaction: finds the leftovers and takes the chunked path
      await retry.commit(recordOf({ height: 1n, salt: 2, writes: writesOf(5, 100) }));
      const values = await retry.readAt(writesOf(400, 0).map((w) => w.key), 1n);
      expect(values.slice(0, 5)).toEqual(writesOf(5, 100).map((w) => w.value));
      expect(values.slice(5).every((v) => v === null)).toBe(true); // no leftover became visible
      expect(await retry.getTxRecords([lost.hash])).toEqual([null]);
      await retry.destroyAll();
    });

    it('refuses a second writer that claims the same pending height', async () => {
      const prefix = uniquePrefix('writers');
      let intruder: Promise<unknown> | null = null;
      const second = await open(prefix, { chunkMaxBytes: 4096 });
      const first = await open(prefix, {
        chunkMaxBytes: 4096,
        onChunkCommitted: async (index) => {
          if (index === 1) intruder = second.commit(recordOf({ height: 1n, salt: 9, writes: writesOf(300, 50) }));
          if (index === 1) await intruder;
        },
      });
      await first.commit(recordOf({ height: 0n }));
      await expect(first.commit(recordOf({ height: 1n, writes: writesOf(300, 1) }))).rejects.toThrow(/superseded/);
      const values = await first.readAt(writesOf(300, 0).map((w) => w.key), 1n);
      expect(values.every((v, i) => v !== null && v.equals(word(i + 50)))).toBe(true);
      await first.destroyAll();
    });

    it('does not publish a block whose chunks a racing writer cleared as leftovers', async () => {
      // The window a race hits now and then: writer B, committing the same height, takes A's
      // chunks for an interrupted commit's leftovers and clears them, but has not yet claimed the
      // pending height when A publishes. A must refuse rather than show a block missing writes.
      const prefix = uniquePrefix('cleared');
      const second = await open(prefix, { chunkMaxBytes: 4096 });
      // B clears one chunk a transaction; stop it after the first, where A's publish lands.
      const internals = second as unknown as { clearLeftovers(record: unknown): Promise<void>; run(op: string, body: unknown): Promise<unknown> };
      const run = internals.run.bind(second);
      let rounds = 0;
      internals.run = async (op, body) => {
        if (op.startsWith('clear leftovers') && ++rounds > 1) throw new Error('B paused before its next round');
        return run(op, body);
      };
      const first = await open(prefix, {
        chunkMaxBytes: 4096,
        onChunkCommitted: async (index, count) => {
          if (index + 1 !== count) return;
          await expect(internals.clearLeftovers(recordOf({ height: 1n, salt: 9, writes: writesOf(300, 50) }))).rejects.toThrow(/paused/);
          internals.run = run;
        },
      });
      await first.commit(recordOf({ height: 0n }));
      await expect(first.commit(recordOf({ height: 1n, writes: writesOf(300, 1) }))).rejects.toThrow(/superseded/);
      await expect(first.readAt([storageKey(addr(4), word(0))], 1n)).rejects.toBeInstanceOf(HeightNotCommittedError);
      // The height is still free: a commit of it goes through whole.
      await second.commit(recordOf({ height: 1n, salt: 9, writes: writesOf(300, 50) }));
      const values = await first.readAt(writesOf(300, 0).map((w) => w.key), 1n);
      expect(values.every((v, i) => v !== null && v.equals(word(i + 50)))).toBe(true);
      await first.destroyAll();
    });

    it('says what failed when the database is unreachable', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-fdb-bad-'));
      const clusterFile = path.join(dir, 'fdb.cluster');
      fs.writeFileSync(clusterFile, 'nobody:home@127.0.0.1:9\n');
      await expect(Fdb.open({ clusterFile, prefix: 'x', transactionTimeoutMs: 300 })).rejects.toThrow(/foundationdb: open \(cluster file .*\) failed: .*\(fdb error \d+\)/);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  describe('FoundationDB crash in the middle of a chunked commit', () => {
    const distBackend = path.join(REPO_ROOT, 'dist', 'services', 'state', 'fdbBackend.js');
    const keys: StateKey[] = Array.from({ length: 600 }, (_, i) => storageKey(addr(6), word(i)));
    const request: CommitRequest = {
      env: {
        number: 1n, timestamp: genesis.timestamp + 1n, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
        baseFeePerGas: Buffer.from([7]), prevRandao: Buffer.alloc(32, 1), chainId: genesis.chainId,
      },
      orderedDigest: Buffer.from(keccak_256(Buffer.from('crash'))), txs: [], receipts: [], rejections: [],
      writes: keys.map((k, i) => ({ key: keyToBytes(k), value: word(i + 1), absent: false })), lastTxStreamSeq: 7n,
    };

    /** Runs the child until it reports chunk `pauseAt` ('last' = every chunk, before publishing), then SIGKILLs it. */
    async function killMidCommit(prefix: string, requestFile: string, pauseAt: string): Promise<string[]> {
      const script = `
        import { readFileSync } from 'node:fs';
        import { pino } from 'pino';
        const dist = process.env.CRASH_DIST;
        const { FdbStateBackend } = await import(dist + '/services/state/fdbBackend.js');
        const { StateService } = await import(dist + '/services/state/stateService.js');
        const { CommitRequest } = await import(dist + '/gen/lanes/v1/bus.js');
        const { devGenesis } = await import(dist + '/lib/chain/genesis.js');
        const pauseAt = process.env.CRASH_PAUSE_AT;
        setInterval(() => undefined, 1000);
        const backend = await FdbStateBackend.open({
          clusterFile: process.env.FDB_CLUSTER_FILE, prefix: process.env.CRASH_PREFIX, chunkMaxBytes: 4096,
          onChunkCommitted: async (i, n) => {
            process.stdout.write('chunk ' + (i + 1) + '/' + n + '\\n');
            if (String(i + 1) === pauseAt || (pauseAt === 'last' && i + 1 === n)) await new Promise(() => undefined);
          },
        });
        const limits = { maxReadKeys: 20000, maxLogsRange: 100, maxLogs: 100 };
        const service = await StateService.open({ backend, genesis: devGenesis(), limits, log: pino({ level: 'silent' }) });
        const res = await service.commitBlock(CommitRequest.decode(readFileSync(process.env.CRASH_REQUEST)));
        process.stdout.write('committed ' + res.error + '\\n');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env, LD_LIBRARY_PATH: fdb.libraryPath, FDB_CLUSTER_FILE: fdb.clusterFile, CRASH_DIST: path.join(REPO_ROOT, 'dist'),
          CRASH_PREFIX: prefix, CRASH_REQUEST: requestFile, CRASH_PAUSE_AT: pauseAt,
        },
      });
      const lines: string[] = [];
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child did not reach chunk ${pauseAt}: ${lines.join(', ')} ${stderr}`)), 30_000);
        let buffered = '';
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          const parts = buffered.split('\n');
          buffered = parts.pop()!;
          for (const line of parts) {
            lines.push(line);
            const [done, count] = line.replace('chunk ', '').split('/');
            if (line.startsWith('committed') || done === pauseAt || (pauseAt === 'last' && done === count)) {
              clearTimeout(timer);
              resolve();
            }
          }
        });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited (${code}) early: ${lines.join(', ')} ${stderr}`)); });
      });
      child.kill('SIGKILL');
      await exited;
      return lines;
    }

    it.skipIf(!fs.existsSync(distBackend))('after kill -9 the block is not visible, and committing it again gives the embedded store\'s root', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-fdb-crash-'));
      const requestFile = path.join(dir, 'request.bin');
      fs.writeFileSync(requestFile, CommitRequest.encode(request).finish());
      const lmdb = await StateService.open({ backend: new LmdbStateBackend({ path: path.join(dir, 'lmdb'), noSync: true }), genesis, limits, log });
      const expected = await lmdb.commitBlock(request);
      await lmdb.close();
      expect(expected.error).toBe('');
      for (const pauseAt of ['3', 'last']) {
        const prefix = uniquePrefix(`crash-${pauseAt}`);
        const genesisOnly = await StateService.open({ backend: await open(prefix), genesis, limits, log });
        await genesisOnly.close();
        const lines = await killMidCommit(prefix, requestFile, pauseAt);
        expect(lines.some((l) => l.startsWith('committed'))).toBe(false);
        expect(lines.length).toBeGreaterThanOrEqual(3);
        const backend = await open(prefix);
        expect((await backend.meta())?.height).toBe(0n);
        expect((await backend.readAt(keys, 0n)).every((v) => v === null)).toBe(true);
        expect(await backend.getBlock(1n)).toBeNull();
        const service = await StateService.open({ backend, genesis, limits, log });
        const again = await service.commitBlock(request);
        expect(again.error).toBe('');
        expect(again.header?.stateRoot).toEqual(expected.header?.stateRoot);
        expect(again.header?.hash).toEqual(expected.header?.hash);
        expect((await service.read({ height: 1n, keys: keys.map((k) => keyToBytes(k)), latest: false })).entries.map((e) => e.value))
          .toEqual(keys.map((_, i) => word(i + 1)));
        expect((await service.commitBlock(request)).alreadyCommitted).toBe(true);
        await service.close();
        const cleaner = await open(prefix);
        await cleaner.destroyAll();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  afterAll(async () => {
    for (const b of opened) await b.close();
  });
}
