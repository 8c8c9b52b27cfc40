import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { connect, type NatsConnection } from 'nats';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlockCommitted, BlockRequest, BlockResponse, CommitRequest, CommitResponse, HeadRequest, HeadResponse, LogsRequest,
  LogsResponse, StateReadRequest, StateReadResponse, TxLookupRequest, TxLookupResponse,
} from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { request } from '../../lib/bus/nats.js';
import {
  BLOCK_COMMITTED_SUBJECT, STATE_BLOCK_SUBJECT, STATE_COMMIT_SUBJECT, STATE_HEAD_SUBJECT, STATE_LOGS_SUBJECT,
  STATE_READ_SUBJECT, STATE_TX_SUBJECT,
} from '../../lib/bus/subjects.js';
import { buildReceipts } from '../../lib/chain/block.js';
import { DEV_ACCOUNTS, devGenesis } from '../../lib/chain/genesis.js';
import { loadConfig, type LanesConfig } from '../../lib/config.js';
import { EMPTY_CODE_HASH, accountKey, decodeAccount, encodeAccount, keyToBytes } from '../../lib/state/keys.js';
import { startNatsServer, type NatsServerHandle } from '../../test/support/natsServer.js';
import { startStateService, type RunningStateService } from './main.js';

const log = pino({ level: 'silent' });
const TIMEOUT_MS = 5000;
const genesis = devGenesis();
const devAddress = Buffer.from(DEV_ACCOUNTS[0]!.address.slice(2), 'hex');

function commitFor(height: bigint, tx: Tx, balance: bigint): CommitRequest {
  return {
    env: {
      number: height, timestamp: genesis.timestamp + height, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
      baseFeePerGas: Buffer.from([1]), prevRandao: Buffer.alloc(32), chainId: genesis.chainId,
    },
    orderedDigest: Buffer.from(keccak_256(Buffer.from(`digest-${height}`))),
    txs: [tx],
    receipts: buildReceipts([{
      txHash: tx.hash, sender: tx.sender, to: Buffer.alloc(20, 2), contractAddress: null, gasUsed: 21_000n, success: true,
      logs: [{ address: Buffer.alloc(20, 3), topics: [Buffer.alloc(32, 4)], data: Buffer.alloc(0) }], txType: 2, effectiveGasPrice: 1n,
    }]),
    writes: [{ key: keyToBytes(accountKey(devAddress)), value: encodeAccount({ nonce: height, balance, codeHash: EMPTY_CODE_HASH }), absent: false }],
    rejections: [],
    lastTxStreamSeq: height,
  };
}

