// The StateBackend conformance suite, written once and run against every backend (lmdb in
// lmdbBackend.conformance.test.ts, FoundationDB in fdbBackend.fdb.test.ts): the contract of
// backend.ts as executable checks, plus the state service running on top of the backend.
import { keccak_256 } from '@noble/hashes/sha3.js';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockEnv } from '../../gen/lanes/v1/bus.js';
import type { Log, Rejection, Tx } from '../../gen/lanes/v1/types.js';
import { buildBlockHeader, buildReceipts } from '../../lib/chain/block.js';
import { devGenesis } from '../../lib/chain/genesis.js';
import { EMPTY_CODE_HASH, accountKey, codeKey, encodeAccount, keyToBytes, storageKey, type StateKey } from '../../lib/state/keys.js';
import { LATTICE_BYTES } from '../../lib/state/root.js';
import {
  HeightFenceError, HeightNotCommittedError, HeightPrunedError, type CommitRecord, type StateBackend, type StateWrite,
} from './backend.js';
import { StateService } from './stateService.js';

export interface BackendHarness {
  /** A new, empty store. */
  create(): Promise<StateBackend>;
  /** Another handle on the store of the last `create()`: a restart, or a second replica when `sharedStore`. */
  reopen(): Promise<StateBackend>;
  /** Handles from `reopen()` may be used while the first is open (several replicas on one database). */
  sharedStore: boolean;
  /** Removes the store of the last `create()`; handles are closed by the suite. */
  destroy(): Promise<void>;
  /** State versions stored, every key and height (to see that pruning frees them). */
  stateVersions(backend: StateBackend): Promise<number>;
}

const genesis = devGenesis();
export const addr = (n: number): Buffer => Buffer.alloc(20, n);
export const word = (n: number): Buffer => { const b = Buffer.alloc(32); b.writeUInt32BE(n, 28); return b; };
export const account = (balance: bigint, nonce = 0n): Buffer => encodeAccount({ nonce, balance, codeHash: EMPTY_CODE_HASH });
export const txOf = (n: number, rawBytes = 0): Tx => {
  const raw = Buffer.concat([Buffer.from(`tx-${n}`), Buffer.alloc(rawBytes, n % 256)]);
  return { raw, hash: Buffer.from(keccak_256(raw)), sender: addr(200) };
};
const transferTopic = Buffer.from(keccak_256(Buffer.from('Transfer(address,address,uint256)')));

function envOf(height: bigint): BlockEnv {
  return {
    number: height, timestamp: genesis.timestamp + height, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
    baseFeePerGas: Buffer.from([7]), prevRandao: Buffer.alloc(32, Number(height % 256n)), chainId: genesis.chainId,
  };
}

export interface RecordSpec {
  height: bigint;
  writes?: StateWrite[];
  txs?: { tx: Tx; logs?: Log[] }[];
  rejections?: Rejection[];
  salt?: number;
}

/** A self-consistent commit record (the root is arbitrary: backends store it, they do not check it). */
export function recordOf(spec: RecordSpec): CommitRecord {
  const txs = spec.txs ?? [];
  const receipts = buildReceipts(txs.map(({ tx, logs }) => ({
    txHash: tx.hash, sender: tx.sender, to: addr(9), contractAddress: null, gasUsed: 21_000n, success: true,
    logs: logs ?? [], txType: 2, effectiveGasPrice: 1n,
  })));
  const salt = Buffer.from(`${spec.height}-${spec.salt ?? 0}`);
  const header = buildBlockHeader({
    env: envOf(spec.height), parentHash: Buffer.alloc(32), stateRoot: Buffer.from(keccak_256(salt)),
    txHashes: txs.map((t) => t.tx.hash), receipts, orderedDigest: Buffer.from(keccak_256(Buffer.concat([salt, Buffer.from('o')]))),
  });
  return {
    height: spec.height, header, txs: txs.map((t) => t.tx), receipts, rejections: spec.rejections ?? [],
    writes: spec.writes ?? [], lattice: Buffer.alloc(LATTICE_BYTES, Number(spec.height % 256n)), lastTxStreamSeq: spec.height * 10n,
  };
}

