// Ingress entry point: wires configuration, genesis, NATS, admission, the batcher, the JSON-RPC
// and gRPC servers and the health endpoint. No logic lives here.
import { DEFAULT_STREAM_LIMITS, connectBus, connectStreams, streamSetupRetry } from '../../lib/bus/nats.js';
import { chainCommon } from '../../lib/chain/common.js';
import { devGenesis, loadGenesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import { isMainModule, runService } from '../../lib/service.js';
import { startHealthServer } from '../../lib/health.js';
import type { Logger } from '../../lib/log.js';
import { createServiceMetrics } from '../../lib/metrics.js';
import { NatsBackend } from './backend.js';
import { Batcher, JetStreamBatchPublisher } from './batcher.js';
import { ChainView } from './chainView.js';
import { startGrpcServer } from './grpc.js';
import type { MethodContext } from './methods.js';
import { PendingTxs } from './pending.js';
import { startRpcServer } from './rpc.js';
import { TxSubmitter } from './submit.js';

export interface IngressHandle {
  rpcPort: number;
  grpcPort: number;
  healthPort: number;
  /** Stops accepting, publishes what is batched, waits for its acks, drains NATS. */
  stop(): Promise<void>;
}

/** Pending (accepted, uncommitted) txs remembered for "already known" and pending nonces. */
const PENDING_CAPACITY_FACTOR = 4;
const PENDING_MAX_AGE_MS = 5 * 60_000;
const PUBLISH_MAX_ATTEMPTS = 3;

export async function startIngress(config: LanesConfig, log: Logger): Promise<IngressHandle> {
  const cfg = config.ingress;
  const genesis = config.genesisPath !== '' ? loadGenesis(config.genesisPath) : devGenesis();
  const common = chainCommon(genesis.chainId);
  // Unique per process start: batch sequence numbers restart at 1, and the stream deduplicates
  // msg ids for two minutes, so a restarted ingress must not reuse its predecessor's ids.
  const ingressId = `ingress-${config.instanceId}-${Date.now().toString(36)}`;

  const nc = await connectBus(config.natsUrl, ingressId, log);
  await connectStreams(nc, { ...DEFAULT_STREAM_LIMITS, replicas: config.streamReplicas }, streamSetupRetry(log));
  const backend = new NatsBackend(nc, { requestTimeoutMs: config.requestTimeoutMs, maxReadKeys: config.state.maxReadKeys }, log);
  const chain = new ChainView(backend, { recentHeaders: 1024, genesisBaseFeePerGas: genesis.baseFeePerGas, headMaxAgeMs: 1_000 });
  const pending = new PendingTxs(cfg.maxPendingTxs * PENDING_CAPACITY_FACTOR);
  const batcher = new Batcher(
    new JetStreamBatchPublisher(nc.jetstream(), { timeoutMs: config.requestTimeoutMs, maxAttempts: PUBLISH_MAX_ATTEMPTS, retryBackoffMs: 100 }),
    { ingressId, batchMaxTxs: cfg.batchMaxTxs, batchMaxBytes: cfg.batchMaxBytes, batchMaxWaitMs: cfg.batchMaxWaitMs, maxPendingTxs: cfg.maxPendingTxs },
  );
  const limits = { chainId: genesis.chainId, maxTxBytes: cfg.maxTxBytes, blockGasLimit: genesis.gasLimit, nonceWindow: cfg.nonceWindow };
  const submitter = new TxSubmitter(backend, batcher, pending, {
    common,
    limits: () => ({ ...limits, baseFeePerGas: chain.baseFeePerGas() }),
  }, log);
  await chain.latest().catch((err: unknown) => log.warn({ err }, 'state head not available yet'));

  const ctx: MethodContext = {
    backend, chain, submitter, pending, common, chainId: genesis.chainId,
    clientVersion: `lanes/v0.1.0/node-${process.version}`,
    limits: { maxLogsRange: config.state.maxLogsRange, maxLogs: config.state.maxLogs, maxFeeHistoryBlocks: 1024, maxRewardPercentiles: 100 },
  };
  const rpc = await startRpcServer(ctx, {
    host: cfg.rpcHost, port: cfg.rpcPort, maxRequestBytes: cfg.maxRequestBytes, maxBatchRequests: cfg.maxBatchRequests,
    maxWsConnections: cfg.maxWsConnections, maxWsSubscriptions: 16, maxWsBufferedBytes: 4 * 1024 * 1024,
  }, log);
  const grpcServer = await startGrpcServer({ backend, chain, submitter }, {
    host: cfg.rpcHost, port: cfg.grpcPort, maxMessageBytes: cfg.maxRequestBytes, maxSubmitTxs: cfg.maxBatchRequests,
    maxReceiptHashes: cfg.maxBatchRequests, maxReplayBlocks: 10_000, maxStreamQueue: 1_024,
  }, log);
  const unsubscribe = backend.onBlockCommitted((event) => {
    pending.onBlockCommitted(event);
    if (event.header !== undefined) {
      chain.observe(event.header);
      rpc.publishNewHead(event.header);
    }
  });
  const expiry = setInterval(() => pending.expire(Date.now(), PENDING_MAX_AGE_MS), 10_000);
  expiry.unref();

  const metrics = createServiceMetrics('ingress', config.instanceId);
  metrics.gaugeFrom('lanes_ingress_pending_txs', 'Accepted transactions waiting for the LANES_TX ack (txpool is full at LANES_MAX_PENDING_TXS)', () => batcher.getStats().pendingTxs);
  metrics.gaugeFrom('lanes_ingress_known_pending_txs', 'Acknowledged transactions not yet seen in a committed block', () => pending.size);
  metrics.counterFrom('lanes_ingress_txs_accepted_total', 'Transactions acknowledged by LANES_TX (answered with their hash)', () => batcher.getStats().txsAcked);
  metrics.counterFrom('lanes_ingress_batches_published_total', 'Batches published to LANES_TX', () => batcher.getStats().batchesPublished);
  metrics.counterFrom('lanes_ingress_batches_failed_total', 'Batches that failed to publish after retries (their txs answered with an error)', () => batcher.getStats().batchesFailed);
  metrics.gaugeFrom('lanes_ingress_head', 'Latest committed block height ingress has seen', () => Number(chain.latestCached()?.number ?? 0n));
  const health = await startHealthServer('ingress', config.healthPort, () => ({
    ok: !nc.isClosed(),
    ingressId,
    head: chain.latestCached()?.number.toString() ?? null,
    pendingKnownTxs: pending.size,
    ...batcher.getStats(),
  }), { host: config.healthHost, metrics: metrics.registry });
  log.info({ rpcPort: rpc.port, grpcPort: grpcServer.port, healthPort: health.port, ingressId, chainId: genesis.chainId.toString() }, 'ingress ready');

  let stopping: Promise<void> | undefined;
  return {
    rpcPort: rpc.port,
    grpcPort: grpcServer.port,
    healthPort: health.port,
    stop: () => {
      stopping ??= (async () => {
        clearInterval(expiry);
        // Stop taking requests first, then flush: submits already admitted still get their acks.
        const closing = Promise.all([rpc.close(), grpcServer.close()]);
        await batcher.close();
        await closing;
        unsubscribe();
        backend.close();
        await health.close();
        await nc.drain();
      })();
      return stopping;
    },
  };
}

if (isMainModule(import.meta.url)) await runService('ingress', startIngress);