describe('state service over NATS', () => {
  let nats: NatsServerHandle;
  let dataDir: string;
  let config: LanesConfig;
  let running: RunningStateService;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(path.join(tmpdir(), 'lanes-state-nats-'));
    config = loadConfig({ LANES_NATS_URL: nats.url, LANES_DATA_DIR: dataDir, LANES_HEALTH_PORT: '0' });
    running = await startStateService(config, log, { genesis, noSync: true });
    nc = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await nc?.close();
    await running?.stop();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves head, read, commit, block, tx and logs, and announces each commit', async () => {
    const head0 = await request(nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, TIMEOUT_MS);
    expect(head0.height).toBe(0n);
    expect(head0.header?.number).toBe(0n);

    const key = keyToBytes(accountKey(devAddress));
    const read0 = await request(nc, STATE_READ_SUBJECT, StateReadRequest, { height: 0n, keys: [key], latest: true }, StateReadResponse, TIMEOUT_MS);
    expect(read0.error).toBe('');
    expect(decodeAccount(read0.entries[0]!.value).balance).toBe(genesis.alloc.find((a) => a.address.equals(devAddress))!.balance);

    const announced = nc.subscribe(BLOCK_COMMITTED_SUBJECT, { max: 1 });
    const tx: Tx = { raw: Buffer.from('raw-1'), hash: Buffer.from(keccak_256(Buffer.from('raw-1'))), sender: devAddress };
    const req = commitFor(1n, tx, 123n);
    const committed = await request(nc, STATE_COMMIT_SUBJECT, CommitRequest, req, CommitResponse, TIMEOUT_MS);
    expect(committed.error).toBe('');
    expect(committed.header?.number).toBe(1n);
    expect(committed.header?.parentHash).toEqual(head0.header?.hash);
    for await (const msg of announced) {
      const event = BlockCommitted.decode(msg.data);
      expect(event.header?.hash).toEqual(committed.header?.hash);
      expect(event.txHashes).toEqual([tx.hash]);
      expect(BlockCommitted.toJSON(event)).not.toHaveProperty('writes'); // executors take writes from the scheduler's BlockExecuted
    }

    const retry = await request(nc, STATE_COMMIT_SUBJECT, CommitRequest, req, CommitResponse, TIMEOUT_MS);
    expect(retry.alreadyCommitted).toBe(true);
    expect(retry.header?.hash).toEqual(committed.header?.hash);
    const gap = await request(nc, STATE_COMMIT_SUBJECT, CommitRequest, commitFor(5n, tx, 1n), CommitResponse, TIMEOUT_MS);
    expect(gap.error).toMatch(/gap/);

    const read1 = await request(nc, STATE_READ_SUBJECT, StateReadRequest, { height: 0n, keys: [key], latest: true }, StateReadResponse, TIMEOUT_MS);
    expect(read1.height).toBe(1n);
    expect(decodeAccount(read1.entries[0]!.value).balance).toBe(123n);
    const tooHigh = await request(nc, STATE_READ_SUBJECT, StateReadRequest, { height: 9n, keys: [key], latest: false }, StateReadResponse, TIMEOUT_MS);
    expect(tooHigh.error).toMatch(/not committed/);

    const head1 = await request(nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, TIMEOUT_MS);
    expect(head1.height).toBe(1n);
    expect(head1.lastTxStreamSeq).toBe(1n);
    const block = await request(nc, STATE_BLOCK_SUBJECT, BlockRequest, { number: 1n, hash: Buffer.alloc(0), latest: false }, BlockResponse, TIMEOUT_MS);
    expect(block.txs.map((t) => t.hash)).toEqual([tx.hash]);
    const lookup = await request(nc, STATE_TX_SUBJECT, TxLookupRequest, { hashes: [tx.hash] }, TxLookupResponse, TIMEOUT_MS);
    expect(lookup.results[0]!.receipt?.gasUsed).toBe(21_000n);
    const logs = await request(nc, STATE_LOGS_SUBJECT, LogsRequest,
      { fromBlock: 0n, toBlock: 1n, addresses: [Buffer.alloc(20, 3)], topics: [], blockHash: Buffer.alloc(0), limit: 0 }, LogsResponse, TIMEOUT_MS);
    expect(logs.logs.map((l) => l.txHash)).toEqual([tx.hash]);

    const health = await fetch(`http://127.0.0.1:${running.healthPort}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { height: string }).height).toBe('1');
  });

  it('restarts on the same data directory at the committed height', async () => {
    await running.stop();
    running = await startStateService(config, log, { genesis, noSync: true });
    const head = await request(nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, TIMEOUT_MS);
    expect(head.height).toBe(1n);
  });

  it('refuses to start on a FoundationDB it cannot reach, saying so', async () => {
    const fdbConfig = loadConfig({
      LANES_NATS_URL: nats.url, LANES_DATA_DIR: dataDir, LANES_STATE_BACKEND: 'fdb', FDB_CLUSTER_FILE: path.join(dataDir, 'missing.cluster'),
    });
    // Without libfdb_c on LD_LIBRARY_PATH: cannot load the client; with it: cannot open the cluster file.
    await expect(startStateService(fdbConfig, log)).rejects.toThrow(/foundationdb/);
  });
});