const transfer = (token: Buffer, from: number, to: number): Log => ({
  address: token, topics: [transferTopic, Buffer.concat([Buffer.alloc(12), addr(from)]), Buffer.concat([Buffer.alloc(12), addr(to)])], data: word(1),
});

export function describeBackendConformance(name: string, harness: BackendHarness): void {
  describe(`StateBackend conformance: ${name}`, () => {
    let backend: StateBackend;
    const extra: StateBackend[] = [];
    const other = async (): Promise<StateBackend> => { const b = await harness.reopen(); extra.push(b); return b; };

    beforeEach(async () => { backend = await harness.create(); });
    afterEach(async () => {
      for (const b of extra.splice(0)) await b.close();
      await backend.close();
      await harness.destroy();
    });

    it('starts empty, and refuses reads before genesis', async () => {
      expect(await backend.meta()).toBeNull();
      await expect(backend.readAt([accountKey(addr(1))], 0n)).rejects.toBeInstanceOf(HeightNotCommittedError);
      expect(await backend.getBlock(0n)).toBeNull();
    });

    it('fences by height: only genesis on an empty store, then height + 1; nothing written on refusal', async () => {
      await expect(backend.commit(recordOf({ height: 1n }))).rejects.toBeInstanceOf(HeightFenceError);
      const g = recordOf({ height: 0n, writes: [{ key: accountKey(addr(1)), value: account(1n) }] });
      await backend.commit(g);
      const again = backend.commit(recordOf({ height: 0n, salt: 1, writes: [{ key: accountKey(addr(1)), value: account(2n) }] }));
      await expect(again).rejects.toThrow(/store is at 0, commit is for 0/);
      await expect(backend.commit(recordOf({ height: 2n }))).rejects.toBeInstanceOf(HeightFenceError);
      const meta = await backend.meta();
      expect(meta?.height).toBe(0n);
      expect(meta?.headHash).toEqual(g.header.hash);
      expect(meta?.lattice).toEqual(g.lattice);
      expect(await backend.readAt([accountKey(addr(1))], 0n)).toEqual([account(1n)]);
      await expect(backend.commit({ ...recordOf({ height: 1n }), lattice: Buffer.alloc(3) })).rejects.toThrow(/lattice/);
      expect((await backend.meta())?.height).toBe(0n);
    });

    it('reads every committed height; deletions read as absent; reads above the committed height fail', async () => {
      const a = accountKey(addr(1));
      const s = storageKey(addr(2), word(1));
      const c = codeKey(Buffer.alloc(32, 5));
      await backend.commit(recordOf({ height: 0n, writes: [{ key: a, value: account(1n) }] }));
      await backend.commit(recordOf({ height: 1n, writes: [{ key: s, value: word(42) }, { key: c, value: Buffer.alloc(3000, 0x60) }] }));
      expect(await backend.readAt([a, s], 1n)).toEqual([account(1n), word(42)]); // warms a cache, if any
      await backend.commit(recordOf({ height: 2n, writes: [{ key: a, value: null }, { key: s, value: word(43) }] }));
      await backend.commit(recordOf({ height: 3n, writes: [{ key: a, value: account(9n, 1n) }] }));
      expect(await backend.readAt([a, s, c], 0n)).toEqual([account(1n), null, null]);
      expect(await backend.readAt([a, s, c], 1n)).toEqual([account(1n), word(42), Buffer.alloc(3000, 0x60)]);
      expect(await backend.readAt([a, s, c], 2n)).toEqual([null, word(43), Buffer.alloc(3000, 0x60)]);
      expect(await backend.readAt([a, s, a], 3n)).toEqual([account(9n, 1n), word(43), account(9n, 1n)]);
      expect(await backend.readAt([], 3n)).toEqual([]);
      await expect(backend.readAt([a], 4n)).rejects.toBeInstanceOf(HeightNotCommittedError);
      // A neighbouring key (same prefix bytes, other slot) is not confused with the one asked.
      expect(await backend.readAt([storageKey(addr(2), word(0)), storageKey(addr(2), word(2))], 3n)).toEqual([null, null]);
    });

    it('prunes what no read at or above the oldest readable height can see, and refuses reads below it', async () => {
      const a = accountKey(addr(1));
      const s = storageKey(addr(2), word(1));
      const t = storageKey(addr(2), word(2));
      const c = codeKey(Buffer.alloc(32, 5));
      const blocks: StateWrite[][] = [
        [{ key: a, value: account(1n) }, { key: s, value: word(1) }, { key: c, value: Buffer.alloc(100, 0x60) }],
        [{ key: s, value: word(2) }, { key: t, value: word(7) }],
        [{ key: a, value: null }],
        [{ key: a, value: account(3n) }, { key: s, value: word(3) }],
        [{ key: t, value: null }],
        [{ key: s, value: word(5) }],
        [],
      ];
      for (const [h, writes] of blocks.entries()) await backend.commit(recordOf({ height: BigInt(h), writes }));
      const keys = [a, s, t, c];
      const before = await Promise.all(blocks.map((_, h) => backend.readAt(keys, BigInt(h))));
      const reader = harness.sharedStore ? await other() : null; // a replica that learns of the prune from the store
      expect(await backend.oldestReadable()).toBe(0n);
      const stored = await harness.stateVersions(backend);
      expect(stored).toBe(10);

      expect(await backend.prune(3n, 100)).toEqual({ oldestReadable: 3n, blocks: 3 });
      expect(await backend.oldestReadable()).toBe(3n);
      for (const h of [3, 4, 5, 6]) expect(await backend.readAt(keys, BigInt(h))).toEqual(before[h]);
      for (const h of [0n, 1n, 2n]) await expect(backend.readAt([s], h)).rejects.toBeInstanceOf(HeightPrunedError);
      if (reader !== null) await expect(reader.readAt([t], 2n)).rejects.toThrow(/height 2 is pruned/);
      // Gone: a@0 and s@0 (superseded at 1–3), s@1, the tombstone a@2 (nothing older left).
      expect(await harness.stateVersions(backend)).toBe(stored - 4);

      // Bounded by maxBlocks and by the committed height; nothing to do is not an error.
      expect(await backend.prune(100n, 1)).toEqual({ oldestReadable: 4n, blocks: 1 });
      expect(await backend.prune(100n, 100)).toEqual({ oldestReadable: 6n, blocks: 2 });
      expect(await backend.prune(100n, 100)).toEqual({ oldestReadable: 6n, blocks: 0 });
      expect(await backend.prune(2n, 100)).toEqual({ oldestReadable: 6n, blocks: 0 });
      expect(await backend.readAt(keys, 6n)).toEqual(before[6]);
      // Left: a@3, s@5, c@0 (t's tombstone at 4 went with t@1).
      expect(await harness.stateVersions(backend)).toBe(3);

      await backend.commit(recordOf({ height: 7n, writes: [{ key: a, value: account(8n) }] }));
      await backend.close();
      backend = await harness.reopen();
      expect(await backend.oldestReadable()).toBe(6n);
      await expect(backend.readAt([a], 5n)).rejects.toBeInstanceOf(HeightPrunedError);
      expect(await backend.readAt(keys, 6n)).toEqual(before[6]);
      expect(await backend.readAt(keys, 7n)).toEqual([account(8n), word(5), null, Buffer.alloc(100, 0x60)]);
    });

    it('lists every state key once, however many versions it has, in batches', async () => {
      const a = accountKey(addr(1));
      const s1 = storageKey(addr(2), word(1));
      const s2 = storageKey(addr(2), word(2));
      const c = codeKey(Buffer.alloc(32, 5));
      await backend.commit(recordOf({ height: 0n, writes: [{ key: a, value: account(1n) }] }));
      await backend.commit(recordOf({ height: 1n, writes: [{ key: s1, value: word(1) }, { key: c, value: Buffer.alloc(40, 0x60) }] }));
      await backend.commit(recordOf({ height: 2n, writes: [{ key: a, value: account(2n) }, { key: s1, value: null }, { key: s2, value: word(2) }] }));
      await backend.commit(recordOf({ height: 3n, writes: [{ key: a, value: account(3n) }, { key: s2, value: word(3) }] }));
      if (backend.stateKeys === undefined) return;
      const listed: StateKey[] = [];
      for await (const batch of backend.stateKeys(2)) {
        expect(batch.length).toBeLessThanOrEqual(2);
        listed.push(...batch);
      }
      // The deleted s1 may be listed (its versions are still stored); each key at most once.
      expect(new Set(listed).size).toBe(listed.length);
      expect(listed.filter((k) => k !== s1).sort()).toEqual([a, s2, c].sort());
    });

    it('keeps what was committed, not the buffers the commit was given', async () => {
      const a = accountKey(addr(1));
      const value = account(7n);
      const expected = Buffer.from(value);
      await backend.commit(recordOf({ height: 0n }));
      await backend.commit(recordOf({ height: 1n, writes: [{ key: a, value }] }));
      value.fill(0); // a decoded commit's values are views into its message: what is stored must not depend on them
      expect(await backend.readAt([a], 1n)).toEqual([expected]);
    });

    it('stores blocks, the hash index, transactions with receipts, rejections and logs', async () => {
      const tokenA = addr(0xa);
      const [t1, t2, t3] = [txOf(1), txOf(2), txOf(3)];
      await backend.commit(recordOf({ height: 0n }));
      const b1 = recordOf({ height: 1n, txs: [{ tx: t1, logs: [transfer(tokenA, 1, 2), transfer(tokenA, 2, 3)] }, { tx: t2 }] });
      await backend.commit(b1);
      await backend.commit(recordOf({ height: 2n, txs: [{ tx: t3, logs: [transfer(addr(0xb), 3, 1)] }] }));
      const block = await backend.getBlock(1n);
      expect(block?.header).toEqual(b1.header);
      expect(block?.txs).toEqual([t1, t2]);
      expect((await backend.getBlock(0n))?.txs).toEqual([]);
      expect(await backend.getBlock(3n)).toBeNull();
      expect(await backend.getBlockNumberByHash(b1.header.hash)).toBe(1n);
      expect(await backend.getBlockNumberByHash(Buffer.alloc(32, 1))).toBeNull();
      const records = await backend.getTxRecords([t2.hash, Buffer.alloc(32, 7), t3.hash]);
      expect(records[0]).toEqual({ kind: 'included', tx: t2, receipt: b1.receipts[1], blockNumber: 1n, blockHash: b1.header.hash });
      expect(records[1]).toBeNull();
      expect(records[2]?.kind === 'included' && records[2].blockNumber).toBe(2n);
      const all = await backend.getLogs({ fromBlock: 0n, toBlock: 2n, addresses: [], topics: [], maxResults: 100 });
      expect(all.map((l) => [l.blockNumber, l.txIndex, l.logIndex])).toEqual([[1n, 0, 0], [1n, 0, 1], [2n, 0, 0]]);
      expect(all[0]!.txHash).toEqual(t1.hash);
      expect(all[0]!.blockHash).toEqual(b1.header.hash);
      const byAddress = await backend.getLogs({ fromBlock: 0n, toBlock: 2n, addresses: [tokenA], topics: [], maxResults: 100 });
      expect(byAddress.length).toBe(2);
      const byTopic = await backend.getLogs({ fromBlock: 0n, toBlock: 9n, addresses: [], topics: [[], [Buffer.concat([Buffer.alloc(12), addr(3)])]], maxResults: 100 });
      expect(byTopic.map((l) => l.blockNumber)).toEqual([2n]);
      expect((await backend.getLogs({ fromBlock: 2n, toBlock: 2n, addresses: [], topics: [], maxResults: 100 })).length).toBe(1);
      expect((await backend.getLogs({ fromBlock: 0n, toBlock: 2n, addresses: [], topics: [], maxResults: 2 })).length).toBe(2);
    });

    it('never lets a rejection shadow a receipt, and reports the rejections it stored', async () => {
      const [t1, t2] = [txOf(1), txOf(2)];
      const rejection = (tx: Tx, height: bigint): Rejection => ({ txHash: tx.hash, code: -32000, reason: 'nonce too low', height });
      await backend.commit(recordOf({ height: 0n }));
      const r1 = await backend.commit(recordOf({ height: 1n, txs: [{ tx: t1 }], rejections: [rejection(t1, 1n), rejection(t2, 1n)] }));
      expect(r1.rejectionsStored.map((r) => r.txHash)).toEqual([t2.hash]);
      const r2 = await backend.commit(recordOf({ height: 2n, rejections: [rejection(t1, 2n)] }));
      expect(r2.rejectionsStored).toEqual([]);
      const [one, two] = await backend.getTxRecords([t1.hash, t2.hash]);
      expect(one?.kind).toBe('included');
      expect(two).toEqual({ kind: 'rejected', rejection: rejection(t2, 1n) });
      await backend.commit(recordOf({ height: 3n, txs: [{ tx: t2 }] }));
      expect((await backend.getTxRecords([t2.hash]))[0]?.kind).toBe('included');
    });

    it('keeps a large block (thousands of writes, a 150 kB transaction) whole', async () => {
      await backend.commit(recordOf({ height: 0n }));
      const writes: StateWrite[] = Array.from({ length: 3000 }, (_, i) => ({ key: storageKey(addr(7), word(i)), value: word(i + 1) }));
      const big = txOf(9, 150_000);
      const logs = Array.from({ length: 300 }, (_, i) => ({ address: addr(1), topics: [word(i)], data: Buffer.alloc(300, 1) }));
      const rec = recordOf({ height: 1n, writes, txs: [{ tx: big, logs }, { tx: txOf(10) }] });
      await backend.commit(rec);
      const values = await backend.readAt(writes.map((w) => w.key), 1n);
      expect(values.every((v, i) => v !== null && v.equals(word(i + 1)))).toBe(true);
      expect((await backend.readAt(writes.slice(0, 10).map((w) => w.key), 0n)).every((v) => v === null)).toBe(true);
      expect((await backend.getBlock(1n))?.txs[0]).toEqual(big);
      const [record] = await backend.getTxRecords([big.hash]);
      expect(record?.kind === 'included' && record.tx.raw.length).toBe(big.raw.length);
      expect((await backend.getLogs({ fromBlock: 1n, toBlock: 1n, addresses: [], topics: [], maxResults: 1000 })).length).toBe(300);
      expect((await backend.meta())?.height).toBe(1n);
    });

    it('keeps everything across close and reopen', async () => {
      const a = accountKey(addr(1));
      await backend.commit(recordOf({ height: 0n, writes: [{ key: a, value: account(1n) }] }));
      const b1 = recordOf({ height: 1n, writes: [{ key: a, value: account(2n) }], txs: [{ tx: txOf(1) }] });
      await backend.commit(b1);
      await backend.close();
      backend = await harness.reopen();
      const meta = await backend.meta();
      expect(meta?.height).toBe(1n);
      expect(meta?.stateRoot).toEqual(b1.header.stateRoot);
      expect(meta?.lastTxStreamSeq).toBe(10n);
      expect(await backend.readAt([a], 0n)).toEqual([account(1n)]);
      expect(await backend.readAt([a], 1n)).toEqual([account(2n)]);
      expect((await backend.getTxRecords([txOf(1).hash]))[0]?.kind).toBe('included');
      await expect(backend.commit(recordOf({ height: 1n, salt: 3 }))).rejects.toBeInstanceOf(HeightFenceError);
      await backend.commit(recordOf({ height: 2n }));
    });

    it.runIf(harness.sharedStore)('replicas on one store: readers follow the writer, a second writer is refused', async () => {
      const a = accountKey(addr(1));
      await backend.commit(recordOf({ height: 0n, writes: [{ key: a, value: account(1n) }] }));
      const reader = await other();
      expect(await reader.readAt([a], 0n)).toEqual([account(1n)]);
      await backend.commit(recordOf({ height: 1n, writes: [{ key: a, value: account(2n) }] }));
      expect(await reader.readAt([a], 1n)).toEqual([account(2n)]);
      expect(await reader.readAt([a], 0n)).toEqual([account(1n)]);
      // The reader commits block 2 behind the first writer's back: the first one's cache must not lie.
      await reader.commit(recordOf({ height: 2n, writes: [{ key: a, value: account(3n) }] }));
      expect(await backend.readAt([a], 2n)).toEqual([account(3n)]);
      // Two writers race for block 3: exactly one wins, the other is refused by the fence.
      const results = await Promise.allSettled([
        backend.commit(recordOf({ height: 3n, salt: 1, writes: [{ key: a, value: account(4n) }] })),
        reader.commit(recordOf({ height: 3n, salt: 2, writes: [{ key: a, value: account(5n) }] })),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
      const refused = results.find((r) => r.status === 'rejected');
      expect(String(refused?.status === 'rejected' ? refused.reason : '')).toMatch(/height fence|superseded/);
      const winner = results[0]!.status === 'fulfilled' ? 4n : 5n;
      expect(await reader.readAt([a], 3n)).toEqual([account(winner)]);
      expect(await backend.readAt([a], 3n)).toEqual([account(winner)]);
    });

    it('keeps the state service\'s history window: the last retainBlocks heights, pruned as it commits', async () => {
      const log = pino({ level: 'silent' });
      const limits = { maxReadKeys: 1000, maxLogsRange: 100, maxLogs: 100 };
      const service = await StateService.open({ backend, genesis, limits, log, retainBlocks: 2 });
      const key = storageKey(addr(3), word(1));
      for (let h = 1n; h <= 6n; h++) {
        const res = await service.commitBlock({
          env: envOf(h), orderedDigest: Buffer.from(keccak_256(Buffer.from(`w${h}`))), txs: [], receipts: [], rejections: [],
          writes: [{ key: keyToBytes(key), value: word(Number(h)), absent: false }], lastTxStreamSeq: h,
        });
        expect(res.error).toBe('');
      }
      await service.commitBlock({ env: envOf(6n), orderedDigest: Buffer.from(keccak_256(Buffer.from('w6'))), txs: [], receipts: [], rejections: [], writes: [], lastTxStreamSeq: 6n }); // waits for the prune queued after block 6
      const read = (height: bigint) => service.read({ height, keys: [keyToBytes(key)], latest: false });
      expect(await backend.oldestReadable()).toBe(4n);
      expect(service.oldestReadableHeight).toBe(4n);
      expect((await read(4n)).entries[0]!.value).toEqual(word(4));
      expect((await read(6n)).entries[0]!.value).toEqual(word(6));
      expect((await read(3n)).error).toMatch(/height 3 is pruned: state is kept from height 4 on \(the last 2 blocks are kept, LANES_STATE_RETAIN_BLOCKS\)/);
      await service.close();
      backend = { close: async () => undefined } as StateBackend; // closed through the service
    });

    it('runs the state service: genesis, commits, retries, reopen with the same roots', async () => {
      const log = pino({ level: 'silent' });
      const limits = { maxReadKeys: 1000, maxLogsRange: 100, maxLogs: 100 };
      const service = await StateService.open({ backend, genesis, limits, log });
      const req = (height: bigint, keys: StateKey[]) => ({
        env: envOf(height), orderedDigest: Buffer.from(keccak_256(Buffer.from(`d${height}`))), txs: [], receipts: [], rejections: [],
        writes: keys.map((k, i) => ({ key: keyToBytes(k), value: word(i + Number(height)), absent: false })), lastTxStreamSeq: height,
      });
      const keys = Array.from({ length: 50 }, (_, i) => storageKey(addr(3), word(i)));
      const r1 = await service.commitBlock(req(1n, keys));
      expect(r1.error).toBe('');
      const r2 = await service.commitBlock(req(2n, keys.slice(0, 10)));
      expect((await service.commitBlock(req(1n, keys))).alreadyCommitted).toBe(true);
      await service.close();
      backend = await harness.reopen();
      const reopened = await StateService.open({ backend, genesis, limits, log });
      expect(reopened.height).toBe(2n);
      expect(reopened.headHeader.stateRoot).toEqual(r2.header!.stateRoot);
      const read = await reopened.read({ height: 1n, keys: [keyToBytes(keys[0]!)], latest: false });
      expect(read.entries[0]!.value).toEqual(word(1));
      backend = { close: () => reopened.close() } as StateBackend; // closed through the service by afterEach
    });
  });
}
