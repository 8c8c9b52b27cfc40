// The streams' replicas (LANES_STREAM_REPLICAS) on real nats-servers: one server, and a 3-server
// JetStream cluster on loopback like prod's, where streams must survive one server's loss.
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsClusterHandle } from '../../test/support/natsServer.js';
import { natsSuite } from '../../test/support/natsSuite.js';
import { DEFAULT_STREAM_LIMITS, StreamSetupError, connectStreams, ensureStreams, isTransientNatsError } from './nats.js';
import { BLOCK_STREAM, TX_STREAM, TX_SUBJECT } from './subjects.js';

const small = { txStreamMaxBytes: 1024 * 1024, blockStreamMaxBytes: 1024 * 1024 };

describe('stream replicas on one server', () => {
  const nats = natsSuite();

  it('creates one copy, and says why it cannot make three', async () => {
    const jsm = await nats.nc.jetstreamManager();
    await ensureStreams(jsm, { ...small, replicas: 1 });
    expect((await jsm.streams.info(TX_STREAM)).config.num_replicas).toBe(1);
    const refused = ensureStreams(jsm, { ...small, replicas: 3 });
    await expect(refused).rejects.toBeInstanceOf(StreamSetupError);
    await expect(refused).rejects.toThrow(/stream LANES_TX: cannot move from 1 to 3 replicas: replicas > 1 not supported in non-clustered mode/);
    await jsm.streams.delete(TX_STREAM);
    await expect(ensureStreams(jsm, { ...small, replicas: 3 })).rejects.toThrow(/stream LANES_TX: cannot create with 3 replica\(s\): replicas > 1 not supported/);
    await expect(ensureStreams(jsm, { ...small, replicas: 0 })).rejects.toThrow(/replicas must be an integer from 1 to 5/);
  });
});

describe('stream setup beside a restarting nats-server', () => {
  const nats = natsSuite({ maxReconnectAttempts: -1, reconnectTimeWait: 100 });

  it('waits out a server that is down for longer than a request timeout, and creates the streams once it is back', async () => {
    const jsm = await nats.nc.jetstreamManager({ timeout: 300 });
    const down = nats.server.restart(1_500);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the server has gone
    const retried: string[] = [];
    const setup = ensureStreams(jsm, { ...small, replicas: 1 }, { delayMs: 200, onRetry: (err) => retried.push(err.message) });
    await down;
    await setup;
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.every((m) => /timeout/i.test(m))).toBe(true);
    expect((await jsm.streams.info(TX_STREAM)).config.subjects).toEqual([TX_SUBJECT]);
    expect((await jsm.streams.info(BLOCK_STREAM)).config.num_replicas).toBe(1);
  });

  it('gets its JetStream manager beside a server that is down at start, then the streams', async () => {
    const down = nats.server.restart(1_500);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const retried: string[] = [];
    const jsm = await connectStreams(nats.nc, { ...small, replicas: 1 }, { delayMs: 200, onRetry: (err) => retried.push(err.message) }, { timeout: 300 });
    await down;
    expect(retried.length).toBeGreaterThan(0);
    expect((await jsm.streams.info(TX_STREAM)).config.subjects).toEqual([TX_SUBJECT]);
  });

  it('gives up after its attempts, and never retries a refused configuration', async () => {
    const jsm = await nats.nc.jetstreamManager({ timeout: 300 });
    const down = nats.server.restart(1_500);
    await new Promise((resolve) => setTimeout(resolve, 100));
    let retries = 0;
    await expect(ensureStreams(jsm, { ...small, replicas: 1 }, { attempts: 2, delayMs: 10, onRetry: () => { retries++; } })).rejects.toThrow(/timeout/i);
    expect(retries).toBe(1);
    await down;
    await ensureStreams(jsm, { ...small, replicas: 1 }); // back, and reconnected
    retries = 0;
    await expect(ensureStreams(jsm, { ...small, replicas: 3 }, { delayMs: 10, onRetry: () => { retries++; } }))
      .rejects.toThrow(/replicas > 1 not supported/);
    expect(retries).toBe(0);
    expect(isTransientNatsError(new Error('request on lanes.x failed', { cause: Object.assign(new Error('TIMEOUT'), { code: 'TIMEOUT' }) }))).toBe(true);
    expect(isTransientNatsError(new StreamSetupError(TX_STREAM, 'cannot create'))).toBe(false);
  });
});

describe('stream replicas on a 3-server JetStream cluster', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await connect({ servers: cluster.urls });
    // The cluster elects its JetStream meta leader after the servers are up.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await (await nc.jetstreamManager()).getAccountInfo();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('creates both streams with three copies, and moves a one-copy stream to three', async () => {
    const jsm = await nc.jetstreamManager();
    await ensureStreams(jsm, { ...small, replicas: 1 });
    expect((await jsm.streams.info(BLOCK_STREAM)).config.num_replicas).toBe(1);
    await ensureStreams(jsm, { ...DEFAULT_STREAM_LIMITS, ...small, replicas: 3 });
    for (const name of [TX_STREAM, BLOCK_STREAM]) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas, name).toBe(3);
      expect(info.config.max_bytes, name).toBe(1024 * 1024); // the rest of the config is kept
    }
    // The moved stream elects a leader among its three copies; then it takes writes again.
    const deadline = Date.now() + 15_000;
    let cluster = (await jsm.streams.info(TX_STREAM)).cluster;
    while (!(cluster?.leader !== undefined && cluster.replicas?.length === 2 && cluster.replicas.every((r) => r.current)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      cluster = (await jsm.streams.info(TX_STREAM)).cluster;
    }
    expect(cluster?.replicas?.length).toBe(2); // a leader and two followers
    const ack = await nc.jetstream().publish(TX_SUBJECT, new Uint8Array([1, 2, 3]), { msgID: 'replicated-1' });
    expect(ack.stream).toBe(TX_STREAM);
  }, 30_000);
});
