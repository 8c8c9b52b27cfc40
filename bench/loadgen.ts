// Open-loop load: transactions are due at a fixed target rate whatever the cluster does, and
// each one's latency is measured from the time it was due (not from when the call left), so a slow
// cluster cannot hide behind a slow client (no coordinated omission). Due transactions leave in one
// gRPC SubmitTransactions call per tick, with one call in flight: ingress refuses a nonce gap, so
// two concurrent calls could reorder a sender's nonces. While a call is out, due transactions
// gather into the next, larger call; the measured send rate and lag show when the client falls
// behind its schedule.
import type { SubmitResult } from '../gen/lanes/v1/api.js';
import type { WorkloadTx } from '../lib/workloads/index.js';

export const TICK_MS = 10;
export const MAX_TXS_PER_CALL = 1_000;
export const MAX_CALLS_IN_FLIGHT = 1;

export interface SubmitOutcome {
  /** performance.now() when it was due to be sent (open-loop schedule). */
  submittedAtMs: number;
  accepted: boolean;
  /** Reason when not accepted (ingress message, or the gRPC error). */
  reason?: string;
  /** True when the call failed as a whole: the tx may or may not have been accepted. */
  unknown?: boolean;
}

export interface SendReport {
  sent: number;
  accepted: number;
  rejected: number;
  startMs: number;
  endMs: number;
  sendRateTps: number;
  /** How far behind schedule the last tx left, ms (0 = on time). */
  maxLagMs: number;
  outcomes: Map<string, SubmitOutcome>;
}

export interface Submitter {
  submit(rawTxs: Buffer[]): Promise<SubmitResult[]>;
}

export interface OpenLoopOptions {
  rateTps: number;
  onProgress?: (sent: number, accepted: number, rejected: number) => void;
  now?: () => number;
}

export async function sendOpenLoop(submitter: Submitter, txs: readonly WorkloadTx[], options: OpenLoopOptions): Promise<SendReport> {
  if (!(options.rateTps > 0)) throw new RangeError(`rate must be positive, got ${options.rateTps}`);
  const now = options.now ?? (() => performance.now());
  const outcomes = new Map<string, SubmitOutcome>();
  let sent = 0;
  let accepted = 0;
  let rejected = 0;
  let inFlight = 0;
  let maxLagMs = 0;
  const calls: Promise<void>[] = [];
  const startMs = now();
  let endMs = startMs;
  while (sent < txs.length) {
    const elapsedMs = now() - startMs;
    const due = Math.min(txs.length, Math.floor((elapsedMs / 1000) * options.rateTps) + 1);
    if (due > sent && inFlight < MAX_CALLS_IN_FLIGHT) {
      const batch = txs.slice(sent, Math.min(due, sent + MAX_TXS_PER_CALL));
      const firstIndex = sent;
      const dueAtMs = (k: number): number => startMs + ((firstIndex + k) / options.rateTps) * 1000;
      const issuedAtMs = now();
      maxLagMs = Math.max(maxLagMs, issuedAtMs - dueAtMs(0));
      sent += batch.length;
      endMs = issuedAtMs;
      inFlight++;
      calls.push(submitter.submit(batch.map((t) => t.raw)).then((results) => {
        batch.forEach((tx, i) => {
          const r = results[i];
          const ok = r !== undefined && r.accepted;
          if (ok) accepted++; else rejected++;
          const submittedAtMs = dueAtMs(i);
          outcomes.set(tx.hash.toString('hex'), ok ? { submittedAtMs, accepted: true } : { submittedAtMs, accepted: false, reason: r?.errorMessage || 'no result' });
        });
      }, (err: Error) => {
        rejected += batch.length;
        batch.forEach((tx, i) => outcomes.set(tx.hash.toString('hex'), { submittedAtMs: dueAtMs(i), accepted: false, unknown: true, reason: `gRPC: ${err.message}` }));
      }).finally(() => { inFlight--; }));
      options.onProgress?.(sent, accepted, rejected);
      continue;
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
    options.onProgress?.(sent, accepted, rejected);
  }
  await Promise.all(calls);
  const spanS = Math.max((endMs - startMs) / 1000, txs.length / options.rateTps);
  return { sent, accepted, rejected, startMs, endMs, sendRateTps: spanS > 0 ? sent / spanS : 0, maxLagMs, outcomes };
}
