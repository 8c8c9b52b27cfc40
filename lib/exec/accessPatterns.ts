// Learned access patterns: which state keys a call reads, as a function of the call. Executors
// learn them from the read-sets they produce and use them to prefetch a block's keys in one
// batched read instead of discovering them one round trip at a time. Per (contract, selector):
// - constant keys: read by every observed call (a pool's reserves, the router's factory), and
// - Solidity mapping slots keccak256(k ‖ p) at some contract, where k is the sender or an
//   address-shaped calldata word and p a small slot number (ERC-20 balances, ERC-721 owners).
// Patterns are hints: a wrong or missing one costs a round trip, never correctness.
import { keccak256 } from '../crypto/keccak.js';
import { keyKind, KEY_STORAGE, storageKey, type StateKey } from '../state/keys.js';

const MAX_MAPPING_SLOT = 16;
const MAX_ARG_WORDS = 6;
const LEARN_CALLS = 4;
const MAX_PATTERNS = 4096;
/** Predicted mapping-slot keys remembered (each a keccak256 saved per repeat); cleared when full. */
const MAX_SLOT_MEMO = 65_536;

interface MappingSource {
  address: string;        // contract holding the mapping (hex)
  from: number;           // -1 = sender, else calldata word index
  slot: number;           // mapping slot p
}

interface Pattern {
  calls: number;
  constantCounts: Map<StateKey, number>;
  mappings: Map<string, MappingSource>;
}

export interface CallShape {
  sender: Buffer;
  to: Buffer;
  data: Buffer;
}

function word32(value: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  out.set(value, 32 - value.length);
  return out;
}

/** The 20-byte addresses among the first calldata words (12 zero bytes, then 20 non-zero-ish). */
function addressWords(data: Buffer): Array<{ index: number; address: Buffer }> {
  const out: Array<{ index: number; address: Buffer }> = [];
  for (let w = 0; w < MAX_ARG_WORDS; w++) {
    const start = 4 + w * 32;
    if (start + 32 > data.length) break;
    const word = data.subarray(start, start + 32);
    if (word.subarray(0, 12).every((b) => b === 0) && !word.subarray(12).every((b) => b === 0)) {
      out.push({ index: w, address: word.subarray(12) });
    }
  }
  return out;
}

function mappingSlot(key: Uint8Array, slot: number): Buffer {
  const input = Buffer.alloc(64);
  input.set(word32(key), 0);
  input.writeUInt32BE(slot, 60);
  return Buffer.from(keccak256(input));
}

export class AccessPatternLearner {
  private readonly patterns = new Map<string, Pattern>();
  /** `contract:slot:source` -> the storage key of that mapping entry. */
  private readonly slotMemo = new Map<string, StateKey>();

  private static id(call: CallShape): string | null {
    if (call.data.length < 4) return null;
    return call.to.toString('hex') + call.data.subarray(0, 4).toString('hex');
  }

  /** Whether learn() would still use this call's read keys (its pattern has not seen enough calls). */
  wants(call: CallShape): boolean {
    const id = AccessPatternLearner.id(call);
    if (id === null) return false;
    const p = this.patterns.get(id);
    return p === undefined || p.calls < LEARN_CALLS;
  }

  /** Learns from one executed call's read keys (only for its first few calls per selector). */
  learn(call: CallShape, readKeys: Iterable<StateKey>): void {
    const id = AccessPatternLearner.id(call);
    if (id === null) return;
    let p = this.patterns.get(id);
    if (p === undefined) {
      if (this.patterns.size >= MAX_PATTERNS) this.patterns.clear();
      p = { calls: 0, constantCounts: new Map(), mappings: new Map() };
      this.patterns.set(id, p);
    }
    if (p.calls >= LEARN_CALLS) return;
    p.calls++;
    const sources: Array<{ from: number; key: Buffer }> = [{ from: -1, key: call.sender }, ...addressWords(call.data).map((a) => ({ from: a.index, key: a.address }))];
    const derived = new Map<string, { from: number; slot: number }>();
    for (const s of sources) {
      for (let slot = 0; slot < MAX_MAPPING_SLOT; slot++) derived.set(mappingSlot(s.key, slot).toString('hex'), { from: s.from, slot });
    }
    for (const key of readKeys) {
      p.constantCounts.set(key, (p.constantCounts.get(key) ?? 0) + 1);
      if (keyKind(key) !== KEY_STORAGE) continue;
      const match = derived.get(key.slice(42));
      if (match !== undefined) {
        const address = key.slice(2, 42);
        p.mappings.set(`${address}:${match.from}:${match.slot}`, { address, ...match });
      }
    }
    if (p.constantCounts.size > 256) {
      for (const [k, n] of p.constantCounts) if (n < 2) p.constantCounts.delete(k);
    }
  }

  /** Keys the call will likely read, per what was learned (empty when nothing is known). */
  predict(call: CallShape): StateKey[] {
    const id = AccessPatternLearner.id(call);
    if (id === null) return [];
    const p = this.patterns.get(id);
    if (p === undefined || p.calls < 2) return [];
    const out: StateKey[] = [];
    for (const [key, n] of p.constantCounts) if (n >= 2 && n === p.calls) out.push(key);
    const words = addressWords(call.data);
    for (const m of p.mappings.values()) {
      const source = m.from === -1 ? call.sender : words.find((w) => w.index === m.from)?.address;
      if (source === undefined) continue;
      out.push(this.mappingKey(m, source));
    }
    return out;
  }

  /**
   * Coarse names of the mapping entries the call will likely touch, `contract:address` (slot
   * left out): two calls sharing one likely meet on the same state (a token balance of one
   * holder), so the scheduler keeps them in one partition. Empty until the pattern is learned.
   */
  affinityKeys(call: CallShape): string[] {
    const id = AccessPatternLearner.id(call);
    if (id === null) return [];
    const p = this.patterns.get(id);
    if (p === undefined || p.calls < 2 || p.mappings.size === 0) return [];
    const words = addressWords(call.data);
    const out: string[] = [];
    for (const m of p.mappings.values()) {
      const source = m.from === -1 ? call.sender : words.find((w) => w.index === m.from)?.address;
      if (source !== undefined) out.push(`${m.address}:${source.toString('hex')}`);
    }
    return out;
  }

  private mappingKey(m: MappingSource, source: Buffer): StateKey {
    const memoKey = `${m.address}:${m.slot}:${source.toString('hex')}`;
    let key = this.slotMemo.get(memoKey);
    if (key === undefined) {
      key = storageKey(Buffer.from(m.address, 'hex'), mappingSlot(source, m.slot));
      if (this.slotMemo.size >= MAX_SLOT_MEMO) this.slotMemo.clear();
      this.slotMemo.set(memoKey, key);
    }
    return key;
  }

  get size(): number {
    return this.patterns.size;
  }
}
