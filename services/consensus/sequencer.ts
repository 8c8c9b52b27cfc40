// The single sequencer: reads accepted batches from the LANES_TX stream in stream order, cuts
// blocks (blockCutter.ts) and appends them to LANES_BLOCKS with an expected-last-sequence
// precondition, so stream sequence == height and a second sequencer cannot fork the chain.
// On restart it resumes from the last ordered block's `last_tx_stream_seq`: nothing acked by
// the TX stream is skipped, nothing is ordered twice. A BFT replica set replaces this module;
// its contract is the same: OrderedBlock messages on BLOCK_SUBJECT, one per height.
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { headers as natsHeaders } from 'nats';
import { BlockCommitted, HeadRequest, HeadResponse, OrderedBlock, TxBatch } from '../../gen/lanes/v1/bus.js';
import { request } from '../../lib/bus/nats.js';
import {
  BLOCK_COMMITTED_SUBJECT, BLOCK_STREAM, BLOCK_SUBJECT, STATE_HEAD_SUBJECT, TX_STREAM,
} from '../../lib/bus/subjects.js';
import type { LanesConfig } from '../../lib/config.js';
import type { Logger } from '../../lib/log.js';
import { BlockCutter, type ChainTip } from './blockCutter.js';
import { encodeMessage } from '../../lib/bus/encode.js';

export interface SequencerStats {
  height: bigint;
  committedHeight: bigint;
  pendingTxs: number;
  duplicatesDropped: number;
  running: boolean;
}

const ZERO_DIGEST = Buffer.alloc(32);

/** The tip of the ordered chain: the last message of LANES_BLOCKS, or the empty chain. */
export async function readOrderedTip(jsm: JetStreamManager): Promise<ChainTip> {
  const info = await jsm.streams.info(BLOCK_STREAM);
  const lastSeq = info.state.last_seq;
  if (lastSeq === 0) return { height: 0n, digest: ZERO_DIGEST, timestamp: 0n, lastTxStreamSeq: 0n };
  const stored = await jsm.streams.getMessage(BLOCK_STREAM, { seq: lastSeq });
  const block = OrderedBlock.decode(stored.data);
  if (block.height !== BigInt(lastSeq)) {
    throw new Error(`LANES_BLOCKS seq ${lastSeq} holds height ${block.height}: stream and chain disagree`);
  }
  return { height: block.height, digest: block.digest, timestamp: block.timestamp, lastTxStreamSeq: block.lastTxStreamSeq };
}

export class Sequencer {
  private cutter!: BlockCutter;
  private committedHeight = 0n;
  private running = false;
  private stopping = false;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly config: LanesConfig,
    private readonly log: Logger,
  ) {}

  stats(): SequencerStats {
    return {
      height: this.cutter?.chainTip.height ?? 0n,
      committedHeight: this.committedHeight,
      pendingTxs: this.cutter?.pendingTxCount ?? 0,
      duplicatesDropped: this.cutter?.duplicates ?? 0,
      running: this.running,
    };
  }

  async start(): Promise<void> {
    const tip = await readOrderedTip(this.jsm);
    this.cutter = new BlockCutter({ ...this.config.consensus }, tip);
    this.committedHeight = await this.fetchCommittedHeight();
    this.watchCommits();
    this.log.info({ height: tip.height, lastTxStreamSeq: tip.lastTxStreamSeq, committedHeight: this.committedHeight }, 'sequencer resuming');
    const consumer = await this.js.consumers.get(TX_STREAM, { opt_start_seq: Number(tip.lastTxStreamSeq + 1n) });
    const messages = await consumer.consume({ max_messages: 256 });
    this.running = true;
    this.timer = setInterval(() => this.enqueue(() => this.cutIfDue()), Math.max(5, Math.floor(this.config.consensus.blockIntervalMs / 2)));
    void (async () => {
      try {
        for await (const m of messages) {
          if (this.stopping) break;
          const batch = TxBatch.decode(m.data);
          await this.enqueue(async () => {
            this.cutter.addBatch(BigInt(m.seq), batch, Date.now());
            await this.cutIfDue();
          });
        }
      } catch (err) {
        if (!this.stopping) {
          this.log.fatal({ err }, 'tx stream consumer failed');
          process.exitCode = 1;
        }
      }
      this.running = false;
    })();
    this.stopMessages = () => messages.stop();
  }

  private stopMessages: () => void = () => {};

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.stopMessages();
    for (const wake of this.waiters.splice(0)) wake();
    await this.chain.catch(() => {});
  }

  /** Serialises cutting: the consumer loop and the timer never publish concurrently. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.chain.then(task, task);
    this.chain = next.catch((err) => {
      this.log.fatal({ err }, 'sequencer failed; exiting so a restart resumes from the stream');
      process.exit(1);
    });
    return this.chain;
  }

  private async cutIfDue(): Promise<void> {
    while (!this.stopping && this.cutter.shouldCut(Date.now())) {
      await this.waitForCommitRoom();
      if (this.stopping) return;
      const block = this.cutter.cut(Date.now());
      await this.publish(block);
    }
    const idle = this.cutter.shouldCutEmpty(Date.now(), this.lastBlockMs, this.config.consensus.emptyBlockIntervalMs);
    if (!this.stopping && idle && this.cutter.chainTip.height - this.committedHeight < BigInt(this.config.consensus.maxUncommittedBlocks)) {
      await this.publish(this.cutter.cut(Date.now(), true));
    }
  }

  private lastBlockMs = Date.now();

  private async publish(block: OrderedBlock): Promise<void> {
    const hdrs = natsHeaders();
    const started = Date.now();
    const ack = await this.js.publish(BLOCK_SUBJECT, encodeMessage(OrderedBlock, block), {
      msgID: `block-${block.height}`,
      expect: { lastSequence: Number(block.height - 1n), streamName: BLOCK_STREAM },
      headers: hdrs,
      timeout: this.config.requestTimeoutMs,
    });
    if (BigInt(ack.seq) !== block.height) {
      throw new Error(`block ${block.height} stored at seq ${ack.seq}${ack.duplicate ? ' (duplicate)' : ''}`);
    }
    this.lastBlockMs = Date.now();
    this.log[block.txs.length === 0 ? 'debug' : 'info']({ height: block.height, txs: block.txs.length, publishMs: Date.now() - started }, 'block ordered');
  }

  /** Back-pressure: at most maxUncommittedBlocks ordered blocks ahead of the committed height. */
  private async waitForCommitRoom(): Promise<void> {
    while (!this.stopping && this.cutter.chainTip.height - this.committedHeight >= BigInt(this.config.consensus.maxUncommittedBlocks)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
      if (this.cutter.chainTip.height - this.committedHeight >= BigInt(this.config.consensus.maxUncommittedBlocks)) {
        this.committedHeight = await this.fetchCommittedHeight().catch(() => this.committedHeight);
      }
    }
  }

  private watchCommits(): void {
    const sub = this.nc.subscribe(BLOCK_COMMITTED_SUBJECT);
    void (async () => {
      for await (const m of sub) {
        const committed = BlockCommitted.decode(m.data);
        const height = committed.header?.number ?? 0n;
        if (height > this.committedHeight) this.committedHeight = height;
        for (const wake of this.waiters.splice(0)) wake();
      }
    })();
  }

  private async fetchCommittedHeight(): Promise<bigint> {
    for (let attempt = 1; ; attempt++) {
      try {
        const head = await request(this.nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, 2000);
        return head.height;
      } catch (err) {
        if (attempt >= 60 || this.stopping) throw err;
        this.log.warn({ attempt }, 'state service not answering yet; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}
