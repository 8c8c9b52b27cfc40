// The single sequencer's deterministic core: accepts transaction batches in stream order and cuts
// them into ordered blocks by count, bytes or age. Whole batches only, so a block's
// `last_tx_stream_seq` marks exactly what it consumed and a restart resumes after it.
// Time is passed in, never read, so the same inputs cut the same blocks.
import type { OrderedBlock, TxBatch } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { orderedBlockDigest, transactionsRoot } from '../../lib/chain/block.js';

export interface CutterLimits {
  blockMaxTxs: number;
  blockMaxBytes: number;
  blockIntervalMs: number;
  /** Recently ordered tx hashes remembered to drop duplicates submitted twice. */
  dedupeWindowTxs: number;
}

export interface ChainTip {
  height: bigint;
  digest: Buffer;
  timestamp: bigint;
  lastTxStreamSeq: bigint;
}

interface PendingBatch {
  seq: bigint;
  txs: Tx[];
  bytes: number;
}

export class BlockCutter {
  private readonly pending: PendingBatch[] = [];
  private pendingTxs = 0;
  private pendingBytes = 0;
  private oldestPendingMs: number | null = null;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  /** Hashes of the pending batches' txs: a duplicate waiting in an earlier batch is dropped too. */
  private readonly pendingIds = new Set<string>();
  private duplicatesDropped = 0;

  constructor(private readonly limits: CutterLimits, private tip: ChainTip) {}

  get chainTip(): ChainTip {
    return this.tip;
  }

  get pendingTxCount(): number {
    return this.pendingTxs;
  }

  get duplicates(): number {
    return this.duplicatesDropped;
  }

  /**
   * True when the chain has been idle for `emptyBlockIntervalMs`: an empty block is due, so
   * clients that wait for "the next block" (ethers' receipt polling) are never left hanging.
   */
  shouldCutEmpty(nowMs: number, lastBlockMs: number, emptyBlockIntervalMs: number): boolean {
    return emptyBlockIntervalMs > 0 && this.pending.length === 0 && nowMs - lastBlockMs >= emptyBlockIntervalMs;
  }

  /** Adds a batch stored at stream sequence `seq`; batches at or below the tip's seq are ignored. */
  addBatch(seq: bigint, batch: TxBatch, nowMs: number): void {
    if (seq <= this.tip.lastTxStreamSeq) return;
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && seq <= last.seq) throw new Error(`batch seq ${seq} not after ${last.seq}: stream order broken`);
    let bytes = 0;
    const txs: Tx[] = [];
    for (const tx of batch.txs) {
      const id = tx.hash.toString('hex');
      // One set lookup each: a scan of the batch so far per tx cost half the sequencer's CPU at 500-tx batches.
      if (this.seen.has(id) || this.pendingIds.has(id)) {
        this.duplicatesDropped++;
        continue;
      }
      this.pendingIds.add(id);
      txs.push(tx);
      bytes += tx.raw.length + 52;
    }
    this.pending.push({ seq, txs, bytes });
    this.pendingTxs += txs.length;
    this.pendingBytes += bytes;
    if (this.oldestPendingMs === null) this.oldestPendingMs = nowMs;
  }

  /** True when a block should be cut now: full, or its oldest batch waited the interval. */
  shouldCut(nowMs: number): boolean {
    if (this.pending.length === 0) return false;
    if (this.pendingTxs >= this.limits.blockMaxTxs || this.pendingBytes >= this.limits.blockMaxBytes) return true;
    return this.oldestPendingMs !== null && nowMs - this.oldestPendingMs >= this.limits.blockIntervalMs;
  }

  /**
   * Cuts the next block from the pending batches (at least one batch, then as many as fit) and
   * advances the tip. Empty batches (all duplicates) are consumed too, and may yield a block
   * without transactions only when nothing else is pending, so the stream position advances.
   */
  cut(nowMs: number, allowEmpty = false): OrderedBlock {
    if (this.pending.length === 0 && !allowEmpty) throw new Error('cut with nothing pending');
    const txs: Tx[] = [];
    let bytes = 0;
    let lastSeq = this.tip.lastTxStreamSeq;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      const fits = txs.length + next.txs.length <= this.limits.blockMaxTxs && bytes + next.bytes <= this.limits.blockMaxBytes;
      if (txs.length > 0 && !fits) break;
      this.pending.shift();
      for (const tx of next.txs) txs.push(tx);
      bytes += next.bytes;
      lastSeq = next.seq;
      this.pendingTxs -= next.txs.length;
      this.pendingBytes -= next.bytes;
    }
    this.oldestPendingMs = this.pending.length === 0 ? null : nowMs;
    for (const tx of txs) {
      const id = tx.hash.toString('hex');
      this.pendingIds.delete(id);
      this.remember(id);
    }

    const height = this.tip.height + 1n;
    const nowSec = BigInt(Math.floor(nowMs / 1000));
    const timestamp = nowSec > this.tip.timestamp ? nowSec : this.tip.timestamp;
    const txRoot = transactionsRoot(txs.map((t) => t.hash));
    const digest = orderedBlockDigest({ height, parentDigest: this.tip.digest, timestamp, txRoot });
    const block: OrderedBlock = {
      height, parentDigest: this.tip.digest, timestamp, txRoot, txs, digest, lastTxStreamSeq: lastSeq,
    };
    this.tip = { height, digest, timestamp, lastTxStreamSeq: lastSeq };
    return block;
  }

  private remember(id: string): void {
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > this.limits.dedupeWindowTxs) {
      const drop = this.seenOrder.splice(0, this.seenOrder.length - this.limits.dedupeWindowTxs);
      for (const old of drop) this.seen.delete(old);
    }
  }
}
