import { describe, expect, it } from 'vitest';
import { BlockCommitted } from '../../gen/lanes/v1/bus.js';
import { PendingTxs } from './pending.js';

const sender = Buffer.alloc(20, 1);
const hash = (n: number): Buffer => Buffer.alloc(32, n);
const pendingTx = (nonce: bigint) => ({ raw: Buffer.alloc(1), sender, nonce, acceptedAtMs: 0 });

describe('PendingTxs', () => {
  it('counts accepted txs in the pending nonce, and keeps an included nonce over a stale committed snapshot', () => {
    const pending = new PendingTxs(16);
    pending.add(hash(1), pendingTx(2n));
    expect(pending.pendingNonce(sender, 2n)).toBe(3n);
    // Nonce 2 is committed; an account snapshot read just before that commit still says 2.
    pending.onBlockCommitted(BlockCommitted.fromPartial({ txHashes: [hash(1)] }));
    expect(pending.has(hash(1))).toBe(false);
    expect(pending.pendingNonce(sender, 2n)).toBe(3n);
    expect(pending.pendingNonce(sender, 5n)).toBe(5n);
  });

  it('does not advance the nonce for a tx rejected in its block', () => {
    const pending = new PendingTxs(16);
    pending.add(hash(2), pendingTx(0n));
    pending.onBlockCommitted(BlockCommitted.fromPartial({ rejections: [{ txHash: hash(2) }] }));
    expect(pending.pendingNonce(sender, 0n)).toBe(0n);
  });
});
