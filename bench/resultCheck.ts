// The run's own result check. Two parts, both pure over plain inputs:
//  1. accounting — every transaction ingress accepted is in exactly one committed block or was
//     rejected with a reason; none is missing (lost) or seen twice (double-applied); none that
//     ingress refused shows up in a block;
//  2. state — the committed values the workload implies (nonces, balances, token balances, pool
//     reserves, NFT counts; from lib/workloads' model run over the included txs in committed
//     order) equal what the cluster serves.
// readExpected() turns the model's queries into JSON-RPC calls.
import type { ExpectedValue, StateQuery } from '../lib/workloads/index.js';
import { decodeWord } from '../lib/workloads/index.js';
import type { RpcCall } from './client.js';

export interface AccountingInput {
  /** Hashes (hex) ingress acknowledged. */
  accepted: Iterable<string>;
  /** Hashes (hex) ingress refused (not counting calls that failed as a whole). */
  refused: Iterable<string>;
  /** Committed blocks' tx hashes (hex) in height order, only blocks from this run. */
  blocks: Array<{ height: bigint; txHashes: string[] }>;
  /** Hashes (hex) rejected at execution, with the reason. */
  executionRejections: ReadonlyMap<string, string>;
}

export interface AccountingResult {
  included: number;
  lost: string[];
  duplicated: Array<{ hash: string; heights: bigint[] }>;
  refusedButIncluded: string[];
  /** Txs in the blocks that this run did not send (another client's, or not ours). */
  foreign: number;
  ok: boolean;
}

export function checkAccounting(input: AccountingInput, ours: ReadonlySet<string>): AccountingResult {
  const heightsOf = new Map<string, bigint[]>();
  let foreign = 0;
  for (const block of input.blocks) {
    for (const h of block.txHashes) {
      if (!ours.has(h)) { foreign++; continue; }
      const list = heightsOf.get(h);
      if (list === undefined) heightsOf.set(h, [block.height]); else list.push(block.height);
    }
  }
  const lost: string[] = [];
  for (const h of input.accepted) if (!heightsOf.has(h) && !input.executionRejections.has(h)) lost.push(h);
  const duplicated = [...heightsOf].filter(([, hs]) => hs.length > 1).map(([hash, heights]) => ({ hash, heights }));
  for (const [h] of heightsOf) if (input.executionRejections.has(h)) duplicated.push({ hash: h, heights: heightsOf.get(h)! });
  const refusedButIncluded = [...input.refused].filter((h) => heightsOf.has(h));
  return {
    included: heightsOf.size, lost, duplicated, refusedButIncluded, foreign,
    ok: lost.length === 0 && duplicated.length === 0 && refusedButIncluded.length === 0,
  };
}

export interface StateMismatch {
  label: string;
  expected: bigint;
  actual: bigint;
}

export function compareState(expected: readonly ExpectedValue[], actual: readonly bigint[]): StateMismatch[] {
  if (expected.length !== actual.length) throw new Error(`compareState: ${expected.length} expected values, ${actual.length} read`);
  const out: StateMismatch[] = [];
  expected.forEach((e, i) => { if (e.value !== actual[i]) out.push({ label: e.label, expected: e.value, actual: actual[i]! }); });
  return out;
}

const hex = (b: Buffer): string => '0x' + b.toString('hex');

export function rpcCallFor(q: StateQuery, blockTag: string): RpcCall {
  switch (q.kind) {
    case 'nonce': return { method: 'eth_getTransactionCount', params: [hex(q.address), blockTag] };
    case 'balance': return { method: 'eth_getBalance', params: [hex(q.address), blockTag] };
    case 'call': return { method: 'eth_call', params: [{ to: hex(q.to), data: hex(q.data) }, blockTag] };
  }
}

export function decodeRpcResult(q: StateQuery, result: unknown): bigint {
  if (typeof result !== 'string' || !result.startsWith('0x')) throw new Error(`unexpected JSON-RPC result ${JSON.stringify(result)}`);
  if (q.kind !== 'call') return BigInt(result);
  return decodeWord(Buffer.from(result.slice(2), 'hex'), q.word);
}

/** Reads every expected value from a cluster at `blockTag` (a 0x block number: one consistent height). */
export async function readExpected(rpcBatch: (calls: RpcCall[]) => Promise<unknown[]>, expected: readonly ExpectedValue[], blockTag: string): Promise<bigint[]> {
  const results = await rpcBatch(expected.map((e) => rpcCallFor(e.query, blockTag)));
  return expected.map((e, i) => decodeRpcResult(e.query, results[i]));
}
