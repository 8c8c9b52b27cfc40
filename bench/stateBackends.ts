// State commit and read cost per transaction on each backend, in the same run: the embedded lmdb
// store, and FoundationDB when a cluster is reachable (FDB_CLUSTER_FILE, or ../shared/fdb started
// here; libfdb_c through LD_LIBRARY_PATH). The StateService drives the backend exactly as in the
// cluster: the commit includes the before-image read for the root and the LtHash update. Each tx
// of a block is shaped like an ERC-20 transfer's: its signed bytes, a receipt with one Transfer
// log and its bloom, and four state writes, so the stored block weighs what a cluster's does.
// Then as many blocks again, rewriting the first ones' keys (rewriteCommitUsPerTx: what a chain
// whose accounts recur pays, the old values now in the read cache), then as many that each
// rewrite the block before's keys (hotRewriteCommitUsPerTx: hot state, whose old entries' root
// digests are remembered, LANES_STATE_ROOT_DIGESTS), and the history window's
// cost: the first blocks pruned in the state service's steps (pruneUsPerTx: one older version
// removed per written key).
//
// Usage: npm run bench:state [-- --blocks 10 --txs 500 --backends lmdb,fdb --cache N --root-threads N --root-digests N --out results/state.json]
// (--cache: entries of the read cache, LANES_STATE_CACHE_ENTRIES, default the backends' own;
// --root-threads: LANES_STATE_ROOT_THREADS, default 0; --root-digests: LANES_STATE_ROOT_DIGESTS,
// default 32768 as in the services, 0 = none)
// The FDB figures from ../shared/fdb are those of an UNOPTIMISED (-O0) one-process server on
// loopback: they bound the client-side cost and the protocol's round trips, not FDB's speed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { freePort } from '../cli/cluster.js';
import type { CommitRequest } from '../gen/lanes/v1/bus.js';
import type { Receipt, Tx } from '../gen/lanes/v1/types.js';
import { BLOOM_BYTES, bloomAdd } from '../lib/chain/block.js';
import { devGenesis } from '../lib/chain/genesis.js';
import { keccak256 } from '../lib/crypto/keccak.js';
import { EMPTY_CODE_HASH, KEY_ACCOUNT, accountKey, encodeAccount, keyKind, keyToBytes, storageKey, type StateKey } from '../lib/state/keys.js';
import type { StateBackend } from '../services/state/backend.js';
import { LmdbStateBackend } from '../services/state/lmdbBackend.js';
import { PRUNE_BLOCKS_PER_STEP, StateService } from '../services/state/stateService.js';

interface BackendResult {
  backend: string;
  note: string;
  blocks: number;
  txsPerBlock: number;
  writesPerTx: number;
  commitUsPerTx: number;
  commitMsPerBlockP50: number;
  /**
   * µs per tx of committing as many blocks again that rewrite the first ones' keys (each key's
   * old value was written `blocks` blocks before): the usual case of a chain whose accounts recur.
   */
  rewriteCommitUsPerTx: number;
  /** µs per tx of as many blocks again that each rewrite the block before's keys: hot state. */
  hotRewriteCommitUsPerTx: number;
  /** Of those blocks' old entries, the share whose root digest was remembered (--root-digests). */
  hotRootDigestHitShare: number;
  /** Reads of each tx's keys at the head, one request per block, by a fresh backend (no cache). */
  coldReadUsPerTx: number;
  /** The same reads again on the same backend (cache, if any). */
  warmReadUsPerTx: number;
  readKeysPerTx: number;
  /**
   * The history window's cost: µs per tx of pruning blocks that rewrote every key of earlier ones
   * (one older version per written key to remove), in steps of PRUNE_BLOCKS_PER_STEP blocks as the
   * state service prunes.
   */
  pruneUsPerTx: number;
}

