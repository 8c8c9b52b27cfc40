// The batcher against a real nats-server with JetStream: a transaction's promise resolves only
// after the stream stored its batch; a full pending window and a failed publish are errors.
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureStreams } from '../../lib/bus/nats.js';
import { TX_STREAM } from '../../lib/bus/subjects.js';
import { TxRejectedError } from '../../lib/chain/errors.js';
import { TxBatch } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { startNatsServer, type NatsServerHandle } from '../../test/support/natsServer.js';
import { BatchPublishError, Batcher, JetStreamBatchPublisher, type BatchPublisher } from './batcher.js';

const tx = (i: number, rawBytes = 100): Tx => ({ raw: Buffer.alloc(rawBytes, i), hash: Buffer.alloc(32, i), sender: Buffer.alloc(20, i) });

describe('Batcher with JetStream', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: JetStreamBatchPublisher;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await nc.jetstreamManager();
  });
  afterAll(async () => { await nc.drain(); await server.stop(); });
  beforeEach(async () => {
    await jsm.streams.delete(TX_STREAM).catch(() => false);
    await ensureStreams(jsm, { txStreamMaxBytes: 16 * 1024, blockStreamMaxBytes: 1024 * 1024, replicas: 1 });
    publisher = new JetStreamBatchPublisher(nc.jetstream(), { timeoutMs: 2_000, maxAttempts: 2, retryBackoffMs: 10 });
  });
  afterEach(async () => { await jsm.streams.delete(TX_STREAM).catch(() => false); });

  it('resolves each transaction only once the stream stored its batch', async () => {
    const batcher = new Batcher(publisher, { ingressId: 'ing-a', batchMaxTxs: 2, batchMaxBytes: 1 << 20, batchMaxWaitMs: 20, maxPendingTxs: 100 });
    const storedWhenResolved: number[] = [];
    const waits = [0, 1, 2, 3, 4].map((i) => batcher.add(tx(i)).then(async () => {
      storedWhenResolved.push((await jsm.streams.info(TX_STREAM)).state.messages);
    }));
    await Promise.all(waits);
    // Batches: [0,1] [2,3] full at 2 txs, [4] closed by batchMaxWaitMs.
    expect(storedWhenResolved.every((n) => n >= 1)).toBe(true);
    const info = await jsm.streams.info(TX_STREAM);
    expect(info.state.messages).toBe(3);
    const stored = await Promise.all([1, 2, 3].map((seq) => jsm.streams.getMessage(TX_STREAM, { seq })));
    const batches = stored.map((m) => TxBatch.decode(m.data));
    expect(batches.map((b) => b.txs.length)).toEqual([2, 2, 1]);
    expect(batches.map((b) => b.batchSeq)).toEqual([1n, 2n, 3n]);
    expect(stored.map((m) => m.header?.get('Nats-Msg-Id'))).toEqual(['ing-a-1', 'ing-a-2', 'ing-a-3']);
    expect(batcher.getStats()).toMatchObject({ pendingTxs: 0, batchesPublished: 3, txsAcked: 5 });
    await batcher.close();
  });

  it('closes a batch at batchMaxBytes', async () => {
    const batcher = new Batcher(publisher, { ingressId: 'ing-b', batchMaxTxs: 100, batchMaxBytes: 450, batchMaxWaitMs: 20, maxPendingTxs: 100 });
    await Promise.all([0, 1, 2, 3].map((i) => batcher.add(tx(i, 150))));
    const info = await jsm.streams.info(TX_STREAM);
    expect(info.state.messages).toBe(2); // 150 + 68 overhead per tx: two fit in 450 bytes
    await batcher.close();
  });

  it('fails fast with "txpool is full" while maxPendingTxs wait for acks', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const gated: BatchPublisher = { publish: async (payload, msgId) => { await gate; await publisher.publish(payload, msgId); } };
    const batcher = new Batcher(gated, { ingressId: 'ing-c', batchMaxTxs: 10, batchMaxBytes: 1 << 20, batchMaxWaitMs: 1, maxPendingTxs: 3 });
    const accepted = [0, 1, 2].map((i) => batcher.add(tx(i)));
    expect(batcher.freeSlots).toBe(0);
    const refused = await batcher.add(tx(3)).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(TxRejectedError);
    expect((refused as TxRejectedError).message).toBe('txpool is full');
    release();
    await Promise.all(accepted);
    expect(batcher.freeSlots).toBe(3);
    await batcher.add(tx(4));
    expect((await jsm.streams.info(TX_STREAM)).state.messages).toBe(2);
    await batcher.close();
  });

  it('fails every transaction of a batch the stream refused (full), and only those', async () => {
    const batcher = new Batcher(publisher, { ingressId: 'ing-d', batchMaxTxs: 4, batchMaxBytes: 1 << 20, batchMaxWaitMs: 5, maxPendingTxs: 100 });
    // ~10 KB fits in the 16 KB stream; the next ~10 KB batch does not.
    const first = await Promise.allSettled([0, 1, 2, 3].map((i) => batcher.add(tx(i, 2_500))));
    expect(first.every((r) => r.status === 'fulfilled')).toBe(true);
    const second = await Promise.allSettled([4, 5, 6, 7].map((i) => batcher.add(tx(i, 2_500))));
    expect(second.every((r) => r.status === 'rejected')).toBe(true);
    const err = (second[0] as PromiseRejectedResult).reason as BatchPublishError;
    expect(err).toBeInstanceOf(BatchPublishError);
    expect(err.backPressure).toBe(true);
    expect(err.code).toBe(-32005);
    expect(err.message).toMatch(/^txpool is full: .*maximum bytes exceeded/);
    expect((await jsm.streams.info(TX_STREAM)).state.messages).toBe(1);
    expect(batcher.getStats()).toMatchObject({ pendingTxs: 0, batchesFailed: 1 });
    await batcher.close();
  });

  it('fails the batch after bounded retries when no stream answers', async () => {
    await jsm.streams.delete(TX_STREAM);
    const batcher = new Batcher(publisher, { ingressId: 'ing-e', batchMaxTxs: 2, batchMaxBytes: 1 << 20, batchMaxWaitMs: 1, maxPendingTxs: 100 });
    const results = await Promise.allSettled([batcher.add(tx(1)), batcher.add(tx(2))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(((results[0] as PromiseRejectedResult).reason as Error).message).toMatch(/not stored.*after 2 attempts/);
    await batcher.close();
  });

  it('stores a retried batch once (same msg id)', async () => {
    const payload = TxBatch.encode({ ingressId: 'ing-f', batchSeq: 1n, txs: [tx(1)], createdAtMs: 0n }).finish();
    await publisher.publish(payload, 'ing-f-1');
    await publisher.publish(payload, 'ing-f-1');
    expect((await jsm.streams.info(TX_STREAM)).state.messages).toBe(1);
  });

  it('publishes what is batched on close and refuses new transactions', async () => {
    const batcher = new Batcher(publisher, { ingressId: 'ing-g', batchMaxTxs: 100, batchMaxBytes: 1 << 20, batchMaxWaitMs: 60_000, maxPendingTxs: 100 });
    const wait = batcher.add(tx(1));
    await batcher.close();
    await wait;
    expect((await jsm.streams.info(TX_STREAM)).state.messages).toBe(1);
    await expect(batcher.add(tx(2))).rejects.toThrow(/shutting down/);
  });
});
