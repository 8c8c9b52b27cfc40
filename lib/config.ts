// The one typed configuration of every Lanes service: environment variables with defaults.
// Each service reads the section it needs; nothing else in the code reads process.env.
import path from 'node:path';

export interface LanesConfig {
  natsUrl: string;
  dataDir: string;
  /** Path of a genesis JSON file; empty = the built-in dev genesis (lib/chain/genesis.ts). */
  genesisPath: string;
  logLevel: string;
  /** Port of the service's /healthz and /metrics endpoint; 0 = pick a free one. */
  healthPort: number;
  /** Interface of the /healthz and /metrics endpoint: 0.0.0.0 in a pod, so probes and Prometheus reach it. */
  healthHost: string;
  instanceId: string;
  ingress: {
    rpcHost: string;
    rpcPort: number;
    grpcPort: number;
    batchMaxTxs: number;
    batchMaxBytes: number;
    batchMaxWaitMs: number;
    /** Accepted transactions waiting for a stream ack, across batches; beyond it submit fails fast. */
    maxPendingTxs: number;
    maxRequestBytes: number;
    maxBatchRequests: number;
    maxTxBytes: number;
    /** A nonce is accepted when committed nonce <= nonce < committed nonce + nonceWindow. */
    nonceWindow: number;
    maxWsConnections: number;
  };
  consensus: {
    blockMaxTxs: number;
    blockMaxBytes: number;
    blockIntervalMs: number;
    /** Ordered blocks not yet committed; beyond it the sequencer waits (back-pressure). */
    maxUncommittedBlocks: number;
    dedupeWindowTxs: number;
    /** An empty block is cut after this long without one (0 = never), as a chain clients can poll. */
    emptyBlockIntervalMs: number;
  };
  scheduler: {
    execTimeoutMs: number;
    execRetries: number;
    /** Blocks with fewer txs run serially in one executor. */
    minParallelTxs: number;
    /** Predicted share of conflicting txs above which a block runs serially. */
    maxConflictShare: number;
    /** Share of a block in one must-stay-together group above which it runs serially. */
    maxGroupShare: number;
    /** Choose parallel or serial for eligible blocks by their recent cost (engine modeChooser). */
    adaptiveMode: boolean;
    maxPartitions: number;
    /** Tail partitions per executor, dispatched to whichever executor is free (engine PartitionShape). */
    tailsPerExecutor: number;
    /** Share of a parallel block the tail partitions take together. */
    tailShare: number;
    /** Tails queued at an executor behind the partition it runs (engine queueAhead); 0 = one request at a time. */
    queueAhead: number;
    /** Serial blocks run in the scheduler itself (no bus); 0 sends them to one executor. */
    serialInProcess: boolean;
    /** While at most this many executors are alive, the scheduler runs a share of each parallel block itself (engine localPartitionMaxExecutors); 0 = never. */
    localPartitionMaxExecutors: number;
    /** Execute the next block while this one commits (one commit in flight); 0 = each block waits for its commit. */
    pipelineCommits: boolean;
    /** Answer misses on keys never written from the state writer's key filter, without a read (LANES_KEY_FILTER). */
    keyFilter: boolean;
  };
  executor: {
    cacheMaxEntries: number;
    maxConcurrentRequests: number;
  };
  state: {
    backend: 'lmdb' | 'fdb';
    fdbClusterFile: string;
    /** Tuple-layer key prefix of this chain in FoundationDB (one database can hold several). */
    fdbPrefix: string;
    /** A block whose mutations exceed this is committed to FoundationDB in chunks (FDB advice: < 1 MB). */
    fdbChunkBytes: number;
    /** Entries of the state service's read cache of committed values, either backend (0 = none). */
    cacheEntries: number;
    maxReadKeys: number;
    maxLogsRange: number;
    maxLogs: number;
    /** Committed heights whose state stays readable; older versions are pruned (0 = keep all). */
    retainBlocks: number;
    /** Worker threads hashing the state root's entries (0 = on the service's own thread). */
    rootThreads: number;
    rootDigests: number;
    /** 'writer' commits (exactly one per store); 'reader' replicas serve reads from the writer's FoundationDB store. */
    role: 'writer' | 'reader';
  };
  /**
   * JIT warm-up of the processes that run the EVM (executors; the scheduler when it runs serial
   * blocks itself) before they take work: a private mixed workload of `txs` transactions, at
   * most `maxMs` (lib/exec/warmUp.ts). txs = 0 turns it off.
   */
  warmUp: { txs: number; maxMs: number };
  requestTimeoutMs: number;
  /** Copies of each JetStream stream (LANES_STREAM_REPLICAS): 3 in a 3-server cluster survives one server's loss. */
  streamReplicas: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`config: ${name} must be a non-negative integer, got '${raw}'`);
  return value;
}

