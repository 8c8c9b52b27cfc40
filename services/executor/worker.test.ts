// The executor worker over a real nats-server and a real state service: a lookahead request loads
// a partition's state into the executor's cache, so running that partition afterwards needs no
// state round trip, while one that nobody looked ahead for still pays its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Wallet, keccak256 } from 'ethers';
import { connect, type NatsConnection } from 'nats';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallRequest, CallResponse, ExecRequest, ExecResponse, LookaheadResponse } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { request } from '../../lib/bus/nats.js';
import { EXEC_CALL_SUBJECT, executorBlockSubject, executorLookaheadSubject } from '../../lib/bus/subjects.js';
import { DEV_ACCOUNTS, devGenesis } from '../../lib/chain/genesis.js';
import { loadConfig } from '../../lib/config.js';
import { bigintToBytes } from '../../lib/state/keys.js';
import { startNatsServer, type NatsServerHandle } from '../../test/support/natsServer.js';
import { startStateService, type RunningStateService } from '../state/main.js';
import { ExecutorWorker } from './worker.js';

const log = pino({ level: 'silent' });
const genesis = devGenesis();
const TIMEOUT_MS = 10_000;

/** Plain transfers from each dev account (nonce `nonce`) to addresses no one has touched. */
async function transfers(nonce: number, tag: string): Promise<Tx[]> {
  return Promise.all(DEV_ACCOUNTS.slice(0, 8).map(async (account, i) => {
    const wallet = new Wallet(account.privateKey);
    const to = '0x' + keccak256(Buffer.from(`${tag}-${i}`)).slice(26);
    const raw = await wallet.signTransaction({
      type: 2, chainId: genesis.chainId, nonce, to, value: 1n, gasLimit: 21_000n, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
    });
    return { raw: Buffer.from(raw.slice(2), 'hex'), hash: Buffer.from(keccak256(raw).slice(2), 'hex'), sender: Buffer.from(wallet.address.slice(2), 'hex') };
  }));
}

function partition(txs: Tx[], requestId: bigint): ExecRequest {
  return {
    env: {
      number: 1n, timestamp: genesis.timestamp + 1n, coinbase: genesis.coinbase, gasLimit: genesis.gasLimit,
      baseFeePerGas: bigintToBytes(genesis.baseFeePerGas), prevRandao: Buffer.alloc(32), chainId: genesis.chainId,
    },
    baseHeight: 0n, txs, txIndexes: txs.map((_, i) => i), recentHashes: [Buffer.alloc(32)], prefetched: [], requestId, partition: true,
  };
}

