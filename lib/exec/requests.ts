// ExecRequests built so that every one a process holds has the same shape: one hidden class for
// the request, packed arrays for its txs and indexes.
//
// V8 compiles the functions that read requests (runBlockSerially, the lookahead's key
// prediction, ExecRequest.encode, the engine's validation loop) for the shapes they have met.
// A shape first met later in a run deoptimizes them there, and each is compiled again, for
// 20–70 ms of a V8 helper thread that a 2-core host takes from the EVMs (--trace-deopt, session
// 26: runBlockSerially, upcomingKeys, predictLikelyKeys and encode on "wrong map" 11–50 blocks
// into a run, runParallel one block after TurboFan first compiled it). Two causes:
// - `Object.assign({}, req, {…})` gives the result a hidden class of its own; an object literal
//   with every field in the generated type's order (createBaseExecRequest, which decoding starts
//   from) shares the class of every other such literal and of decoded requests;
// - `array.map(…)` returns a packed array while its caller runs unoptimized, and a holey one once
//   TurboFan has inlined the map into it; an array that is pushed into stays packed.
import type { ExecRequest } from '../../gen/lanes/v1/bus.js';
import type { Tx } from '../../gen/lanes/v1/types.js';
import { shareCallFields } from '../chain/txFields.js';

/** `req` with other txs, indexes, partition flag and request id. */
export function withTxs(req: ExecRequest, txs: Tx[], txIndexes: number[], partition: boolean, requestId: bigint): ExecRequest {
  return {
    env: req.env, baseHeight: req.baseHeight, txs, txIndexes, recentHashes: req.recentHashes, prefetched: req.prefetched, requestId, partition,
  };
}

/** The txs at `indexes`, in a packed array; call fields already read for `txs` come along (shareCallFields). */
export function pick(txs: readonly Tx[], indexes: readonly number[]): Tx[] {
  const out: Tx[] = [];
  for (let k = 0; k < indexes.length; k++) out.push(txs[indexes[k]!]!);
  shareCallFields(txs, out, indexes);
  return out;
}

/** 0 … n - 1 in a packed array: an ExecRequest's txIndexes for a whole block. */
export function blockIndexes(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(i);
  return out;
}