const genesis = devGenesis();
const log = pino({ level: 'silent' });
const limits = { maxReadKeys: 100_000, maxLogsRange: 100, maxLogs: 100 };
/** --root-threads: the state service's root hashing threads (LANES_STATE_ROOT_THREADS). */
let rootThreads = 0;
/** --root-digests: remembered root entry digests (LANES_STATE_ROOT_DIGESTS). */
let rootDigests = 0;
const WRITES_PER_TX = 4; // an ERC-20 transfer: sender account, two balance slots, coinbase share

function word(n: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32BE(n >>> 0, 28);
  return b;
}

function addressOf(n: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32BE(n >>> 0, 16);
  b[0] = 0xbe;
  return b;
}

/** Keys tx `i` of block `height` writes; different senders and holders per tx, one shared token. */
function txKeys(height: number, i: number, txsPerBlock: number): StateKey[] {
  const n = height * txsPerBlock + i;
  const token = addressOf(1);
  return [accountKey(addressOf(1000 + n)), storageKey(token, word(2 * n)), storageKey(token, word(2 * n + 1)), accountKey(addressOf(500_000 + n))];
}

/** keccak256("Transfer(address,address,uint256)"): the topic every ERC-20 transfer logs. */
const TRANSFER_TOPIC = Buffer.from(keccak256(Buffer.from('Transfer(address,address,uint256)')));
/** A signed EIP-1559 ERC-20 transfer is ≈ 180 bytes. */
const RAW_TX_BYTES = 180;
const GAS_PER_TX = 34_000n;

/** Tx `i` of block `height` with its receipt: an ERC-20 transfer from one account to another. */
function txWithReceipt(height: number, i: number, txsPerBlock: number): { tx: Tx; receipt: Receipt } {
  const n = height * txsPerBlock + i;
  const raw = Buffer.alloc(RAW_TX_BYTES, n & 0xff);
  raw.writeUInt32BE(n, 0);
  const hash = Buffer.from(keccak256(raw));
  const from = addressOf(1000 + n);
  const to = addressOf(500_000 + n);
  const token = addressOf(1);
  const topics = [TRANSFER_TOPIC, Buffer.concat([Buffer.alloc(12), from]), Buffer.concat([Buffer.alloc(12), to])];
  const logsBloom = Buffer.alloc(BLOOM_BYTES);
  for (const item of [token, ...topics]) bloomAdd(logsBloom, item);
  return {
    tx: { raw, hash, sender: from },
    receipt: {
      txHash: hash, txIndex: i, from, to: token, contractAddress: Buffer.alloc(0), gasUsed: GAS_PER_TX,
      cumulativeGasUsed: GAS_PER_TX * BigInt(i + 1), effectiveGasPrice: Buffer.from([7]), success: true,
      logs: [{ address: token, topics, data: word(n + 1) }], logsBloom, txType: 2, firstLogIndex: i,
    },
  };
}

