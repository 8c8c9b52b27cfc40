// Follows committed blocks on StreamBlocks and learns which transactions each one holds
// (GetBlock), recording when the bench saw each block arrive: the commit time of its txs.
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { BlockHeader } from '../gen/lanes/v1/types.js';
import type { ClusterClient } from './client.js';

export interface SeenBlock {
  header: BlockHeader;
  txHashes: Buffer[];
  /** performance.now() when the header arrived on the stream. */
  seenAtMs: number;
}

const RESTARTS_MAX = 10;

export class BlockWatcher {
  /** Committed blocks by height, as seen. */
  readonly blocks = new Map<bigint, SeenBlock>();
  /** tx hash (hex) → height of the block holding it; a second sighting is recorded in duplicates. */
  readonly txBlock = new Map<string, bigint>();
  readonly duplicates: Array<{ hash: string; heights: [bigint, bigint] }> = [];
  private stream: ClientReadableStream<BlockHeader> | undefined;
  private pending: Promise<void> = Promise.resolve();
  private nextHeight: bigint;
  private restarts = 0;
  private stopped = false;
  error: Error | undefined;

  constructor(private readonly client: ClusterClient, fromHeight: bigint, private readonly now: () => number = () => performance.now()) {
    this.nextHeight = fromHeight;
  }

  start(): void {
    const stream = this.client.streamBlocks(this.nextHeight);
    this.stream = stream;
    stream.on('data', (header: BlockHeader) => {
      const seenAtMs = this.now();
      // GetBlock calls run one after another, in height order, so blocks are recorded in order.
      this.pending = this.pending.then(() => this.record(header, seenAtMs)).catch((err: Error) => { this.error = err; });
    });
    stream.on('error', (err: Error & { code?: number }) => {
      if (this.stopped || err.code === 1) return; // 1 = CANCELLED by stop()
      if (++this.restarts > RESTARTS_MAX) { this.error = err; return; }
      setTimeout(() => { if (!this.stopped) this.start(); }, 200);
    });
  }

  private async record(header: BlockHeader, seenAtMs: number): Promise<void> {
    if (header.number < this.nextHeight || this.blocks.has(header.number)) return;
    const res = await this.client.block(header.number);
    const txHashes = res.txHashes.map((h) => Buffer.from(h));
    this.blocks.set(header.number, { header, txHashes, seenAtMs });
    this.nextHeight = header.number + 1n;
    for (const h of txHashes) {
      const hex = h.toString('hex');
      const earlier = this.txBlock.get(hex);
      if (earlier !== undefined) this.duplicates.push({ hash: hex, heights: [earlier, header.number] });
      else this.txBlock.set(hex, header.number);
    }
  }

  /** Waits until headers received so far have been recorded. */
  async settle(): Promise<void> {
    await this.pending;
  }

  get height(): bigint {
    return this.nextHeight - 1n;
  }

  stop(): void {
    this.stopped = true;
    this.stream?.cancel();
  }
}
