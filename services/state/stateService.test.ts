import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockEnv, CommitRequest } from '../../gen/lanes/v1/bus.js';
import type { Log, Rejection, StateEntry, Tx } from '../../gen/lanes/v1/types.js';
import { buildReceipts, bloomMayContain, type ReceiptInput } from '../../lib/chain/block.js';
import { devGenesis, genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import {
  EMPTY_CODE_HASH, accountKey, encodeAccount, keyFromBytes, keyToBytes, storageKey, type StateKey,
} from '../../lib/state/keys.js';
import { KeyFilter, MIN_FILTER_KEYS } from '../../lib/state/keyFilter.js';
import { StateRootAccumulator } from '../../lib/state/root.js';
import { LmdbStateBackend } from './lmdbBackend.js';
import { StateService, type StateServiceLimits, type StateServiceOptions } from './stateService.js';

const log = pino({ level: 'silent' });
const limits: StateServiceLimits = { maxReadKeys: 1000, maxLogsRange: 100, maxLogs: 50 };
const genesis: Genesis = devGenesis();

const addr = (n: number): Buffer => Buffer.alloc(20, n);
const word = (n: number): Buffer => { const b = Buffer.alloc(32); b.writeUInt32BE(n, 28); return b; };
const txOf = (n: number): Tx => {
  const raw = Buffer.from(`tx-${n}`);
  return { raw, hash: Buffer.from(keccak_256(raw)), sender: addr(200) };
};
const account = (balance: bigint, nonce = 0n): Buffer => encodeAccount({ nonce, balance, codeHash: EMPTY_CODE_HASH });
const put = (key: StateKey, value: Buffer): StateEntry => ({ key: keyToBytes(key), value, absent: false });
const del = (key: StateKey): StateEntry => ({ key: keyToBytes(key), value: Buffer.alloc(0), absent: true });
const transferTopic = Buffer.from(keccak_256(Buffer.from('Transfer(address,address,uint256)')));
const topicAddr = (n: number): Buffer => Buffer.concat([Buffer.alloc(12), addr(n)]);

function env(number: bigint): BlockEnv {
  return {
    number, timestamp: genesis.timestamp + number, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
    baseFeePerGas: Buffer.from([0x3b, 0x9a, 0xca, 0x00]), prevRandao: Buffer.alloc(32, Number(number % 256n)), chainId: genesis.chainId,
  };
}

interface BlockSpec {
  height: bigint;
  txs?: { tx: Tx; logs?: Log[]; gasUsed?: bigint }[];
  writes?: StateEntry[];
  rejections?: Rejection[];
  digestSalt?: number;
}

function commitRequest(spec: BlockSpec): CommitRequest {
  const txs = spec.txs ?? [];
  const inputs: ReceiptInput[] = txs.map(({ tx, logs, gasUsed }) => ({
    txHash: tx.hash, sender: tx.sender, to: addr(9), contractAddress: null, gasUsed: gasUsed ?? 21_000n,
    success: true, logs: logs ?? [], txType: 2, effectiveGasPrice: 1_000_000_000n,
  }));
  return {
    env: env(spec.height),
    orderedDigest: Buffer.from(keccak_256(Buffer.from(`ordered-${spec.height}-${spec.digestSalt ?? 0}`))),
    txs: txs.map((t) => t.tx),
    receipts: buildReceipts(inputs),
    writes: spec.writes ?? [],
    rejections: spec.rejections ?? [],
    lastTxStreamSeq: spec.height * 10n,
  };
}

/** A from-scratch root over a full state map (the reference the incremental root must match). */
function rootOf(state: Map<StateKey, Buffer>): Buffer {
  const acc = new StateRootAccumulator();
  for (const [key, value] of [...state.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) acc.update(key, null, value);
  return acc.root();
}

describe('StateService on lmdb', () => {
  let dir: string;
  let service: StateService;

  const open = async (): Promise<StateService> => StateService.open({
    backend: new LmdbStateBackend({ path: dir, noSync: true }), genesis, limits, log,
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lanes-state-'));
    service = await open();
  });

  afterEach(async () => {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  });

  const filterOf = (s: StateService): KeyFilter => {
    const res = s.keyFilterResponse();
    expect(res.error).toBe('');
    return KeyFilter.from({ height: res.height, added: Number(res.added), capacity: Number(res.capacity), hashes: res.hashes, bits: res.bits });
  };

  it('writes genesis as block 0 with the root of the genesis entries', async () => {
    const entries = genesisStateEntries(genesis);
    expect(service.height).toBe(0n);
    expect(service.headHeader.stateRoot).toEqual(rootOf(entries));
    expect(service.headHeader.number).toBe(0n);
    const head = service.head();
    expect(head.height).toBe(0n);
    expect(head.header?.hash).toEqual(service.headHeader.hash);
    const firstKey = [...entries.keys()][0]!;
    const read = await service.read({ height: 0n, keys: [keyToBytes(firstKey)] , latest: true });
    expect(read.error).toBe('');
    expect(read.entries[0]!.value).toEqual(entries.get(firstKey));
  });

  it('fences commits: retry is a no-op, gaps and conflicting digests are errors', async () => {
    const req1 = commitRequest({ height: 1n, writes: [put(accountKey(addr(1)), account(5n))] });
    const first = await service.commitBlock(req1);
    expect(first.error).toBe('');
    expect(first.alreadyCommitted).toBe(false);
    const retry = await service.commitBlock(req1);
    expect(retry.error).toBe('');
    expect(retry.alreadyCommitted).toBe(true);
    expect(retry.header?.hash).toEqual(first.header?.hash);
    const conflicting = await service.commitBlock(commitRequest({ height: 1n, digestSalt: 7 }));
    expect(conflicting.error).toMatch(/already committed with ordered digest/);
    const gap = await service.commitBlock(commitRequest({ height: 3n }));
    expect(gap.error).toMatch(/gap/);
    expect(service.height).toBe(1n);
    // Retrying a block committed before the latest still answers its own header.
    expect((await service.commitBlock(commitRequest({ height: 2n }))).error).toBe('');
    const old = await service.commitBlock(req1);
    expect(old.alreadyCommitted).toBe(true);
    expect(old.header?.number).toBe(1n);
  });

  it('rejects malformed commits without writing', async () => {
    const twice = commitRequest({ height: 1n, writes: [put(accountKey(addr(1)), account(1n)), put(accountKey(addr(1)), account(2n))] });
    expect((await service.commitBlock(twice)).error).toMatch(/written twice/);
    const badValue = commitRequest({ height: 1n, writes: [put(accountKey(addr(1)), Buffer.alloc(5))] });
    expect((await service.commitBlock(badValue)).error).toMatch(/72 bytes/);
    const badReceipts = commitRequest({ height: 1n, txs: [{ tx: txOf(1) }] });
    badReceipts.receipts = [];
    expect((await service.commitBlock(badReceipts)).error).toMatch(/receipts/);
    const wrongChain = commitRequest({ height: 1n });
    wrongChain.env = { ...wrongChain.env!, chainId: 1n };
    expect((await service.commitBlock(wrongChain)).error).toMatch(/chain id/);
    expect(service.height).toBe(0n);
  });

  it('reads at old and new heights, deletions read as absent, and the root matches a from-scratch one', async () => {
    const state = genesisStateEntries(genesis);
    const a = accountKey(addr(1));
    const s = storageKey(addr(2), word(1));
    const devKey = [...state.keys()][0]!;
    const apply = (writes: StateEntry[]): void => {
      for (const w of writes) {
        const k = keyFromBytes(w.key);
        if (w.absent) state.delete(k); else state.set(k, w.value);
      }
    };
    const w1 = [put(a, account(100n)), put(s, word(42)), del(devKey)];
    const r1 = await service.commitBlock(commitRequest({ height: 1n, writes: w1 }));
    apply(w1);
    expect(r1.header?.stateRoot).toEqual(rootOf(state));
    const w2 = [put(a, account(50n, 1n)), del(s), put(storageKey(addr(2), word(2)), word(7))];
    const r2 = await service.commitBlock(commitRequest({ height: 2n, writes: w2 }));
    apply(w2);
    expect(r2.header?.stateRoot).toEqual(rootOf(state));
    expect(r2.header?.parentHash).toEqual(r1.header?.hash);

    const keys = [a, s, devKey].map(keyToBytes);
    const at0 = await service.read({ height: 0n, keys, latest: true });
    expect(at0.height).toBe(2n);
    expect(at0.entries.map((e) => e.absent)).toEqual([false, true, true]);
    expect(at0.entries[0]!.value).toEqual(account(50n, 1n));
    const at1 = await service.read({ height: 1n, keys, latest: false });
    const genesisRead = await service.read({ height: 0n, keys, latest: false });
    expect(genesisRead.height).toBe(0n);
    expect(genesisRead.entries[0]!.absent).toBe(true);
    expect(at1.entries[0]!.value).toEqual(account(100n));
    expect(at1.entries[1]!.value).toEqual(word(42));
    expect(at1.entries[2]!.absent).toBe(true);
    expect((await service.read({ height: 4n, keys, latest: false })).error).toMatch(/height 4 is not committed yet/);
    expect((await service.read({ height: 0n, keys: [Buffer.alloc(5, 1)] , latest: true })).error).toMatch(/key 0/);
    const tooMany = Array.from({ length: limits.maxReadKeys + 1 }, () => keyToBytes(a));
    expect((await service.read({ height: 0n, keys: tooMany , latest: true })).error).toMatch(/too many keys/);
  });

  it('answers a read at the height being committed once it commits (a pipelined scheduler\'s cache that started over)', async () => {
    const a = accountKey(addr(1));
    await service.commitBlock(commitRequest({ height: 1n, writes: [put(a, account(1n))] }));
    const early = service.read({ height: 2n, keys: [keyToBytes(a)], latest: false });
    const farAhead = await service.read({ height: 3n, keys: [keyToBytes(a)], latest: false });
    expect(farAhead.error).toMatch(/height 3 is not committed yet \(committed: 1\)/);
    await service.commitBlock(commitRequest({ height: 2n, writes: [put(a, account(2n))] }));
    const answered = await early;
    expect(answered.error).toBe('');
    expect(answered.height).toBe(2n);
    expect(answered.entries[0]!.value).toEqual(account(2n));
  });

  it('stores zero storage values and empty accounts as absent (canonical writes)', async () => {
    const s = storageKey(addr(3), word(1));
    await service.commitBlock(commitRequest({ height: 1n, writes: [put(s, word(5))] }));
    const before = service.headHeader.stateRoot;
    await service.commitBlock(commitRequest({ height: 2n, writes: [put(s, Buffer.alloc(32)), put(accountKey(addr(4)), account(0n))] }));
    const read = await service.read({ height: 0n, keys: [keyToBytes(s), keyToBytes(accountKey(addr(4)))] , latest: true });
    expect(read.entries.map((e) => e.absent)).toEqual([true, true]);
    expect(service.headHeader.stateRoot).not.toEqual(before);
    const state = genesisStateEntries(genesis);
    expect(service.headHeader.stateRoot).toEqual(rootOf(state));
  });

  it('answers block, tx and logs queries, with Ethereum topic semantics', async () => {
    const t1 = txOf(1);
    const t2 = txOf(2);
    const t3 = txOf(3);
    const tokenA = addr(0xa);
    const tokenB = addr(0xb);
    const transfer = (token: Buffer, from: number, to: number): Log => ({ address: token, topics: [transferTopic, topicAddr(from), topicAddr(to)], data: word(1) });
    const r1 = await service.commitBlock(commitRequest({
      height: 1n, txs: [{ tx: t1, logs: [transfer(tokenA, 1, 2), transfer(tokenA, 2, 3)] }, { tx: t2, logs: [] }],
    }));
    await service.commitBlock(commitRequest({ height: 2n }));
    const r3 = await service.commitBlock(commitRequest({ height: 3n, txs: [{ tx: t3, logs: [transfer(tokenB, 3, 1), { address: tokenB, topics: [], data: Buffer.alloc(0) }] }] }));
    expect(bloomMayContain(r1.header!.logsBloom, tokenA)).toBe(true);

    const byNumber = await service.block({ number: 1n, hash: Buffer.alloc(0), latest: false });
    expect(byNumber.found).toBe(true);
    expect(byNumber.txs.map((t) => t.hash)).toEqual([t1.hash, t2.hash]);
    const byHash = await service.block({ number: 0n, hash: r3.header!.hash, latest: false });
    expect(byHash.header?.number).toBe(3n);
    expect((await service.block({ number: 0n, hash: Buffer.alloc(0), latest: true })).header?.number).toBe(3n);
    expect((await service.block({ number: 9n, hash: Buffer.alloc(0), latest: false })).found).toBe(false);
    expect((await service.block({ number: 0n, hash: Buffer.alloc(32, 1), latest: false })).found).toBe(false);

    const lookups = await service.txLookup({ hashes: [t2.hash, Buffer.alloc(32, 7)] });
    expect(lookups.results[0]!.found).toBe(true);
    expect(lookups.results[0]!.blockNumber).toBe(1n);
    expect(lookups.results[0]!.blockHash).toEqual(r1.header!.hash);
    expect(lookups.results[0]!.receipt?.txIndex).toBe(1);
    expect(lookups.results[0]!.receipt?.cumulativeGasUsed).toBe(42_000n);
    expect(lookups.results[1]!.found).toBe(false);

    const all = await service.logs({ fromBlock: 0n, toBlock: 3n, addresses: [], topics: [], blockHash: Buffer.alloc(0), limit: 0 });
    expect(all.error).toBe('');
    expect(all.logs.map((l) => [l.blockNumber, l.txIndex, l.logIndex])).toEqual([[1n, 0, 0], [1n, 0, 1], [3n, 0, 0], [3n, 0, 1]]);
    const q = (addresses: Buffer[], topics: Buffer[][]) =>
      service.logs({ fromBlock: 0n, toBlock: 100n, addresses, topics: topics.map((anyOf) => ({ anyOf })), blockHash: Buffer.alloc(0), limit: 0 });
    expect((await q([tokenB], [])).logs.length).toBe(2);
    expect((await q([], [[transferTopic]])).logs.length).toBe(3);
    expect((await q([], [[], [topicAddr(2)]])).logs.map((l) => l.logIndex)).toEqual([1]);
    expect((await q([], [[], [], [topicAddr(1), topicAddr(2)]])).logs.map((l) => [l.blockNumber, l.logIndex])).toEqual([[1n, 0], [3n, 0]]);
    // More positions than a log has topics never match, even wildcards.
    expect((await q([tokenB], [[], [], [], []])).logs.length).toBe(0);
    expect((await q([tokenA, tokenB], [[transferTopic], [topicAddr(3)]])).logs.map((l) => l.blockNumber)).toEqual([3n]);
    const byBlockHash = await service.logs({ fromBlock: 0n, toBlock: 0n, addresses: [], topics: [], blockHash: r3.header!.hash, limit: 0 });
    expect(byBlockHash.logs.length).toBe(2);
    expect(byBlockHash.logs[0]!.blockHash).toEqual(r3.header!.hash);
    expect((await service.logs({ fromBlock: 0n, toBlock: 0n, addresses: [], topics: [], blockHash: Buffer.alloc(32, 3), limit: 0 })).error).toMatch(/unknown block hash/);
    // limit within maxLogs+1 truncates; without a limit, more than maxLogs is an error.
    const truncated = await service.logs({ fromBlock: 0n, toBlock: 3n, addresses: [], topics: [], blockHash: Buffer.alloc(0), limit: 3 });
    expect(truncated.logs.length).toBe(3);
    expect(truncated.error).toBe('');
    expect((await service.logs({ fromBlock: 0n, toBlock: 1000n, addresses: [], topics: [], blockHash: Buffer.alloc(0), limit: 0 })).logs.length).toBe(4);
    expect((await service.logs({ fromBlock: 3n, toBlock: 2n, addresses: [], topics: [], blockHash: Buffer.alloc(0), limit: 0 })).logs).toEqual([]);
  });

  it('bounds logs queries by range and result count', async () => {
    const many: Log[] = Array.from({ length: limits.maxLogs + 1 }, (_, i) => ({ address: addr(1), topics: [word(i)], data: Buffer.alloc(0) }));
    await service.commitBlock(commitRequest({ height: 1n, txs: [{ tx: txOf(1), logs: many }] }));
    for (let h = 2n; h <= BigInt(limits.maxLogsRange) + 1n; h++) await service.commitBlock(commitRequest({ height: h }));
    const base = { addresses: [], topics: [], blockHash: Buffer.alloc(0) };
    expect((await service.logs({ ...base, fromBlock: 1n, toBlock: BigInt(limits.maxLogsRange), limit: 0 })).error).toBe(`query exceeds the limit of ${limits.maxLogs} logs; narrow the block range`);
    expect((await service.logs({ ...base, fromBlock: 0n, toBlock: BigInt(limits.maxLogsRange) + 1n, limit: 0 })).error).toMatch(/exceeds the limit of 100 blocks/);
    expect((await service.logs({ ...base, fromBlock: 1n, toBlock: 1n, limit: limits.maxLogs + 1 })).logs.length).toBe(limits.maxLogs + 1);
    expect((await service.logs({ ...base, fromBlock: 1n, toBlock: 1n, addresses: [Buffer.alloc(3)], limit: 0 })).error).toMatch(/20 bytes/);
  });

  it('never lets a rejection shadow a receipt', async () => {
    const t1 = txOf(1);
    const t2 = txOf(2);
    const rejection = (tx: Tx): Rejection => ({ txHash: tx.hash, code: -32000, reason: 'nonce too low', height: 0n });
    const committed: Rejection[][] = [];
    await service.close();
    service = await StateService.open({
      backend: new LmdbStateBackend({ path: dir, noSync: true }), genesis, limits, log,
      onCommitted: (event) => committed.push(event.rejections),
    });
    // Same block: t1 included, and a duplicate of t1 rejected.
    await service.commitBlock(commitRequest({ height: 1n, txs: [{ tx: t1 }], rejections: [rejection(t1), rejection(t2)] }));
    // Later block: t1 submitted again and rejected.
    await service.commitBlock(commitRequest({ height: 2n, rejections: [rejection(t1)] }));
    const res = await service.txLookup({ hashes: [t1.hash, t2.hash] });
    expect(res.results[0]!.found).toBe(true);
    expect(res.results[0]!.rejection).toBeUndefined();
    expect(res.results[1]!.found).toBe(false);
    expect(res.results[1]!.rejection?.reason).toBe('nonce too low');
    expect(res.results[1]!.rejection?.height).toBe(1n);
    expect(committed.map((rs) => rs.map((r) => r.txHash))).toEqual([[t2.hash], []]);
    // A rejected tx that is included later gets its receipt.
    await service.commitBlock(commitRequest({ height: 3n, txs: [{ tx: t2 }] }));
    expect((await service.txLookup({ hashes: [t2.hash] })).results[0]!.found).toBe(true);
  });

  it('keeps everything across close and reopen', async () => {
    const a = accountKey(addr(1));
    await service.commitBlock(commitRequest({ height: 1n, txs: [{ tx: txOf(1) }], writes: [put(a, account(7n))] }));
    const r2 = await service.commitBlock(commitRequest({ height: 2n, writes: [put(a, account(8n))] }));
    await service.close();
    service = await open();
    expect(service.height).toBe(2n);
    expect(service.headHeader.hash).toEqual(r2.header!.hash);
    expect(service.head().lastTxStreamSeq).toBe(20n);
    expect((await service.read({ height: 1n, keys: [keyToBytes(a)] , latest: false })).entries[0]!.value).toEqual(account(7n));
    expect((await service.txLookup({ hashes: [txOf(1).hash] })).results[0]!.found).toBe(true);
    // The accumulator resumed from the stored lattice: the next root is still a from-scratch root.
    const r3 = await service.commitBlock(commitRequest({ height: 3n, writes: [put(a, account(9n))] }));
    const state = genesisStateEntries(genesis);
    state.set(a, account(9n));
    expect(r3.header!.stateRoot).toEqual(rootOf(state));
    expect((await service.commitBlock(commitRequest({ height: 2n, writes: [put(a, account(8n))] }))).alreadyCommitted).toBe(true);
    expect((await service.commitBlock(commitRequest({ height: 2n, digestSalt: 1 }))).error).toMatch(/already committed/);
  });

  it('gives the same headers with root threads, and with root threads that keep failing (hashed on the service thread)', async () => {
    const broken = path.join(dir, 'broken-root-worker.js');
    await writeFile(broken, 'process.exit(3);\n');
    const warnings: string[] = [];
    const warnLog = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line).msg); } });
    const variants: Array<Partial<StateServiceOptions>> = [
      { rootThreads: 2 }, { rootThreads: 1, rootWorkerFile: broken, log: warnLog },
      // Remembered entry digests, on the threads and on the service thread.
      { rootThreads: 2, rootDigests: 4_096 }, { rootDigests: 4_096 },
    ];
    const services = await Promise.all(variants.map(async (extra, i) => StateService.open({
      backend: new LmdbStateBackend({ path: path.join(dir, `variant-${i}`), noSync: true }), genesis, limits, log, ...extra,
    })));
    try {
      const state = genesisStateEntries(genesis);
      for (let h = 1n; h <= 3n; h++) {
        // 300 writes: past the threads' minimum; a third rewrite the block before's keys, some delete them.
        const writes: StateEntry[] = [];
        for (let i = 0; i < 300; i++) {
          const key = storageKey(addr(7), word(Number(h) * 200 + i));
          if (h > 1n && i % 10 === 0) {
            writes.push(del(key));
            state.delete(key);
          } else {
            writes.push(put(key, word(Number(h) * 1000 + i + 1)));
            state.set(key, word(Number(h) * 1000 + i + 1));
          }
        }
        const req = commitRequest({ height: h, txs: [{ tx: txOf(Number(h)) }], writes });
        const [plain, ...others] = await Promise.all([service, ...services].map((s) => s.commitBlock(req)));
        expect(plain!.error).toBe('');
        expect(plain!.header!.stateRoot).toEqual(rootOf(state));
        for (const other of others) expect(other.header).toEqual(plain!.header);
      }
      expect(services[0]!.rootStats).toEqual({ threadBlocks: 3, fallbackBlocks: 0 });
      // Blocks 2 and 3 rewrite or delete 100 keys of the block before each (block 2 had deleted 10
      // of block 3's, which have no old entry): every old entry was remembered.
      expect(services[2]!.rootDigestStats).toEqual({ hits: 190, misses: 0 });
      expect(services[3]!.rootDigestStats).toEqual({ hits: 190, misses: 0 });
      expect(service.rootDigestStats).toEqual({ hits: 0, misses: 0 });
      expect(services[1]!.rootStats).toEqual({ threadBlocks: 0, fallbackBlocks: 3 });
      expect(service.rootStats).toEqual({ threadBlocks: 0, fallbackBlocks: 0 });
      // Logged once, not per block.
      expect(warnings.filter((m) => /root threads failed/.test(m))).toHaveLength(1);
    } finally {
      await Promise.all(services.map((s) => s.close()));
    }
  });

  it('keeps a filter of every key ever written: built from the store at open, then from each commit', async () => {
    const genesisKeys = [...genesisStateEntries(genesis).keys()];
    const a = storageKey(addr(3), word(1));
    const b = storageKey(addr(3), word(2));
    const never = storageKey(addr(3), word(3));
    await service.keyFilterSettled();
    let filter = filterOf(service);
    expect(filter.height).toBe(0n);
    for (const k of genesisKeys) expect(filter.mayContain(k)).toBe(true);
    expect(filter.mayContain(a)).toBe(false);
    await service.commitBlock(commitRequest({ height: 1n, writes: [put(a, word(7))] }));
    await service.commitBlock(commitRequest({ height: 2n, writes: [put(b, word(8)), del(a)] }));
    filter = filterOf(service);
    expect(filter.height).toBe(2n);
    expect([a, b].map((k) => filter.mayContain(k))).toEqual([true, true]); // a deleted key stays in: it was written
    expect(filter.mayContain(never)).toBe(false);
    // Reopened, it is built from the store's keys (every version of a key counted once).
    await service.close();
    service = await open();
    await service.keyFilterSettled();
    filter = filterOf(service);
    expect(filter.height).toBe(2n);
    expect(filter.added).toBe(genesisKeys.length + 2);
    expect([a, b, never].map((k) => filter.mayContain(k))).toEqual([true, true, false]);
    // None when switched off.
    const off = await StateService.open({ backend: new LmdbStateBackend({ path: path.join(dir, 'off'), noSync: true }), genesis, limits, log, keyFilter: false });
    expect(off.keyFilterResponse().error).toMatch(/no key filter/);
    await off.close();
  });

  /** An lmdb backend whose key listing, while held, stops after each batch until released: a scan caught in the middle. */
  const pausableScan = (): { backend: LmdbStateBackend; hold: () => Promise<void>; release: () => void } => {
    const backend = new LmdbStateBackend({ path: dir, noSync: true });
    const list = backend.stateKeys.bind(backend);
    let gate: Promise<void> | null = null;
    let open = (): void => undefined;
    let scanning = (): void => undefined;
    let scanned = Promise.resolve();
    backend.stateKeys = async function* (batchKeys: number) {
      for await (const batch of list(batchKeys)) {
        yield batch;
        if (gate !== null) {
          scanning();
          await gate;
        }
      }
    };
    return {
      backend,
      /** Holds the next scan after its first batch; resolves when a scan is held. */
      hold: () => {
        gate = new Promise<void>((r) => { open = r; });
        scanned = new Promise<void>((r) => { scanning = r; });
        return scanned;
      },
      release: () => {
        gate = null;
        open();
      },
    };
  };

  it('builds the key filter in the background: commits go on during the scan and their keys are in it', async () => {
    const a = storageKey(addr(4), word(1));
    const b = storageKey(addr(4), word(2));
    await service.commitBlock(commitRequest({ height: 1n, writes: [put(a, word(1))] }));
    await service.close();
    const scan = pausableScan();
    const held = scan.hold();
    service = await StateService.open({ backend: scan.backend, genesis, limits, log });
    await held;
    // Serving and committing while the store's keys are listed.
    expect(service.keyFilterResponse()).toMatchObject({ error: 'no key filter: still building', building: true });
    expect((await service.commitBlock(commitRequest({ height: 2n, writes: [put(b, word(2))] }))).error).toBe('');
    expect((await service.read({ height: 2n, keys: [keyToBytes(b)], latest: false })).entries[0]!.value).toEqual(word(2));
    scan.release();
    await service.keyFilterSettled();
    const filter = filterOf(service);
    expect(filter.height).toBe(2n);
    expect([a, b, storageKey(addr(4), word(3))].map((k) => filter.mayContain(k))).toEqual([true, true, false]);
  });

  it('rebuilds a full key filter larger in the background, serving the full one until then', async () => {
    await service.close();
    const scan = pausableScan();
    service = await StateService.open({ backend: scan.backend, genesis, limits, log });
    await service.keyFilterSettled();
    expect(filterOf(service).capacity).toBe(MIN_FILTER_KEYS);
    // Past the smallest filter's capacity in four blocks; the fourth fills it and starts a rebuild.
    const keyOf = (i: number): StateKey => storageKey(addr(5), word(i));
    const perBlock = 25_500;
    const held = scan.hold();
    for (let h = 1; h <= 4; h++) {
      const writes = Array.from({ length: perBlock }, (_, j) => put(keyOf(h * perBlock + j), word(1)));
      expect((await service.commitBlock(commitRequest({ height: BigInt(h), writes }))).error).toBe('');
    }
    await held;
    const late = storageKey(addr(6), word(1));
    expect((await service.commitBlock(commitRequest({ height: 5n, writes: [put(late, word(1))] }))).error).toBe('');
    const full = filterOf(service);
    expect([full.capacity, full.height, full.full, full.mayContain(late)]).toEqual([MIN_FILTER_KEYS, 5n, true, true]);
    scan.release();
    await service.keyFilterSettled();
    const rebuilt = filterOf(service);
    expect(rebuilt.capacity).toBeGreaterThanOrEqual(2 * 4 * perBlock);
    expect([rebuilt.height, rebuilt.full]).toEqual([5n, false]);
    expect([keyOf(perBlock), keyOf(5 * perBlock - 1), late, storageKey(addr(6), word(2))].map((k) => rebuilt.mayContain(k))).toEqual([true, true, true, false]);
  }, 60_000);

  it('refuses to open a store created with another genesis', async () => {
    await service.close();
    const other: Genesis = { ...genesis, timestamp: genesis.timestamp + 1n };
    const backend = new LmdbStateBackend({ path: dir, noSync: true });
    await expect(StateService.open({ backend, genesis: other, limits, log })).rejects.toThrow(/differs from the configured genesis/);
    await backend.close();
    service = await open();
  });
});
