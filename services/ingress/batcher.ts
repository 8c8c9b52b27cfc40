// Collects accepted transactions into TxBatch messages and publishes each batch to the durable
// stream. A transaction's promise resolves only once JetStream acked (stored) its batch, so a hash
// returned to a client always names a stored transaction (BRIEF invariant 3: nothing lost).
//
// Bounds: a batch closes at batchMaxTxs, batchMaxBytes or batchMaxWaitMs, whichever comes first;
// at most maxPendingTxs transactions wait for acks (beyond: "txpool is full", at once); a publish
// is retried at most maxAttempts times, with the same msg id so the stream drops duplicates.
import { ErrorCode, NatsError, type JetStreamClient } from 'nats';
import { TX_SUBJECT } from '../../lib/bus/subjects.js';
import { RpcError, RpcErrorCode, TxRejectedError } from '../../lib/chain/errors.js';
import { TxBatch } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { encodeMessage } from '../../lib/bus/encode.js';

/** Stores one encoded batch durably; resolves only once it is stored. */
export interface BatchPublisher {
  publish(payload: Uint8Array, msgId: string): Promise<void>;
}

/** The stream did not store a batch: every transaction of it fails with this (-32000). */
export class BatchPublishError extends RpcError {
  constructor(readonly msgId: string, readonly backPressure: boolean, detail: string, options?: { cause?: unknown }) {
    super(
      backPressure ? RpcErrorCode.LimitExceeded : RpcErrorCode.Server,
      backPressure ? `txpool is full: transaction stream rejected the batch (${detail})` : `transaction not stored: ${detail}`,
      undefined,
      options,
    );
    this.name = 'BatchPublishError';
  }
}

export interface JetStreamPublisherOptions {
  timeoutMs: number;
  maxAttempts: number;
  retryBackoffMs: number;
}

/** Publishes to TX_SUBJECT; retries only failures where the batch may simply not have arrived. */
export class JetStreamBatchPublisher implements BatchPublisher {
  constructor(private readonly js: JetStreamClient, private readonly options: JetStreamPublisherOptions) {
    if (options.maxAttempts < 1) throw new Error('JetStreamBatchPublisher: maxAttempts must be >= 1');
  }

  async publish(payload: Uint8Array, msgId: string): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      try {
        await this.js.publish(TX_SUBJECT, payload, { msgID: msgId, timeout: this.options.timeoutMs });
        return;
      } catch (err) {
        lastError = err;
        if (!isRetriable(err)) {
          throw new BatchPublishError(msgId, isStreamFull(err), describePublishError(err), { cause: err });
        }
        if (attempt < this.options.maxAttempts) await sleep(this.options.retryBackoffMs * attempt);
      }
    }
    throw new BatchPublishError(msgId, false, `publish failed after ${this.options.maxAttempts} attempts: ${describePublishError(lastError)}`, { cause: lastError });
  }
}

/**
 * A timeout, or "no responders" without a JetStream API error (the stream is not reachable right
 * now): the batch may simply not have arrived, and a retry with the same msg id is safe.
 */
function isRetriable(err: unknown): boolean {
  if (!(err instanceof NatsError) || err.api_error !== undefined) return false;
  return err.code === ErrorCode.Timeout || err.code === ErrorCode.NoResponders;
}

/** A "discard new" stream refuses a publish with an API error "maximum bytes/messages exceeded" when full. */
function isStreamFull(err: unknown): boolean {
  const description = err instanceof NatsError ? err.api_error?.description ?? err.message : String(err);
  return /maximum (bytes|messages|messages per subject) exceeded|insufficient resources/i.test(description);
}

