import { describe, expect, it } from 'vitest';
import { OrderedBlock } from '../../gen/lanes/v1/bus.js';
import { lastBlockDecoder } from './scheduler.js';

/** A message whose data getter gives a new view at each access, as a JetStream message with headers does. */
function messageOf(block: OrderedBlock): { readonly data: Uint8Array } {
  const bytes = Buffer.concat([Buffer.from('NATS/1.0\r\n\r\n'), OrderedBlock.encode(block).finish()]);
  return { get data() { return bytes.subarray(12); } };
}

describe('lastBlockDecoder', () => {
  const block = (height: bigint): OrderedBlock => ({
    height, parentDigest: Buffer.alloc(32), timestamp: 1n, txRoot: Buffer.alloc(32), digest: Buffer.alloc(32, 1), lastTxStreamSeq: 0n,
    txs: [{ raw: Buffer.from([1, 2, 3]), hash: Buffer.alloc(32, 2), sender: Buffer.alloc(20, 3) }],
  });

  it('answers the message it decoded last with the same block (the txs the lookahead planned), and decodes a new one', () => {
    const decode = lastBlockDecoder();
    const first = messageOf(block(5n));
    expect(first.data).not.toBe(first.data);
    const peeked = decode(first); // as `next`, while the block before runs
    const due = decode(first); // its own turn
    expect(due).toBe(peeked);
    expect(due.txs).toBe(peeked.txs);
    expect(due.height).toBe(5n);
    const second = decode(messageOf(block(6n)));
    expect(second.height).toBe(6n);
    expect(decode(first)).not.toBe(peeked); // only the last one is kept
  });
});
