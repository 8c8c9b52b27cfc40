import { describe, expect, it } from 'vitest';
import { keccak256 } from '../crypto/keccak.js';
import { accountKey, storageKey } from '../state/keys.js';
import { AccessPatternLearner } from './accessPatterns.js';

const TOKEN = Buffer.alloc(20, 0x70);
const ROUTER = Buffer.alloc(20, 0x72);
const PAIR_RESERVES = storageKey(Buffer.alloc(20, 0x71), Buffer.alloc(32, 8));
const SELECTOR = Buffer.from('38ed1739', 'hex');
const holder = (n: number): Buffer => Buffer.alloc(20, n);

function word(value: Buffer | number): Buffer {
  const out = Buffer.alloc(32);
  if (typeof value === 'number') out.writeUInt32BE(value, 28);
  else value.copy(out, 32 - value.length);
  return out;
}

function slotOf(key: Buffer, slot: Buffer | number): Buffer {
  return Buffer.from(keccak256(Buffer.concat([word(key), typeof slot === 'number' ? word(slot) : slot])));
}

/** A router call by `sender` paying `recipient`: reads the sender's and recipient's balances
 * (mapping at slot 0 of TOKEN), the sender's allowance for the router (slot 1, nested), and a
 * pool's reserves (a constant key). */
function swap(sender: Buffer, recipient: Buffer) {
  const call = { sender, to: ROUTER, data: Buffer.concat([SELECTOR, word(1000), word(recipient)]) };
  const reads = [
    accountKey(sender),
    storageKey(TOKEN, slotOf(sender, 0)),
    storageKey(TOKEN, slotOf(recipient, 0)),
    storageKey(TOKEN, slotOf(ROUTER, slotOf(sender, 1))),
    PAIR_RESERVES,
  ];
  return { call, reads };
}

describe('AccessPatternLearner', () => {
  it('predicts flat and nested mapping entries and constant keys of a new caller', () => {
    const learner = new AccessPatternLearner();
    for (const n of [1, 2, 3]) {
      const { call, reads } = swap(holder(n), holder(n + 10));
      learner.learn(call, reads);
    }
    const next = swap(holder(42), holder(43));
    const predicted = new Set(learner.predict(next.call));
    for (const key of next.reads.slice(1)) expect(predicted.has(key)).toBe(true);
    // The sender's account differs per call: not a constant.
    expect(predicted.has(accountKey(holder(42)))).toBe(false);
  });

  it('names the flat entries for partition affinity, not the nested or the constant ones', () => {
    const learner = new AccessPatternLearner();
    for (const n of [1, 2]) learner.learn(swap(holder(n), holder(n + 10)).call, swap(holder(n), holder(n + 10)).reads);
    const keys = learner.affinityKeys(swap(holder(5), holder(6)).call).sort();
    expect(keys).toEqual([`${TOKEN.toString('hex')}:${holder(5).toString('hex')}`, `${TOKEN.toString('hex')}:${holder(6).toString('hex')}`].sort());
  });

  it('follows a mapping whose contract the calldata names (a swap path\'s input token)', () => {
    const learner = new AccessPatternLearner();
    const call = (sender: Buffer, token: Buffer) => ({ sender, to: ROUTER, data: Buffer.concat([SELECTOR, word(5), word(token)]) });
    const reads = (sender: Buffer, token: Buffer) => [storageKey(token, slotOf(sender, 0))];
    learner.learn(call(holder(1), holder(0x81)), reads(holder(1), holder(0x81)));
    learner.learn(call(holder(2), holder(0x82)), reads(holder(2), holder(0x82)));
    expect(learner.predict(call(holder(3), holder(0x83)))).toContain(reads(holder(3), holder(0x83))[0]);
  });

  it('stops learning a (contract, selector) after a few calls and predicts nothing it has not seen twice', () => {
    const learner = new AccessPatternLearner();
    const first = swap(holder(1), holder(2));
    expect(learner.wants(first.call)).toBe(true);
    learner.learn(first.call, first.reads);
    expect(learner.predict(swap(holder(3), holder(4)).call)).toEqual([]);
    for (const n of [5, 6, 7]) learner.learn(swap(holder(n), holder(n + 1)).call, swap(holder(n), holder(n + 1)).reads);
    expect(learner.wants(swap(holder(9), holder(8)).call)).toBe(false);
    expect(learner.wants({ sender: holder(9), to: TOKEN, data: SELECTOR })).toBe(true);
  });
});
