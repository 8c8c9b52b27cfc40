// State reader replicas (LANES_STATE_ROLE=reader) on FoundationDB: a reader opens the writer's
// store, follows its commits, answers reads and queries in the queue group, and never answers
// the head or a commit; asked for a height it has not heard of, it reads the store's head first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { connect, type NatsConnection } from 'nats';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BlockRequest, BlockResponse, CommitRequest, CommitResponse, HeadRequest, HeadResponse, StateReadRequest, StateReadResponse,
} from '../../gen/lanes/v1/bus.js';
import { request } from '../../lib/bus/nats.js';
import { STATE_BLOCK_SUBJECT, STATE_COMMIT_SUBJECT, STATE_HEAD_SUBJECT, STATE_READ_SUBJECT } from '../../lib/bus/subjects.js';
import { devGenesis } from '../../lib/chain/genesis.js';
import { loadConfig } from '../../lib/config.js';
import { keyToBytes, storageKey } from '../../lib/state/keys.js';
import { testFdb, uniquePrefix } from '../../test/support/fdb.js';
import { startNatsServer } from '../../test/support/natsServer.js';
import { addr, word } from './backendConformance.js';
import { startStateService } from './main.js';
import { StateService, StoreNotReadyError } from './stateService.js';

const found = await testFdb();
const genesis = devGenesis();
const log = pino({ level: 'silent' });
const key = storageKey(addr(7), word(1));

function commitFor(height: bigint): CommitRequest {
  return {
    env: {
      number: height, timestamp: genesis.timestamp + height, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
      baseFeePerGas: Buffer.from([1]), prevRandao: Buffer.alloc(32), chainId: genesis.chainId,
    },
    orderedDigest: Buffer.from(keccak_256(Buffer.from(`reader-${height}`))), txs: [], receipts: [], rejections: [],
    writes: [{ key: keyToBytes(key), value: word(Number(height) * 10), absent: false }], lastTxStreamSeq: height,
  };
}

if (found.skip !== null) {
  describe('state readers', () => {
    it.skip(`skipped: ${found.skip}`, () => undefined);
  });
} else {
  const { fdb } = found;
  const { FdbStateBackend } = await import('./fdbBackend.js');
  afterAll(async () => { await fdb.stop(); });

  describe('state reader replicas on FoundationDB', () => {
    it('over NATS: refuses an empty store, follows the writer, answers reads and blocks, never the head or a commit', async () => {
      const prefix = uniquePrefix('reader');
      const nats = await startNatsServer();
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-reader-'));
      const config = (role: string) => loadConfig({
        LANES_NATS_URL: nats.url, LANES_DATA_DIR: dataDir, LANES_HEALTH_PORT: '0', LANES_STATE_BACKEND: 'fdb',
        FDB_CLUSTER_FILE: fdb.clusterFile, LANES_FDB_PREFIX: prefix, LANES_STATE_ROLE: role, LANES_INSTANCE_ID: role,
      });
      let nc: NatsConnection | undefined;
      try {
        await expect(startStateService(config('reader'), log, { genesis })).rejects.toBeInstanceOf(StoreNotReadyError);
        const writer = await startStateService(config('writer'), log, { genesis });
        const reader = await startStateService(config('reader'), log, { genesis });
        nc = await connect({ servers: nats.url });
        const committed = await request(nc, STATE_COMMIT_SUBJECT, CommitRequest, commitFor(1n), CommitResponse, 5_000);
        expect(committed.error).toBe('');
        const deadline = Date.now() + 5_000;
        while (reader.service.height < 1n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(reader.service.height).toBe(1n); // heard from the committed-block broadcast

        await writer.stop(); // what answers now is the reader alone
        const read = await request(nc, STATE_READ_SUBJECT, StateReadRequest, { height: 1n, keys: [keyToBytes(key)], latest: false }, StateReadResponse, 5_000);
        expect(read.entries[0]!.value).toEqual(word(10));
        const block = await request(nc, STATE_BLOCK_SUBJECT, BlockRequest, { number: 1n, hash: Buffer.alloc(0), latest: false }, BlockResponse, 5_000);
        expect(block.header?.hash).toEqual(committed.header!.hash);
        await expect(request(nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, 1_000)).rejects.toThrow();
        await expect(request(nc, STATE_COMMIT_SUBJECT, CommitRequest, commitFor(2n), CommitResponse, 1_000)).rejects.toThrow();
        await reader.stop();
      } finally {
        await nc?.close();
        await nats.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
        const cleaner = await FdbStateBackend.open({ clusterFile: fdb.clusterFile, prefix });
        await cleaner.destroyAll();
        await cleaner.close();
      }
    });

    it('catches up from the store when asked for a height it has not heard of, and refuses commits', async () => {
      const prefix = uniquePrefix('reader-catchup');
      const limits = { maxReadKeys: 100, maxLogsRange: 100, maxLogs: 100 };
      const writer = await StateService.open({ backend: await FdbStateBackend.open({ clusterFile: fdb.clusterFile, prefix }), genesis, limits, log });
      const reader = await StateService.open({ backend: await FdbStateBackend.open({ clusterFile: fdb.clusterFile, prefix }), genesis, limits, log, role: 'reader' });
      try {
        for (const h of [1n, 2n]) expect((await writer.commitBlock(commitFor(h))).error).toBe('');
        expect(reader.height).toBe(0n); // no broadcast here
        const read = await reader.read({ height: 2n, keys: [keyToBytes(key)], latest: false });
        expect(read.error).toBe('');
        expect(read.entries[0]!.value).toEqual(word(20));
        expect(reader.height).toBe(2n);
        expect((await reader.read({ height: 3n, keys: [keyToBytes(key)], latest: false })).error).toMatch(/height 3 is not committed yet/);
        // "latest" is the writer's latest, not the last commit the reader heard of.
        expect((await writer.commitBlock(commitFor(3n))).error).toBe('');
        const latest = await reader.read({ height: 0n, keys: [keyToBytes(key)], latest: true });
        expect([latest.height, latest.entries[0]!.value]).toEqual([3n, word(30)]);
        expect((await reader.block({ number: 0n, hash: Buffer.alloc(0), latest: true })).header?.number).toBe(3n);
        expect((await reader.commitBlock(commitFor(4n))).error).toMatch(/reader \(LANES_STATE_ROLE=reader\): commits go to the writer/);
      } finally {
        await writer.close();
        await reader.close();
        const cleaner = await FdbStateBackend.open({ clusterFile: fdb.clusterFile, prefix });
        await cleaner.destroyAll();
        await cleaner.close();
      }
    });
  });
}
