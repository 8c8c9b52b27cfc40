// The per-block conflict report: how much work the engine did, which keys caused re-executions,
// and how parallel the block could be at best (its longest dependency chain).
import { keyHex, type StateKey } from '../state/keys.js';

export interface ConflictReport {
  height: bigint;
  txs: number;
  mode: 'parallel' | 'serial';
  /** Why the block ran serially, when it did. */
  serialReason: string;
  partitions: number;
  executions: number;
  reexecutions: number;
  /** Keys that invalidated optimistic results (as keyHex spells them), most frequent first (at most TOP_KEYS). */
  topKeys: Array<{ key: string; count: number }>;
  longestChain: number;
  /** txs / longestChain: the speed-up the dependencies allow with unlimited executors. */
  idealSpeedup: number;
  partitionRetries: number;
  fallbacks: number;
  stateRoundTrips: number;
  /** Bytes of read/write sets held for the block (an estimate). */
  memoryBytes: number;
  execMs: number;
  /** Parallel blocks: planning the partitions on the block's path (0 when the lookahead's plan was reused). */
  planMs: number;
  /** Parallel blocks: waiting for the executors' partitions (bus, executors' EVM work). */
  executorsMs: number;
  /** Parallel blocks: validating read-sets and applying write-sets in block order. */
  validateMs: number;
  /** Parallel blocks: re-executing, in the scheduler, the txs that read stale versions. */
  reexecuteMs: number;
  /** Keys loaded for the next block while this one ran (its lookahead), and in how many round trips. */
  lookaheadKeys: number;
  lookaheadRoundTrips: number;
  /** Lookahead requests to executors that failed or timed out (the next block then loads its own). */
  lookaheadFailures: number;
}

export const TOP_KEYS = 10;

/** Longest chain of read-after-write dependencies; deps[i] lists earlier txs that tx i read from. */
export function longestChain(deps: readonly (readonly number[])[]): number {
  const depth = new Int32Array(deps.length);
  let best = 0;
  for (let i = 0; i < deps.length; i++) {
    let d = 0;
    for (const j of deps[i]!) if (j >= 0 && j < i && depth[j]! > d) d = depth[j]!;
    depth[i] = d + 1;
    if (depth[i]! > best) best = depth[i]!;
  }
  return best;
}

/** The most frequent keys of `counts`, spelled in hex for people (ties in key order). */
export function topKeys(counts: ReadonlyMap<StateKey, number>, limit = TOP_KEYS): Array<{ key: string; count: number }> {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([key, count]) => ({ key: keyHex(key), count }));
}

/** A JSON-safe copy (bigint height as string) for logs and the report subject. */
export function reportToJson(r: ConflictReport): Record<string, unknown> {
  return { ...r, height: r.height.toString() };
}