function describePublishError(err: unknown): string {
  if (err instanceof NatsError && err.api_error !== undefined) return err.api_error.description;
  if (err instanceof NatsError && err.code === ErrorCode.NoResponders) return 'no stream answered (no responders)';
  return (err as Error)?.message ?? String(err);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface BatcherOptions {
  ingressId: string;
  batchMaxTxs: number;
  batchMaxBytes: number;
  batchMaxWaitMs: number;
  maxPendingTxs: number;
  /** Wall clock for TxBatch.created_at_ms (injected so tests control it). */
  nowMs?: () => number;
}

/** Protobuf overhead of one Tx inside a TxBatch beyond raw: hash, sender, tags and lengths. */
const TX_OVERHEAD_BYTES = 32 + 20 + 16;

interface OpenBatch {
  txs: Tx[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface BatcherStats {
  pendingTxs: number;
  batchesPublished: number;
  batchesFailed: number;
  txsAcked: number;
}

export class Batcher {
  private open: OpenBatch | undefined;
  private nextSeq = 1n;
  private pending = 0;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stats = { batchesPublished: 0, batchesFailed: 0, txsAcked: 0 };

  constructor(private readonly publisher: BatchPublisher, private readonly options: BatcherOptions) {
    if (options.batchMaxTxs < 1 || options.batchMaxBytes < 1 || options.maxPendingTxs < 1) {
      throw new Error('Batcher: batchMaxTxs, batchMaxBytes and maxPendingTxs must be positive');
    }
  }

  /** Room for this many more transactions right now (admission checks it before state reads). */
  get freeSlots(): number {
    return this.closed ? 0 : this.options.maxPendingTxs - this.pending;
  }

  /**
   * Queues an accepted transaction; resolves once its batch is stored, rejects with
   * TxRejectedError('txpool-full') when maxPendingTxs wait already, or BatchPublishError.
   */
  add(tx: Tx): Promise<void> {
    if (this.closed) return Promise.reject(new RpcError(RpcErrorCode.Server, 'ingress is shutting down'));
    if (this.pending >= this.options.maxPendingTxs) return Promise.reject(new TxRejectedError('txpool-full'));
    const txBytes = tx.raw.length + TX_OVERHEAD_BYTES;
    if (this.open !== undefined && this.open.bytes + txBytes > this.options.batchMaxBytes) this.flush();
    const batch = this.open ?? this.startBatch();
    batch.txs.push(tx);
    batch.bytes += txBytes;
    this.pending++;
    if (batch.txs.length >= this.options.batchMaxTxs) this.flush();
    return batch.done;
  }

  private startBatch(): OpenBatch {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    done.catch(() => { /* every waiting caller sees the rejection; this only marks it handled */ });
    const batch: OpenBatch = { txs: [], bytes: 0, timer: undefined, done, resolve, reject };
    batch.timer = setTimeout(() => { if (this.open === batch) this.flush(); }, this.options.batchMaxWaitMs);
    this.open = batch;
    return batch;
  }

  /** Closes the open batch (if any) and starts publishing it. */
  flush(): void {
    const batch = this.open;
    if (batch === undefined) return;
    this.open = undefined;
    clearTimeout(batch.timer);
    const seq = this.nextSeq++;
    const msgId = `${this.options.ingressId}-${seq}`;
    const payload = encodeMessage(TxBatch, {
      ingressId: this.options.ingressId,
      batchSeq: seq,
      txs: batch.txs,
      createdAtMs: BigInt((this.options.nowMs ?? Date.now)()),
    });
    const publishing = this.publish(batch, payload, msgId);
    this.inFlight.add(publishing);
    void publishing.finally(() => this.inFlight.delete(publishing));
  }

  private async publish(batch: OpenBatch, payload: Uint8Array, msgId: string): Promise<void> {
    try {
      await this.publisher.publish(payload, msgId);
      this.stats.batchesPublished++;
      this.stats.txsAcked += batch.txs.length;
      batch.resolve();
    } catch (err) {
      this.stats.batchesFailed++;
      batch.reject(err instanceof RpcError ? err : new BatchPublishError(msgId, false, (err as Error).message, { cause: err }));
    } finally {
      this.pending -= batch.txs.length;
    }
  }

  getStats(): BatcherStats {
    return { pendingTxs: this.pending, ...this.stats };
  }

  /** Stops accepting, publishes the open batch and waits until every batch is acked or failed. */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    await Promise.allSettled([...this.inFlight]);
  }
}
