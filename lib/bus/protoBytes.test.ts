import { describe, expect, it } from 'vitest';
import { ExecRequest, ExecResponse, TxStatus, type TxResult } from '../../gen/lanes/v1/bus.js';
import { EMPTY_BYTES, withViews } from './protoBytes.js';

function result(i: number): TxResult {
  return {
    txIndex: i, status: TxStatus.TX_STATUS_SUCCESS, error: '', errorCode: 0, gasUsed: 34_000n + BigInt(i),
    logs: [{ address: Buffer.alloc(20, 0xaa), topics: [Buffer.alloc(32, 1), Buffer.alloc(32, 2 + i)], data: Buffer.alloc(32, 3) }],
    contractAddress: Buffer.alloc(0), returnData: Buffer.alloc(32, 1), incarnation: 0, txType: 2, to: Buffer.alloc(20, 0xbb),
    effectiveGasPrice: Buffer.from([7]), coinbaseDelta: Buffer.from([1, 2]), readsPendingBlockHash: false,
    writesPacked: Buffer.from([9, 8, 7, i]), readsPacked: Buffer.alloc(0),
  };
}

function response(): Uint8Array {
  return ExecResponse.encode({ requestId: 5n, results: [result(0), result(1)], error: '', stateRoundTrips: 2, executorId: 'x', cpuMicros: 9n }).finish();
}

/** Whether `a` lies inside `b`'s memory (small Buffers share a pool's ArrayBuffer, so the buffer alone does not tell). */
function sameMemory(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset >= b.byteOffset && a.byteOffset + a.byteLength <= b.byteOffset + b.byteLength;
}

describe('protobuf bytes fields (scripts/protoBytes.mjs rewrote the generated code)', () => {
  it('decodes every empty bytes field as the one shared empty Buffer', () => {
    const decoded = ExecResponse.decode(response());
    expect(decoded.results[0]!.contractAddress).toBe(EMPTY_BYTES);
    expect(decoded.results[1]!.readsPacked).toBe(EMPTY_BYTES);
    // The base object of a message with no field set, too.
    expect(ExecRequest.decode(new Uint8Array(0)).recentHashes).toEqual([]);
    expect(ExecResponse.decode(new Uint8Array(0)).results).toEqual([]);
  });

  it('copies non-empty fields by default: the message bytes can change afterwards', () => {
    const bytes = Buffer.from(response());
    const decoded = ExecResponse.decode(bytes);
    const before = Buffer.from(decoded.results[1]!.writesPacked);
    bytes.fill(0);
    expect(decoded.results[1]!.writesPacked).toEqual(before);
    expect(sameMemory(decoded.results[1]!.writesPacked, bytes)).toBe(false);
  });

  it('decodes to views with withViews, equal to the copies, as Buffers, from a Buffer or a plain Uint8Array', () => {
    const codec = withViews(ExecResponse);
    const copied = ExecResponse.decode(response());
    for (const bytes of [Buffer.from(response()), new Uint8Array(response())]) {
      const viewed = codec.decode(bytes);
      expect(viewed).toEqual(copied);
      const r = viewed.results[1]!;
      for (const field of [r.writesPacked, r.returnData, r.to, r.logs[0]!.address, r.logs[0]!.topics[1]!, r.logs[0]!.data]) {
        expect(Buffer.isBuffer(field)).toBe(true);
        expect(sameMemory(field, bytes)).toBe(true);
      }
      expect(r.contractAddress).toBe(EMPTY_BYTES);
    }
    // withViews encodes as the codec does.
    expect(Buffer.from(codec.encode(copied).finish())).toEqual(Buffer.from(response()));
  });

  it('goes back to copies after a decode with views, also one that threw', () => {
    const codec = withViews(ExecResponse);
    const truncated = response().subarray(0, 40);
    expect(() => codec.decode(truncated)).toThrow();
    const bytes = Buffer.from(response());
    codec.decode(bytes);
    const decoded = ExecResponse.decode(bytes);
    expect(sameMemory(decoded.results[0]!.writesPacked, bytes)).toBe(false);
  });
});