/** Block `height`, writing the keys block `keysOf` wrote (the same block unless it rewrites an earlier one's). */
function requestOf(height: number, txsPerBlock: number, keysOf = height): CommitRequest {
  const writes = [];
  const txs: Tx[] = [];
  const receipts: Receipt[] = [];
  for (let i = 0; i < txsPerBlock; i++) {
    for (const key of txKeys(keysOf, i, txsPerBlock)) {
      const value = keyKind(key) === KEY_ACCOUNT ? encodeAccount({ nonce: 1n, balance: BigInt(height * 1000 + i + 1), codeHash: EMPTY_CODE_HASH }) : word(height + i + 1);
      writes.push({ key: keyToBytes(key), value, absent: false });
    }
    const { tx, receipt } = txWithReceipt(height, i, txsPerBlock);
    txs.push(tx);
    receipts.push(receipt);
  }
  return {
    env: {
      number: BigInt(height), timestamp: genesis.timestamp + BigInt(height), coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
      baseFeePerGas: Buffer.from([7]), prevRandao: Buffer.alloc(32, height % 256), chainId: genesis.chainId,
    },
    orderedDigest: Buffer.alloc(32, height % 256), txs, receipts, rejections: [], writes, lastTxStreamSeq: BigInt(height),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measure(name: string, note: string, open: () => Promise<StateBackend>, blocks: number, txsPerBlock: number): Promise<BackendResult> {
  const service = await StateService.open({ backend: await open(), genesis, limits, log, rootThreads, rootDigests });
  const commitMs: number[] = [];
  const rewriteMs: number[] = [];
  const hotMs: number[] = [];
  // Blocks 1…blocks write new keys; blocks+1…2·blocks rewrite theirs, as a chain's recurring
  // accounts do, `blocks` blocks later; 2·blocks+1…3·blocks rewrite the keys of the block just
  // before, as hot state is (a pool's reserves, a popular token's holders).
  let hotDigests = { hits: 0, misses: 0 };
  for (let h = 1; h <= 3 * blocks; h++) {
    const req = h <= blocks ? requestOf(h, txsPerBlock) : requestOf(h, txsPerBlock, h <= 2 * blocks ? h - blocks : blocks);
    if (h === 2 * blocks + 1) hotDigests = service.rootDigestStats;
    const t0 = performance.now();
    const res = await service.commitBlock(req);
    (h <= blocks ? commitMs : h <= 2 * blocks ? rewriteMs : hotMs).push(performance.now() - t0);
    if (res.error !== '') throw new Error(`${name}: commit of block ${h} failed: ${res.error}`);
  }
  const digests = service.rootDigestStats;
  const hotHits = digests.hits - hotDigests.hits;
  const hotLookups = hotHits + digests.misses - hotDigests.misses;
  await service.close();
  const reader = await open();
  const readAll = async (): Promise<number> => {
    const t0 = performance.now();
    for (let h = 1; h <= blocks; h++) {
      const keys: StateKey[] = [];
      for (let i = 0; i < txsPerBlock; i++) keys.push(...txKeys(h, i, txsPerBlock));
      await reader.readAt(keys, BigInt(blocks));
    }
    return performance.now() - t0;
  };
  const coldMs = await readAll();
  const warmMs = await readAll();
  await reader.close();
  const pruneMs = await measurePrune(open, blocks);
  const txs = blocks * txsPerBlock;
  const us = (ms: number): number => Math.round((ms * 1000) / txs * 10) / 10;
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  return {
    backend: name, note, blocks, txsPerBlock, writesPerTx: WRITES_PER_TX,
    commitUsPerTx: us(sum(commitMs)), commitMsPerBlockP50: Math.round(median(commitMs) * 10) / 10, rewriteCommitUsPerTx: us(sum(rewriteMs)),
    hotRewriteCommitUsPerTx: us(sum(hotMs)), hotRootDigestHitShare: hotLookups === 0 ? 0 : Math.round((hotHits / hotLookups) * 1000) / 1000,
    coldReadUsPerTx: us(coldMs), warmReadUsPerTx: us(warmMs), readKeysPerTx: WRITES_PER_TX, pruneUsPerTx: us(pruneMs),
  };
}

/**
 * Blocks blocks+1…2·blocks rewrote the keys of blocks 1…blocks: prunes those first ones (untimed),
 * then times pruning the rewrites, each of whose keys has one older version to remove.
 */
async function measurePrune(open: () => Promise<StateBackend>, blocks: number): Promise<number> {
  const backend = await open();
  const pruneTo = async (target: bigint): Promise<void> => {
    while ((await backend.prune(target, PRUNE_BLOCKS_PER_STEP)).blocks > 0);
  };
  await pruneTo(BigInt(blocks));
  const t0 = performance.now();
  await pruneTo(BigInt(2 * blocks));
  const ms = performance.now() - t0;
  await backend.close();
  return ms;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      blocks: { type: 'string', default: '10' }, txs: { type: 'string', default: '500' }, out: { type: 'string' },
      backends: { type: 'string', default: 'lmdb,fdb' }, cache: { type: 'string' }, 'root-threads': { type: 'string', default: '0' },
      'root-digests': { type: 'string', default: '32768' },
    },
  });
  const blocks = Number(values.blocks);
  const txsPerBlock = Number(values.txs);
  const backends = values.backends.split(',');
  const unknown = backends.filter((b) => b !== 'lmdb' && b !== 'fdb');
  if (unknown.length > 0) throw new Error(`--backends: unknown ${unknown.join(', ')} (lmdb, fdb)`);
  // The read cache's entries (both backends; default: theirs).
  const cache = values.cache === undefined ? {} : { cacheMaxEntries: Number(values.cache) };
  rootThreads = Number(values['root-threads']);
  rootDigests = Number(values['root-digests']);
  const results: BackendResult[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-bench-state-'));
  try {
    const lmdbPath = path.join(dir, 'lmdb');
    if (backends.includes('lmdb')) {
      results.push(await measure('lmdb', 'embedded, fsync on commit', async () => new LmdbStateBackend({ path: lmdbPath, ...cache }), blocks, txsPerBlock));
    }
    if (backends.includes('fdb')) results.push(await measureFdb(dir, blocks, txsPerBlock, cache));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const report = { bench: 'state-backends', date: new Date().toISOString(), host: { cpus: os.cpus().length, node: process.version }, results };
  const json = JSON.stringify(report, null, 2);
  if (values.out !== undefined) fs.writeFileSync(values.out, json + '\n');
  process.stdout.write(json + '\n');
}

/** FoundationDB when reachable; otherwise a result row that says why it is missing. */
async function measureFdb(dir: string, blocks: number, txsPerBlock: number, cache: { cacheMaxEntries?: number }): Promise<BackendResult> {
  const missing = (why: string): BackendResult => ({
    backend: 'fdb', note: `not measured: ${why}`, blocks: 0, txsPerBlock, writesPerTx: WRITES_PER_TX,
    commitUsPerTx: 0, commitMsPerBlockP50: 0, rewriteCommitUsPerTx: 0, hotRewriteCommitUsPerTx: 0, hotRootDigestHitShare: 0, coldReadUsPerTx: 0, warmReadUsPerTx: 0, readKeysPerTx: WRITES_PER_TX, pruneUsPerTx: 0,
  });
  const shared = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'shared', 'fdb');
  let clusterFile = process.env['FDB_CLUSTER_FILE'] ?? '';
  let stop = (): void => undefined;
  let note = 'FDB_CLUSTER_FILE cluster';
  if (clusterFile === '') {
    if (!fs.existsSync(path.join(shared, 'start-local'))) return missing(`FDB_CLUSTER_FILE unset and ${shared} absent`);
    const data = path.join(dir, 'fdb');
    clusterFile = execFileSync(path.join(shared, 'start-local'), [data, String(await freePort())], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
    stop = () => process.kill(Number(fs.readFileSync(path.join(data, 'fdbserver.pid'), 'utf8')), 'SIGTERM');
    note = 'local ../shared/fdb: UNOPTIMISED -O0 fdbserver, one process on loopback; client-side cost and round trips only, not FDB throughput';
  }
  try {
    const { FdbStateBackend } = await import('../services/state/fdbBackend.js').catch((err: unknown) => {
      throw new Error(`cannot load libfdb_c (set LD_LIBRARY_PATH): ${String(err)}`);
    });
    const prefix = `lanes-bench-${process.pid}-${Date.now()}`;
    const result = await measure('fdb', note, () => FdbStateBackend.open({ clusterFile, prefix, ...cache }), blocks, txsPerBlock);
    const cleaner = await FdbStateBackend.open({ clusterFile, prefix });
    await cleaner.destroyAll();
    await cleaner.close();
    return result;
  } catch (err) {
    return missing(err instanceof Error ? err.message : String(err));
  } finally {
    stop();
  }
}

await main();
process.exit(0);
