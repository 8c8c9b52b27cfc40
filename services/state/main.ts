// State service entry point: wires configuration, the storage backend, NATS and the health
// endpoint around StateService. No logic lives here.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { NatsConnection, Subscription } from 'nats';
import {
  BlockCommitted, BlockRequest, BlockResponse, CommitRequest, CommitResponse, HeadRequest, HeadResponse, LogsRequest,
  LogsResponse, StateReadRequest, StateReadResponse, TxLookupRequest, TxLookupResponse,
  KeyFilterRequest, KeyFilterResponse,
} from '../../gen/lanes/v1/bus.js';
import { connectBus, serve, type Codec, type ServeOptions } from '../../lib/bus/nats.js';
import {
  BLOCK_COMMITTED_SUBJECT, MAX_PAYLOAD_BYTES, STATE_BLOCK_SUBJECT, STATE_COMMIT_SUBJECT, STATE_HEAD_SUBJECT,
  STATE_KEY_FILTER_SUBJECT, STATE_LOGS_SUBJECT, STATE_QUEUE, STATE_READ_SUBJECT, STATE_TX_SUBJECT,
} from '../../lib/bus/subjects.js';
import { resolveGenesis, type Genesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import { isMainModule, runService } from '../../lib/service.js';
import { startHealthServer } from '../../lib/health.js';
import type { Logger } from '../../lib/log.js';
import { BLOCK_TXS_BUCKETS, createServiceMetrics, LATENCY_BUCKETS_S, timed, type Histogram, type ServiceMetrics } from '../../lib/metrics.js';
import type { StateBackend } from './backend.js';
import { LmdbStateBackend } from './lmdbBackend.js';
import { StateService } from './stateService.js';
import { encodeMessage } from '../../lib/bus/encode.js';
import { KEY_FILTER_FORM } from '../../lib/state/keyFilter.js';

/** Read-side requests handled at once, and waiting beyond that before answering "busy". */
const READ_MAX_CONCURRENT = 8;
const READ_MAX_PENDING = 1024;
/** Commits are serialised by StateService; a few may wait (retries of the same block). */
const COMMIT_MAX_PENDING = 16;

export interface RunningStateService {
  service: StateService;
  healthPort: number;
  stop(): Promise<void>;
}

export interface StartStateServiceOptions {
  /** Overrides config.genesisPath (tests). */
  genesis?: Genesis;
  /** Skip fsync on commit (tests and benchmarks only). */
  noSync?: boolean;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The configured backend. FoundationDB's module is imported only when chosen: loading it loads
 * libfdb_c, which must be reachable through LD_LIBRARY_PATH (dev setup: ../shared/fdb/lib).
 */
export async function openStateBackend(config: LanesConfig, options: { noSync?: boolean } = {}): Promise<{ backend: StateBackend; where: string }> {
  if (config.state.backend === 'fdb') {
    const { FdbStateBackend } = await import('./fdbBackend.js').catch((err: unknown) => {
      throw new Error(`state backend "fdb": cannot load the foundationdb client (is libfdb_c on LD_LIBRARY_PATH?): ${errorText(err)}`, { cause: err });
    });
    const { fdbClusterFile, fdbPrefix, fdbChunkBytes, cacheEntries } = config.state;
    const backend = await FdbStateBackend.open({
      clusterFile: fdbClusterFile, prefix: fdbPrefix, chunkMaxBytes: fdbChunkBytes, cacheMaxEntries: cacheEntries,
    });
    return { backend, where: `foundationdb ${fdbClusterFile || '(default cluster file)'} prefix '${fdbPrefix}'` };
  }
  const dir = path.join(config.dataDir, 'state');
  mkdirSync(dir, { recursive: true });
  return { backend: new LmdbStateBackend({ path: dir, noSync: options.noSync ?? false, cacheMaxEntries: config.state.cacheEntries }), where: dir };
}

export async function startStateService(config: LanesConfig, log: Logger, options: StartStateServiceOptions = {}): Promise<RunningStateService> {
  const genesis = options.genesis ?? resolveGenesis(config.genesisPath);
  const { backend, where } = await openStateBackend(config, { noSync: options.noSync ?? false });
  const metrics = createServiceMetrics('state', config.instanceId);
  const commitMetrics = stateMetrics(metrics);
  let nc: NatsConnection | null = null;
  let service: StateService;
  try {
    service = await StateService.open({
      backend, genesis, log, limits: config.state, retainBlocks: config.state.retainBlocks, role: config.state.role,
      rootThreads: config.state.rootThreads,
      rootDigests: config.state.rootDigests,
      onCommitted: (event) => {
        commitMetrics.onCommitted(event);
        publishCommitted(nc, event, log);
      },
    });
    nc = await connectBus(config.natsUrl, `state-${config.instanceId}`, log);
  } catch (err) {
    await backend.close();
    throw err;
  }
  metrics.gaugeFrom('lanes_chain_height', 'Height of the last committed block (the source of truth)', () => Number(service.height));
  metrics.gaugeFrom('lanes_state_oldest_readable_height', 'Lowest height state reads are served at (LANES_STATE_RETAIN_BLOCKS)', () => Number(service.oldestReadableHeight));
  metrics.counterFrom('lanes_state_root_thread_blocks_total', 'Blocks whose state root the root threads hashed (LANES_STATE_ROOT_THREADS)', () => service.rootStats.threadBlocks);
  metrics.counterFrom('lanes_state_root_thread_fallbacks_total', 'Blocks the root threads failed, hashed on the service thread instead', () => service.rootStats.fallbackBlocks);
  metrics.counterFrom('lanes_state_root_digest_hits_total', 'Old state entries whose root digest was remembered (LANES_STATE_ROOT_DIGESTS), not computed', () => service.rootDigestStats.hits);
  metrics.counterFrom('lanes_state_root_digest_misses_total', 'Old state entries whose root digest had to be computed', () => service.rootDigestStats.misses);
  const subs = serveAll(nc, service, log, commitMetrics.commitSeconds, config.state.role);
  await nc.flush(); // the server has our subscriptions before anyone is told we are ready
  const health = await startHealthServer('state', config.healthPort, () => ({
    ok: nc !== null && !nc.isClosed(), height: service.height.toString(), headHash: service.headHeader.hash.toString('hex'),
    oldestReadableHeight: service.oldestReadableHeight.toString(), role: config.state.role, rootThreadMs: service.rootThreadMs,
  }), { host: config.healthHost, metrics: metrics.registry });
  log.info({ healthPort: health.port, height: service.height.toString(), backend: config.state.backend, store: where, role: config.state.role }, 'state ready');
  let stopping: Promise<void> | null = null;
  return {
    service,
    healthPort: health.port,
    stop: () => {
      stopping ??= (async () => {
        for (const sub of subs) sub.unsubscribe();
        await nc!.drain().catch((err: unknown) => log.warn({ err }, 'nats drain failed'));
        await service.close();
        await health.close();
      })();
      return stopping;
    },
  };
}

/** Series observed per committed block: the state service is where a block becomes final. */
function stateMetrics(metrics: ServiceMetrics): { onCommitted(event: BlockCommitted): void; commitSeconds: Histogram } {
  const blocks = metrics.counter('lanes_blocks_committed_total', 'Blocks committed to state');
  const txs = metrics.counter('lanes_txs_committed_total', 'Transactions included in committed blocks');
  const rejected = metrics.counter('lanes_txs_rejected_total', 'Ordered transactions rejected at execution, with a reason');
  const blockTxs = metrics.histogram('lanes_block_txs', 'Transactions per committed block', BLOCK_TXS_BUCKETS);
  const blockSeconds = metrics.histogram('lanes_block_time_seconds', 'Wall time between consecutive block commits', LATENCY_BUCKETS_S);
  const commitSeconds = metrics.histogram('lanes_commit_duration_seconds', 'Commit request handling in state: fence, write set, root, durable write', LATENCY_BUCKETS_S);
  let lastCommitMs: number | undefined;
  return {
    commitSeconds,
    onCommitted(event) {
      if (event.header === undefined || event.header.number === 0n) return; // genesis
      const nowMs = Date.now();
      if (lastCommitMs !== undefined) blockSeconds.observe((nowMs - lastCommitMs) / 1000);
      lastCommitMs = nowMs;
      blocks.inc();
      txs.inc(event.txHashes.length);
      rejected.inc(event.rejections.length);
      blockTxs.observe(event.txHashes.length);
    },
  };
}

function publishCommitted(nc: NatsConnection | null, event: BlockCommitted, log: Logger): void {
  if (nc === null || nc.isClosed()) return; // genesis, written before NATS is connected
  const payload = encodeMessage(BlockCommitted, event);
  // Always smaller than the CommitRequest it came from, which already fit MAX_PAYLOAD_BYTES.
  if (payload.length > MAX_PAYLOAD_BYTES) {
    log.error({ height: event.header?.number.toString(), bytes: payload.length }, 'BlockCommitted exceeds max payload; not published');
    return;
  }
  nc.publish(BLOCK_COMMITTED_SUBJECT, payload);
}

/**
 * Reads and queries in the queue group, for a writer and its readers alike. The head and commits
 * only from the writer: the scheduler and the sequencer resume from the head, so it must be the
 * committed one, never a reader's that has not heard of the last commit yet.
 */
function serveAll(nc: NatsConnection, service: StateService, log: Logger, commitSeconds: Histogram, role: 'writer' | 'reader'): Subscription[] {
  const read: ServeOptions = { queue: STATE_QUEUE, maxConcurrent: READ_MAX_CONCURRENT, maxPending: READ_MAX_PENDING };
  const on = <Req, Res>(subject: string, reqCodec: Codec<Req>, resCodec: Codec<Res>, handler: (req: Req) => Promise<Res> | Res,
    onError: (err: unknown) => Res, opts: ServeOptions = read): Subscription => serve(nc, subject, reqCodec, resCodec, handler, onError, opts, log);
  const queries = [
    on(STATE_READ_SUBJECT, StateReadRequest, StateReadResponse, (req) => service.read(req),
      (err) => ({ height: 0n, entries: [], error: errorText(err), oldestReadable: 0n })),
    on(STATE_BLOCK_SUBJECT, BlockRequest, BlockResponse, (req) => service.block(req),
      () => ({ found: false, header: undefined, txs: [] })),
    on(STATE_TX_SUBJECT, TxLookupRequest, TxLookupResponse, (req) => service.txLookup(req),
      // No error field: an empty result list never matches the hashes asked, which callers check.
      () => ({ results: [] })),
    on(STATE_LOGS_SUBJECT, LogsRequest, LogsResponse, (req) => service.logs(req),
      (err) => ({ logs: [], error: errorText(err) })),
  ];
  if (role === 'reader') return [...queries, followCommits(nc, service, log)];
  return [
    ...queries,
    on(STATE_HEAD_SUBJECT, HeadRequest, HeadResponse, () => service.head(),
      // HeadResponse has no error field: height 0 without a header reads as "not ready".
      () => ({ height: 0n, header: undefined, lastTxStreamSeq: 0n })),
    // The writer's: it alone sees every commit. One at a time (up to MAX_KEY_FILTER_KEYS × 10 bits each).
    on(STATE_KEY_FILTER_SUBJECT, KeyFilterRequest, KeyFilterResponse, () => service.keyFilterResponse(),
      (err) => ({ height: 0n, added: 0n, capacity: 0n, hashes: 0, bits: Buffer.alloc(0), error: errorText(err), building: false, keyForm: KEY_FILTER_FORM }),
      { maxConcurrent: 1, maxPending: 4 }),
    // Not in the queue group: exactly one state instance commits (the fence rejects a second).
    on(STATE_COMMIT_SUBJECT, CommitRequest, CommitResponse, (req) => timed(commitSeconds, () => service.commitBlock(req)),
      (err) => ({ header: undefined, alreadyCommitted: false, error: errorText(err) }),
      { maxConcurrent: 1, maxPending: COMMIT_MAX_PENDING }),
  ];
}

/** A reader moves its head with the writer's committed-block broadcast. */
function followCommits(nc: NatsConnection, service: StateService, log: Logger): Subscription {
  const sub = nc.subscribe(BLOCK_COMMITTED_SUBJECT);
  void (async () => {
    for await (const msg of sub) {
      try {
        const header = BlockCommitted.decode(msg.data).header;
        if (header !== undefined) service.follow(header);
      } catch (err) {
        log.error({ err }, 'undecodable BlockCommitted');
      }
    }
  })();
  return sub;
}

if (isMainModule(import.meta.url)) await runService('state', startStateService);