describe('executor worker', () => {
  let nats: NatsServerHandle;
  let dataDir: string;
  let state: RunningStateService;
  let nc: NatsConnection;
  let worker: ExecutorWorker;
  let filtered: ExecutorWorker;

  beforeAll(async () => {
    nats = await startNatsServer();
    dataDir = await mkdtemp(path.join(tmpdir(), 'lanes-executor-'));
    // Without the key filter: these tests send txs to accounts never written, which it answers without a read.
    const config = loadConfig({ LANES_NATS_URL: nats.url, LANES_DATA_DIR: dataDir, LANES_HEALTH_PORT: '0', LANES_KEY_FILTER: '0' });
    state = await startStateService(config, log, { genesis, noSync: true });
    nc = await connect({ servers: nats.url });
    worker = await ExecutorWorker.create(nc, config, genesis, log);
    worker.start();
    const withFilter = loadConfig({ LANES_NATS_URL: nats.url, LANES_DATA_DIR: dataDir, LANES_HEALTH_PORT: '0', LANES_INSTANCE_ID: 'filtered' });
    filtered = await ExecutorWorker.create(nc, withFilter, genesis, log);
    filtered.start();
  }, 30_000);

  afterAll(async () => {
    await filtered?.stop();
    await worker?.stop();
    await nc?.close();
    await state?.stop();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('loads a partition\'s state on a lookahead, so the partition then runs without a round trip', async () => {
    const run = (req: ExecRequest) => request(nc, executorBlockSubject(worker.executorId), ExecRequest, req, ExecResponse, TIMEOUT_MS);
    const lookahead = (req: ExecRequest) => request(nc, executorLookaheadSubject(worker.executorId), ExecRequest, req, LookaheadResponse, TIMEOUT_MS);

    // Before any block the cache is not pinned to a height: nothing to load into.
    expect(await lookahead(partition(await transfers(0, 'early'), 1n))).toEqual({ keysLoaded: 0, stateRoundTrips: 0, error: '' });

    // A first partition pins the cache at height 0 and pays for its own state.
    const first = await run(partition(await transfers(0, 'first'), 2n));
    expect(first.error).toBe('');
    expect(first.stateRoundTrips).toBeGreaterThanOrEqual(1);

    // Without a lookahead, new recipients cost a round trip…
    const cold = await run(partition(await transfers(0, 'cold'), 3n));
    expect(cold.stateRoundTrips).toBeGreaterThanOrEqual(1);

    // …with one, their accounts are loaded ahead and the run makes none.
    const warmed = partition(await transfers(0, 'warmed'), 4n);
    const ahead = await lookahead(warmed);
    expect(ahead.error).toBe('');
    expect(ahead.keysLoaded).toBe(8); // the 8 new recipients; senders and coinbase are cached
    expect(ahead.stateRoundTrips).toBe(1);
    const res = await run(warmed);
    expect(res.error).toBe('');
    expect(res.results.map((r) => r.gasUsed)).toEqual(Array(8).fill(21_000n));
    expect(res.stateRoundTrips).toBe(0);

    // A second lookahead for the same txs finds everything cached.
    expect(await lookahead(warmed)).toEqual({ keysLoaded: 0, stateRoundTrips: 0, error: '' });
  }, 60_000);

  it('with the state writer\'s key filter, pays no read for accounts never written', async () => {
    const run = (req: ExecRequest) => request(nc, executorBlockSubject(filtered.executorId), ExecRequest, req, ExecResponse, TIMEOUT_MS);
    // The first partition pins the cache and asks for the filter, which arrives while or after it runs.
    expect((await run(partition(await transfers(0, 'filter-first'), 10n))).error).toBe('');
    const deadline = Date.now() + 5_000;
    while (!filtered.hasKeyFilter && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(filtered.hasKeyFilter).toBe(true);
    // Eight recipients never written, no lookahead: no round trip, and the same results.
    const res = await run(partition(await transfers(0, 'filter-cold'), 11n));
    expect(res.error).toBe('');
    expect(res.results.map((r) => r.gasUsed)).toEqual(Array(8).fill(21_000n));
    expect(res.stateRoundTrips).toBe(0);
  }, 60_000);

  it('answers a call at a height it has not seen committed with an error after waiting for it, never at its own head', async () => {
    const call = (height: bigint): Promise<CallResponse> => request(nc, EXEC_CALL_SUBJECT, CallRequest, {
      from: Buffer.from(DEV_ACCOUNTS[0]!.address.slice(2), 'hex'), to: Buffer.from(DEV_ACCOUNTS[1]!.address.slice(2), 'hex'), data: Buffer.alloc(0),
      value: Buffer.alloc(0), gas: 0n, height, latest: false, estimate: false, gasPrice: Buffer.alloc(0),
    }, CallResponse, TIMEOUT_MS);
    // The chain is at genesis: height 0 is known, height 2 is not, and nothing will commit it.
    expect(await call(0n)).toMatchObject({ success: true, error: '' });
    const started = Date.now();
    const ahead = await call(2n);
    expect(ahead).toMatchObject({ success: false, errorCode: -32000 });
    expect(ahead.error).toMatch(/header not found: height 2 is above the chain head 0/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  }, 30_000);
});
