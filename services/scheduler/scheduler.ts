// The scheduler loop: takes ordered blocks from LANES_BLOCKS in height order, has executors run
// them (ExecRequest over the `executors` queue group), assembles receipts and the write set,
// commits through the state service (fenced by height) and then trims the streams. On restart
// it resumes after the state's committed height, so a block is never applied twice.
import type { JetStreamManager, NatsConnection } from 'nats';
import {
  BlockRequest, BlockResponse, CommitRequest, CommitResponse, ExecRequest, ExecResponse, HeadRequest, HeadResponse,
  OrderedBlock, type BlockEnv, type TxResult,
} from '../../gen/lanes/v1/bus.js';
import { request } from '../../lib/bus/nats.js';
import {
  BLOCK_STREAM, EXEC_BLOCK_SUBJECT, STATE_BLOCK_SUBJECT, STATE_COMMIT_SUBJECT, STATE_HEAD_SUBJECT, TX_STREAM,
} from '../../lib/bus/subjects.js';
import type { Genesis } from '../../lib/chain/genesis.js';
import type { LanesConfig } from '../../lib/config.js';
import type { Logger } from '../../lib/log.js';
import { bigintToBytes } from '../../lib/state/keys.js';
import { assembleCommit } from './assemble.js';
import { BLOCKHASH_WINDOW, RecentHashes } from './recentHashes.js';

export interface SchedulerStats {
  committedHeight: bigint;
  blocks: number;
  txs: number;
  rejected: number;
  execRetries: number;
  lastBlockMs: number;
  running: boolean;
}

/** Executes the txs of one block; the NATS implementation asks an executor, a fallback may run locally. */
export type BlockExecutionFn = (req: ExecRequest) => Promise<TxResult[]>;

