// The NATS side of ingress behind one small interface: state reads and queries, eth_call on the
// executors and the committed-block fan-out. The RPC and gRPC layers only see `IngressBackend`, so
// tests can put a small in-memory implementation behind them.
import type { NatsConnection, Subscription } from 'nats';
import { request } from '../../lib/bus/nats.js';
import {
  BLOCK_COMMITTED_SUBJECT, EXEC_CALL_SUBJECT, STATE_BLOCK_SUBJECT, STATE_HEAD_SUBJECT, STATE_LOGS_SUBJECT,
  SCHEDULER_REPORT_SUBJECT, STATE_READ_SUBJECT, STATE_TX_SUBJECT,
} from '../../lib/bus/subjects.js';
import type { Logger } from '../../lib/log.js';
import {
  BlockCommitted, BlockRequest, BlockResponse, CallRequest, CallResponse, ConflictReportRequest, ConflictReportResponse, HeadRequest, HeadResponse, LogsRequest,
  LogsResponse, StateReadRequest, StateReadResponse, TxLookupRequest, TxLookupResponse,
  type TxLookup,
} from '../../gen/lanes/v1/bus.js';
import type { StateEntry } from '../../gen/lanes/v1/types.js';

export type BlockCommittedListener = (event: BlockCommitted) => void;

export interface IngressBackend {
  /** Committed values of `keys` at `height` (or at the head), in the order of `keys`. */
  readState(keys: Buffer[], height: bigint | 'latest'): Promise<{ height: bigint; entries: StateEntry[] }>;
  head(): Promise<HeadResponse>;
  block(req: BlockRequest): Promise<BlockResponse>;
  lookupTxs(hashes: Buffer[]): Promise<TxLookup[]>;
  logs(req: LogsRequest): Promise<LogsResponse>;
  call(req: CallRequest): Promise<CallResponse>;
  /** The scheduler's conflict report of a recent block (height 0 = latest). */
  conflictReport(height: bigint): Promise<ConflictReportResponse>;
  /** Registers a listener for committed blocks; returns its removal. */
  onBlockCommitted(listener: BlockCommittedListener): () => void;
}

/** A failure of the cluster behind ingress (timeout, a service's error reply). */
export class BackendError extends Error {
  constructor(message: string, readonly subject: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
  }
}

/** State at the height asked is outside the state service's history window: the caller's answer, not an outage. */
export class StatePrunedError extends BackendError {
  constructor(message: string, readonly oldestReadable: bigint) {
    super(message, STATE_READ_SUBJECT);
    this.name = 'StatePrunedError';
  }
}

export interface NatsBackendOptions {
  requestTimeoutMs: number;
  /** Keys per lanes.state.read request; larger reads are split (the state service caps them). */
  maxReadKeys: number;
}

export class NatsBackend implements IngressBackend {
  private readonly listeners = new Set<BlockCommittedListener>();
  private readonly committedSub: Subscription;

  constructor(private readonly nc: NatsConnection, private readonly options: NatsBackendOptions, private readonly log: Logger) {
    this.committedSub = nc.subscribe(BLOCK_COMMITTED_SUBJECT);
    void this.dispatchCommitted();
  }

  private async dispatchCommitted(): Promise<void> {
    for await (const msg of this.committedSub) {
      let event: BlockCommitted;
      try {
        event = BlockCommitted.decode(msg.data);
      } catch (err) {
        this.log.error({ err }, 'undecodable BlockCommitted');
        continue;
      }
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (err) {
          this.log.error({ err }, 'block committed listener failed');
        }
      }
    }
  }

  async readState(keys: Buffer[], height: bigint | 'latest'): Promise<{ height: bigint; entries: StateEntry[] }> {
    const chunkKeys = Math.max(1, this.options.maxReadKeys);
    const chunks: Buffer[][] = [];
    for (let i = 0; i < keys.length; i += chunkKeys) chunks.push(keys.slice(i, i + chunkKeys));
    // Chunks of one read must see the same height: the first reply pins it for the others.
    const first = await this.readChunk(chunks[0] ?? [], height);
    const rest = await Promise.all(chunks.slice(1).map((chunk) => this.readChunk(chunk, first.height)));
    return { height: first.height, entries: [first, ...rest].flatMap((r) => r.entries) };
  }

  private async readChunk(keys: Buffer[], height: bigint | 'latest'): Promise<StateReadResponse> {
    const req: StateReadRequest = height === 'latest' ? { height: 0n, keys, latest: true } : { height, keys, latest: false };
    const res = await request(this.nc, STATE_READ_SUBJECT, StateReadRequest, req, StateReadResponse, this.options.requestTimeoutMs);
    if (res.error !== '' && res.oldestReadable > 0n) throw new StatePrunedError(res.error, res.oldestReadable);
    if (res.error !== '') throw new BackendError(`state read failed: ${res.error}`, STATE_READ_SUBJECT);
    if (res.entries.length !== keys.length) {
      throw new BackendError(`state read returned ${res.entries.length} entries for ${keys.length} keys`, STATE_READ_SUBJECT);
    }
    return res;
  }

  head(): Promise<HeadResponse> {
    return request(this.nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, this.options.requestTimeoutMs);
  }

  block(req: BlockRequest): Promise<BlockResponse> {
    return request(this.nc, STATE_BLOCK_SUBJECT, BlockRequest, req, BlockResponse, this.options.requestTimeoutMs);
  }

  async lookupTxs(hashes: Buffer[]): Promise<TxLookup[]> {
    const res = await request(this.nc, STATE_TX_SUBJECT, TxLookupRequest, { hashes }, TxLookupResponse, this.options.requestTimeoutMs);
    if (res.results.length !== hashes.length) {
      throw new BackendError(`tx lookup returned ${res.results.length} results for ${hashes.length} hashes`, STATE_TX_SUBJECT);
    }
    return res.results;
  }

  logs(req: LogsRequest): Promise<LogsResponse> {
    return request(this.nc, STATE_LOGS_SUBJECT, LogsRequest, req, LogsResponse, this.options.requestTimeoutMs);
  }

  call(req: CallRequest): Promise<CallResponse> {
    return request(this.nc, EXEC_CALL_SUBJECT, CallRequest, req, CallResponse, this.options.requestTimeoutMs);
  }

  conflictReport(height: bigint): Promise<ConflictReportResponse> {
    return request(this.nc, SCHEDULER_REPORT_SUBJECT, ConflictReportRequest, { height }, ConflictReportResponse, this.options.requestTimeoutMs);
  }

  onBlockCommitted(listener: BlockCommittedListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  close(): void {
    this.committedSub.unsubscribe();
    this.listeners.clear();
  }
}
