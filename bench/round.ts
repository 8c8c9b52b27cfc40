// One benchmark round against a connected cluster: send a pre-signed set of transactions open-loop
// at a target rate, wait until every acknowledged one is committed (or rejected), and measure from
// the blocks: committed TPS, Mgas/s, outcomes, submit→commit latency, re-executions, CPU per service,
// and the serial baseline over the same blocks.
import type { WorkloadTx } from '../lib/workloads/index.js';
import { SerialBaseline, type BaselineBlock } from './baseline.js';
import type { BlockWatcher } from './blockWatcher.js';
import type { ClusterClient } from './client.js';
import { sendOpenLoop, type SubmitOutcome } from './loadgen.js';
import { reexecutionBetween, sampleResources, usageBetween, type ServiceEndpoint, type ServiceUsage } from './resources.js';
import { latencyCdf, summarizeLatencies, type LatencySummary } from './stats.js';

export interface TxRecord {
  tx: WorkloadTx;
  submit: SubmitOutcome;
  height?: bigint;
  status?: 'success' | 'reverted' | 'invalid';
  gasUsed?: bigint;
  rejection?: string;
}

export interface RoundResult {
  round: number;
  targetRateTps: number;
  durationS: number;
  txs: number;
  signSeconds: number;
  sendRateTps: number;
  sendLagMaxMs: number;
  committed: number;
  committedTps: number;
  mgasPerSec: number;
  windowS: number;
  blocks: number;
  succeeded: number;
  reverted: number;
  /** Refused at submission, by reason. */
  refused: Record<string, number>;
  /** Ordered but rejected at execution, by reason. */
  rejectedInBlock: Record<string, number>;
  /** Acknowledged but neither committed nor rejected when the drain timed out. */
  missing: number;
  latency: LatencySummary;
  latencyCdf: Array<[number, number]>;
  reexecutionRate: number | null;
  reexecutions: number | null;
  services: ServiceUsage[];
  clientCpuSeconds: number;
  baseline: { txs: number; seconds: number; tps: number; ratio: number | null; rootMismatches: number; stopped?: string };
}

export interface RoundContext {
  client: ClusterClient;
  watcher: BlockWatcher;
  baseline: SerialBaseline;
  endpoints: readonly ServiceEndpoint[];
  /** Every tx this run sent, by hash hex (for the baseline replay and the result check). */
  records: Map<string, TxRecord>;
  drainTimeoutS: number;
  onProgress: (line: string) => void;
}

const count = (m: Record<string, number>, key: string): void => { m[key] = (m[key] ?? 0) + 1; };

export async function runRound(ctx: RoundContext, round: number, txs: WorkloadTx[], rateTps: number, durationS: number, signSeconds: number): Promise<RoundResult> {
  const before = await sampleResources(ctx.endpoints);
  const cpu0 = process.cpuUsage();
  const startHeight = ctx.watcher.height;
  const label = `round ${round} @ ${rateTps} tx/s`;
  const hexes = txs.map((t) => t.hash.toString('hex'));
  const committedSoFar = new CommittedCount(ctx.watcher, hexes);
  const send = await sendOpenLoop(ctx.client, txs, {
    rateTps,
    onProgress: (sent, accepted, refused) => ctx.onProgress(`${label}: sent ${sent}/${txs.length}, accepted ${accepted}, refused ${refused}, committed ${committedSoFar.count()}, head ${ctx.watcher.height}`),
  });
  txs.forEach((tx, i) => ctx.records.set(hexes[i]!, { tx, submit: send.outcomes.get(hexes[i]!)! }));
  const ackedIndexes = hexes.flatMap((hex, i) => (send.outcomes.get(hex)?.accepted === true ? [i] : []));
  const acked = ackedIndexes.map((i) => txs[i]!);
  const missing = await drain(ctx, ackedIndexes.map((i) => ({ tx: txs[i]!, hex: hexes[i]! })), label);
  const after = await sampleResources(ctx.endpoints);
  const cpu1 = process.cpuUsage(cpu0);
  await ctx.watcher.settle();

  // Receipts: status, gas and execution-time rejections of everything acknowledged.
  const receipts = await ctx.client.receipts(acked.map((t) => t.hash));
  const rejectedInBlock: Record<string, number> = {};
  let succeeded = 0;
  let reverted = 0;
  receipts.forEach((r, i) => {
    const rec = ctx.records.get(acked[i]!.hash.toString('hex'))!;
    if (r.found && r.receipt !== undefined) {
      rec.status = r.receipt.success ? 'success' : 'reverted';
      rec.gasUsed = r.receipt.gasUsed;
      if (r.receipt.success) succeeded++; else reverted++;
    } else if (r.found && r.rejection !== undefined) {
      rec.status = 'invalid';
      rec.rejection = r.rejection.reason;
      count(rejectedInBlock, r.rejection.reason);
    }
  });
  const refused: Record<string, number> = {};
  for (const o of send.outcomes.values()) if (!o.accepted) count(refused, o.reason ?? 'unknown');

  // Commit times and throughput, from the blocks.
  const latencies: number[] = [];
  let lastCommitMs = send.startMs;
  const heights = new Set<bigint>();
  for (const tx of acked) {
    const hex = tx.hash.toString('hex');
    const height = ctx.watcher.txBlock.get(hex);
    if (height === undefined) continue;
    const block = ctx.watcher.blocks.get(height)!;
    ctx.records.get(hex)!.height = height;
    heights.add(height);
    latencies.push(block.seenAtMs - send.outcomes.get(hex)!.submittedAtMs);
    lastCommitMs = Math.max(lastCommitMs, block.seenAtMs);
  }
  const windowS = Math.max(1e-3, (lastCommitMs - send.startMs) / 1000);
  let gas = 0n;
  for (const h of heights) gas += ctx.watcher.blocks.get(h)!.header.gasUsed;
  const committed = latencies.length;

  // Serial baseline over the same blocks (the cluster is idle now, so they do not compete).
  ctx.onProgress(`${label}: serial reference executor over blocks ${startHeight + 1n}…${ctx.watcher.height}`);
  const base = await replayBaseline(ctx, ctx.watcher.height);
  const committedTps = committed / windowS;
  const reexec = reexecutionBetween(before, after);
  return {
    round, targetRateTps: rateTps, durationS, txs: txs.length, signSeconds, sendRateTps: send.sendRateTps, sendLagMaxMs: send.maxLagMs,
    committed, committedTps, mgasPerSec: Number(gas) / 1e6 / windowS, windowS, blocks: heights.size, succeeded, reverted, refused, rejectedInBlock,
    missing: missing.length, latency: summarizeLatencies(latencies), latencyCdf: latencyCdf(latencies),
    reexecutionRate: reexec === undefined || reexec.txs === 0 ? null : reexec.reexecutions / reexec.txs,
    reexecutions: reexec === undefined ? null : reexec.reexecutions,
    services: [...usageBetween(before, after), { name: 'bench-client', source: 'proc', cpuSeconds: (cpu1.user + cpu1.system) / 1e6 }],
    clientCpuSeconds: (cpu1.user + cpu1.system) / 1e6,
    baseline: {
      txs: base.txs, seconds: base.seconds, tps: base.tps, ratio: base.tps > 0 ? committedTps / base.tps : null, rootMismatches: base.rootMismatches.length,
      ...(base.stoppedAt !== undefined ? { stopped: `at block ${base.stoppedAt.height}: ${base.stoppedAt.reason}` } : {}),
    },
  };
}

