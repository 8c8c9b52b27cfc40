// The executors the scheduler can address: learned from their heartbeats (ExecutorHello), each
// reachable on its own subject so partitions go where their keys went last time (warm caches).
// An executor that stops saying hello, or says it is leaving, gets no new work; a new one takes
// work from its first hello on. With none known, work goes to the queue group.
import type { NatsConnection, Subscription } from 'nats';
import { ExecRequest, ExecResponse, ExecutorHello, LookaheadResponse } from '../../gen/lanes/v1/bus.js';
import { request } from '../../lib/bus/nats.js';
import { withViews } from '../../lib/bus/protoBytes.js';
import { EXEC_BLOCK_SUBJECT, EXECUTOR_HELLO_MS, EXECUTOR_HELLO_SUBJECT, executorBlockSubject, executorLookaheadSubject } from '../../lib/bus/subjects.js';
import type { ExecutorPool } from '../../lib/engine/index.js';

/** An executor silent for this long is considered gone. */
const EXECUTOR_TTL_MS = EXECUTOR_HELLO_MS * 4;
const MAX_EXECUTORS = 1024;
/**
 * A lookahead answers within a block's time or is not worth waiting for: the block it prepares
 * then loads its own state, as it would have without one.
 */
const LOOKAHEAD_TIMEOUT_MS = 2_000;
/**
 * Answers decode with their bytes fields as views into the message (lib/bus/protoBytes.ts): the
 * results live until their block commits, and write-set values are unpacked into copies.
 */
const EXEC_RESPONSE_VIEWS = withViews(ExecResponse);

export class NatsExecutorPool implements ExecutorPool {
  private readonly seen = new Map<string, number>();
  private sub: Subscription | null = null;

  constructor(private readonly nc: NatsConnection, private readonly timeoutMs: number) {}

  start(): void {
    this.sub = this.nc.subscribe(EXECUTOR_HELLO_SUBJECT);
    void (async () => {
      for await (const m of this.sub!) {
        const hello = ExecutorHello.decode(m.data);
        if (hello.leaving) this.seen.delete(hello.executorId);
        else if (this.seen.size < MAX_EXECUTORS || this.seen.has(hello.executorId)) this.seen.set(hello.executorId, Date.now());
      }
    })();
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  /** Live executor ids, sorted so slot → executor is stable while membership is. */
  live(): string[] {
    const now = Date.now();
    for (const [id, at] of this.seen) if (now - at > EXECUTOR_TTL_MS) this.seen.delete(id);
    return [...this.seen.keys()].sort();
  }

  size(): number {
    return Math.max(1, this.live().length);
  }

  run(req: ExecRequest, slot: number): Promise<ExecResponse> {
    const ids = this.live();
    const subject = ids.length === 0 ? EXEC_BLOCK_SUBJECT : executorBlockSubject(ids[slot % ids.length]!);
    return request(this.nc, subject, ExecRequest, req, EXEC_RESPONSE_VIEWS, this.timeoutMs);
  }

  lookahead(req: ExecRequest, slot: number): Promise<LookaheadResponse> {
    const ids = this.live();
    // Without known executors, work goes to the queue group, and any of them may take it.
    if (ids.length === 0) return Promise.resolve({ keysLoaded: 0, stateRoundTrips: 0, error: '' });
    const timeoutMs = Math.min(this.timeoutMs, LOOKAHEAD_TIMEOUT_MS);
    return request(this.nc, executorLookaheadSubject(ids[slot % ids.length]!), ExecRequest, req, LookaheadResponse, timeoutMs);
  }
}