function atMost(env: Env, name: string, fallback: number, max: number): number {
  const value = int(env, name, fallback);
  if (value > max) throw new Error(`config: ${name} must be at most ${max}, got ${value}`);
  return value;
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function stateRole(env: Env, backend: 'lmdb' | 'fdb'): 'writer' | 'reader' {
  const role = str(env, 'LANES_STATE_ROLE', 'writer');
  if (role !== 'writer' && role !== 'reader') throw new Error(`config: LANES_STATE_ROLE must be writer or reader, got '${role}'`);
  if (role === 'reader' && backend !== 'fdb') {
    throw new Error('config: LANES_STATE_ROLE=reader needs LANES_STATE_BACKEND=fdb (a reader shares the writer\'s store; lmdb is one process\'s file)');
  }
  return role;
}

function streamReplicas(env: Env): number {
  const value = atMost(env, 'LANES_STREAM_REPLICAS', 1, 5);
  if (value < 1) throw new Error('config: LANES_STREAM_REPLICAS must be at least 1');
  return value;
}

export function loadConfig(env: Env = process.env): LanesConfig {
  const backend = str(env, 'LANES_STATE_BACKEND', 'lmdb');
  if (backend !== 'lmdb' && backend !== 'fdb') throw new Error(`config: LANES_STATE_BACKEND must be lmdb or fdb, got '${backend}'`);
  return {
    natsUrl: str(env, 'LANES_NATS_URL', 'nats://127.0.0.1:4222'),
    dataDir: path.resolve(str(env, 'LANES_DATA_DIR', '.lanes/data')),
    genesisPath: str(env, 'LANES_GENESIS', ''),
    logLevel: str(env, 'LANES_LOG_LEVEL', 'info'),
    healthPort: int(env, 'LANES_HEALTH_PORT', 0),
    healthHost: str(env, 'LANES_HEALTH_HOST', '127.0.0.1'),
    instanceId: str(env, 'LANES_INSTANCE_ID', `${process.pid}`),
    ingress: {
      rpcHost: str(env, 'LANES_RPC_HOST', '127.0.0.1'),
      rpcPort: int(env, 'LANES_RPC_PORT', 8545),
      grpcPort: int(env, 'LANES_GRPC_PORT', 50051),
      batchMaxTxs: int(env, 'LANES_BATCH_MAX_TXS', 500),
      batchMaxBytes: int(env, 'LANES_BATCH_MAX_BYTES', 512 * 1024),
      batchMaxWaitMs: int(env, 'LANES_BATCH_MAX_WAIT_MS', 5),
      maxPendingTxs: int(env, 'LANES_MAX_PENDING_TXS', 20_000),
      maxRequestBytes: int(env, 'LANES_MAX_REQUEST_BYTES', 5 * 1024 * 1024),
      maxBatchRequests: int(env, 'LANES_MAX_BATCH_REQUESTS', 1000),
      maxTxBytes: int(env, 'LANES_MAX_TX_BYTES', 128 * 1024),
      nonceWindow: int(env, 'LANES_NONCE_WINDOW', 1024),
      maxWsConnections: int(env, 'LANES_MAX_WS_CONNECTIONS', 1000),
    },
    consensus: {
      blockMaxTxs: int(env, 'LANES_BLOCK_MAX_TXS', 1000),
      blockMaxBytes: int(env, 'LANES_BLOCK_MAX_BYTES', 2 * 1024 * 1024),
      blockIntervalMs: int(env, 'LANES_BLOCK_INTERVAL_MS', 100),
      maxUncommittedBlocks: int(env, 'LANES_MAX_UNCOMMITTED_BLOCKS', 8),
      dedupeWindowTxs: int(env, 'LANES_DEDUPE_WINDOW_TXS', 200_000),
      emptyBlockIntervalMs: int(env, 'LANES_EMPTY_BLOCK_INTERVAL_MS', 1000),
    },
    scheduler: {
      execTimeoutMs: int(env, 'LANES_EXEC_TIMEOUT_MS', 30_000),
      execRetries: int(env, 'LANES_EXEC_RETRIES', 3),
      minParallelTxs: int(env, 'LANES_MIN_PARALLEL_TXS', 32),
      maxConflictShare: int(env, 'LANES_MAX_CONFLICT_PERCENT', 25) / 100,
      maxGroupShare: int(env, 'LANES_MAX_GROUP_PERCENT', 80) / 100,
      adaptiveMode: int(env, 'LANES_ADAPTIVE_MODE', 1) === 1,
      maxPartitions: atMost(env, 'LANES_MAX_PARTITIONS', 16, 64),
      tailsPerExecutor: int(env, 'LANES_TAILS_PER_EXECUTOR', 2),
      tailShare: atMost(env, 'LANES_TAIL_PERCENT', 20, 90) / 100,
      queueAhead: atMost(env, 'LANES_EXEC_QUEUE_AHEAD', 1, 4),
      serialInProcess: int(env, 'LANES_SERIAL_IN_SCHEDULER', 1) === 1,
      localPartitionMaxExecutors: int(env, 'LANES_LOCAL_PARTITION_MAX_EXECUTORS', 1),
      pipelineCommits: int(env, 'LANES_PIPELINE_COMMITS', 1) === 1,
      keyFilter: int(env, 'LANES_KEY_FILTER', 1) === 1,
    },
    executor: {
      cacheMaxEntries: int(env, 'LANES_EXECUTOR_CACHE_ENTRIES', 500_000),
      maxConcurrentRequests: int(env, 'LANES_EXECUTOR_CONCURRENCY', 4),
    },
    state: {
      backend,
      fdbClusterFile: str(env, 'FDB_CLUSTER_FILE', ''),
      fdbPrefix: str(env, 'LANES_FDB_PREFIX', 'lanes'),
      fdbChunkBytes: int(env, 'LANES_FDB_CHUNK_BYTES', 512 * 1024),
      // LANES_FDB_CACHE_ENTRIES: its name while only the FoundationDB backend had the cache.
      cacheEntries: int(env, 'LANES_STATE_CACHE_ENTRIES', int(env, 'LANES_FDB_CACHE_ENTRIES', 200_000)),
      maxReadKeys: int(env, 'LANES_STATE_MAX_READ_KEYS', 20_000),
      maxLogsRange: int(env, 'LANES_MAX_LOGS_RANGE', 10_000),
      maxLogs: int(env, 'LANES_MAX_LOGS', 10_000),
      retainBlocks: int(env, 'LANES_STATE_RETAIN_BLOCKS', 10_000),
      rootThreads: atMost(env, 'LANES_STATE_ROOT_THREADS', 1, 16),
      // Remembered state-root entry digests, 2 KB each (lib/state/entryDigests.ts): 32,768 = 64 MB.
      rootDigests: atMost(env, 'LANES_STATE_ROOT_DIGESTS', 32_768, 1_048_576),
      role: stateRole(env, backend),
    },
    warmUp: { txs: atMost(env, 'LANES_WARMUP_TXS', 4000, 100_000), maxMs: int(env, 'LANES_WARMUP_MAX_MS', 20_000) },
    requestTimeoutMs: int(env, 'LANES_REQUEST_TIMEOUT_MS', 10_000),
    streamReplicas: streamReplicas(env),
  };
}