/**
 * How many of a round's txs the watcher has seen in blocks. The progress line asks every tick of
 * the send loop, so each call scans only the blocks recorded since the last one: a scan of every
 * tx per tick cost the bench process half its CPU while sending, CPU the cluster under test
 * shares on one machine.
 */
export class CommittedCount {
  private readonly unseen: Set<string>;
  private scannedHeight: bigint;
  private seen = 0;

  constructor(private readonly watcher: Pick<BlockWatcher, 'blocks' | 'height'>, hexes: readonly string[]) {
    this.unseen = new Set(hexes);
    this.scannedHeight = watcher.height;
  }

  count(): number {
    for (let h = this.scannedHeight + 1n; h <= this.watcher.height; h++) {
      const block = this.watcher.blocks.get(h);
      if (block === undefined) break; // the watcher records blocks in height order; not yet here
      for (const x of block.txHashes) if (this.unseen.delete(x.toString('hex'))) this.seen++;
      this.scannedHeight = h;
    }
    return this.seen;
  }
}

/** Waits until every acknowledged tx is in a block or rejected; returns those that are neither. */
/** Pending txs asked about per rejection poll in the drain, oldest first. */
const REJECTION_POLL_TXS = 1_000;

async function drain(ctx: RoundContext, acked: ReadonlyArray<{ tx: WorkloadTx; hex: string }>, label: string): Promise<WorkloadTx[]> {
  const deadline = performance.now() + ctx.drainTimeoutS * 1000;
  let pending = acked.filter((t) => !ctx.watcher.txBlock.has(t.hex));
  let lastReceiptCheck = performance.now();
  while (pending.length > 0 && performance.now() < deadline) {
    if (ctx.watcher.error !== undefined) throw ctx.watcher.error;
    await new Promise((r) => setTimeout(r, 100));
    pending = pending.filter((t) => !ctx.watcher.txBlock.has(t.hex));
    ctx.onProgress(`${label}: draining, ${acked.length - pending.length}/${acked.length} committed, head ${ctx.watcher.height}`);
    if (pending.length > 0 && performance.now() - lastReceiptCheck > 2_000) {
      // Txs rejected at execution are in no block's list: ask for their rejections. Only the
      // oldest pending ones (the list is in send order, and the chain orders what came first
      // first): asking for every pending tx every 2 s made the drain of a 24,000-tx round cost
      // the state service and ingress tens of thousands of lookups, counted in their µs per tx.
      lastReceiptCheck = performance.now();
      const oldest = pending.slice(0, REJECTION_POLL_TXS);
      const res = await ctx.client.receipts(oldest.map((t) => t.tx.hash));
      const rejected = new Set(oldest.filter((_, i) => res[i]!.found && res[i]!.rejection !== undefined));
      pending = pending.filter((t) => !rejected.has(t));
    }
  }
  return pending.map((t) => t.tx);
}

export async function replayBaseline(ctx: RoundContext, upTo: bigint): Promise<Awaited<ReturnType<SerialBaseline['replay']>>> {
  const blocks: BaselineBlock[] = [];
  for (let h = ctx.baseline.replayedHeight + 1n; h <= upTo; h++) {
    let seen = ctx.watcher.blocks.get(h);
    if (seen === undefined) {
      const res = await ctx.client.block(h);
      if (!res.found || res.header === undefined) throw new Error(`block ${h} not found`);
      seen = { header: res.header, txHashes: res.txHashes.map((x) => Buffer.from(x)), seenAtMs: Number.NaN };
    }
    const txs = seen.txHashes.map((x) => ctx.records.get(x.toString('hex'))?.tx);
    blocks.push({ header: seen.header, txs: txs.every((t) => t !== undefined) ? txs.map((t) => ({ raw: t!.raw, hash: t!.hash, sender: t!.sender })) : null });
  }
  return ctx.baseline.replay(blocks);
}