export class Scheduler {
  private readonly recent = new RecentHashes();
  private committedHeight = 0n;
  private stopping = false;
  private running = false;
  private requestId = 0n;
  private readonly counters = { blocks: 0, txs: 0, rejected: 0, execRetries: 0, lastBlockMs: 0 };
  private stopMessages: () => void = () => {};
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly config: LanesConfig,
    private readonly genesis: Genesis,
    private readonly log: Logger,
  ) {}

  stats(): SchedulerStats {
    return { committedHeight: this.committedHeight, ...this.counters, running: this.running };
  }

  async start(): Promise<void> {
    const head = await this.waitForState();
    this.committedHeight = head.height;
    await this.loadRecentHashes(head.height);
    const consumer = await this.nc.jetstream().consumers.get(BLOCK_STREAM, { opt_start_seq: Number(head.height + 1n) });
    const messages = await consumer.consume({ max_messages: 4 });
    this.stopMessages = () => messages.stop();
    this.running = true;
    this.log.info({ committedHeight: head.height }, 'scheduler resuming after committed height');
    this.loopDone = (async () => {
      try {
        for await (const m of messages) {
          if (this.stopping) break;
          await this.processBlock(OrderedBlock.decode(m.data));
        }
      } catch (err) {
        if (!this.stopping) {
          this.log.fatal({ err }, 'scheduler loop failed; exiting so a restart resumes from committed state');
          process.exit(1);
        }
      } finally {
        this.running = false;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopMessages();
    await this.loopDone;
  }

  blockEnv(block: OrderedBlock): BlockEnv {
    return {
      number: block.height,
      timestamp: block.timestamp,
      coinbase: this.genesis.coinbase,
      gasLimit: this.genesis.gasLimit,
      baseFeePerGas: bigintToBytes(this.genesis.baseFeePerGas),
      prevRandao: block.digest,
      chainId: this.genesis.chainId,
    };
  }

  private async processBlock(block: OrderedBlock): Promise<void> {
    if (block.height <= this.committedHeight) return; // already committed before a restart
    if (block.height !== this.committedHeight + 1n) {
      throw new Error(`block ${block.height} arrived while committed height is ${this.committedHeight}`);
    }
    const started = performance.now();
    const env = this.blockEnv(block);
    const req: ExecRequest = {
      env,
      baseHeight: this.committedHeight,
      txs: block.txs,
      txIndexes: block.txs.map((_, i) => i),
      recentHashes: this.recent.windowFor(block.height),
      prefetched: [],
      requestId: ++this.requestId,
    };
    const results = block.txs.length === 0 ? [] : await this.executeWithRetries(req);
    const execMs = performance.now() - started;
    const commit = assembleCommit(block, env, results);
    const res = await this.commitWithRetries(commit);
    const header = res.header!;
    this.recent.record(header.number, header.hash);
    this.committedHeight = header.number;
    await this.trimStreams(block).catch((err) => this.log.warn({ err, height: block.height }, 'stream trim failed; will retry next block'));
    const totalMs = performance.now() - started;
    this.counters.blocks++;
    this.counters.txs += commit.txs.length;
    this.counters.rejected += commit.rejections.length;
    this.counters.lastBlockMs = totalMs;
    this.log[block.txs.length === 0 ? 'debug' : 'info']({
      height: header.number, txs: commit.txs.length, rejected: commit.rejections.length,
      gasUsed: header.gasUsed.toString(), execMs: Math.round(execMs), totalMs: Math.round(totalMs),
      alreadyCommitted: res.alreadyCommitted,
    }, 'block committed');
  }

  private async executeWithRetries(req: ExecRequest): Promise<TxResult[]> {
    const attempts = Math.max(1, this.config.scheduler.execRetries);
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await request(this.nc, EXEC_BLOCK_SUBJECT, ExecRequest, req, ExecResponse, this.config.scheduler.execTimeoutMs);
        if (res.error !== '') throw new Error(`executor ${res.executorId}: ${res.error}`);
        if (res.results.length !== req.txs.length) throw new Error(`executor ${res.executorId} returned ${res.results.length} of ${req.txs.length} results`);
        return res.results;
      } catch (err) {
        this.counters.execRetries++;
        if (this.stopping) throw err;
        const backoffMs = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        // Past the retry budget the block is not dropped: executors may be restarting. Keep
        // trying at the slowest pace, loudly, so an operator sees it.
        const level = attempt >= attempts ? 'error' : 'warn';
        this.log[level]({ err: (err as Error).message, height: req.env?.number, attempt }, 'block execution failed; retrying');
        await new Promise((r) => setTimeout(r, backoffMs));
      }
    }
  }

  private async commitWithRetries(commit: CommitRequest): Promise<CommitResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await request(this.nc, STATE_COMMIT_SUBJECT, CommitRequest, commit, CommitResponse, this.config.requestTimeoutMs * 3);
        if (res.error !== '') throw new Error(res.error);
        if (res.header === undefined) throw new Error('commit answered without a header');
        return res;
      } catch (err) {
        // A commit is idempotent (fenced by height), so retrying after a timeout is safe.
        if (this.stopping || attempt >= 20) throw err;
        this.log.warn({ err: (err as Error).message, height: commit.env?.number, attempt }, 'commit failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(attempt, 6))));
      }
    }
  }

  /** Drops what is committed from both streams; the last block stays for the sequencer's restart. */
  private async trimStreams(block: OrderedBlock): Promise<void> {
    if (block.lastTxStreamSeq > 0n) await this.jsm.streams.purge(TX_STREAM, { seq: Number(block.lastTxStreamSeq + 1n) });
    await this.jsm.streams.purge(BLOCK_STREAM, { seq: Number(block.height) });
  }

  private async waitForState(): Promise<HeadResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(this.nc, STATE_HEAD_SUBJECT, HeadRequest, {}, HeadResponse, 2000);
      } catch (err) {
        if (attempt >= 60 || this.stopping) throw err;
        this.log.warn({ attempt }, 'state service not answering yet; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async loadRecentHashes(height: bigint): Promise<void> {
    const from = height >= BigInt(BLOCKHASH_WINDOW) ? height - BigInt(BLOCKHASH_WINDOW) + 1n : 0n;
    const heights: bigint[] = [];
    for (let h = from; h <= height; h++) heights.push(h);
    for (let i = 0; i < heights.length; i += 32) {
      await Promise.all(heights.slice(i, i + 32).map(async (h) => {
        const res = await request(this.nc, STATE_BLOCK_SUBJECT, BlockRequest, { number: h, hash: Buffer.alloc(0), latest: false }, BlockResponse, this.config.requestTimeoutMs);
        if (!res.found || res.header === undefined) throw new Error(`state has no header for committed block ${h}`);
        this.recent.record(h, res.header.hash);
      }));
    }
  }
}
