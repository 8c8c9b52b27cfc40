// Learned access patterns: which state keys a call reads, as a function of the call. Executors
// and the scheduler learn them from the read-sets they produce and use them to prefetch a block's
// keys in one batched read instead of discovering them one round trip at a time, and the
// scheduler to keep calls that will meet on the same entry in one partition. Per (contract,
// selector):
// - constant keys: read by every observed call (a pool's reserves, the router's factory), and
// - Solidity mapping entries at some contract: keccak256(k ‖ p) (ERC-20 balances, ERC-721 owners)
//   and keccak256(k2 ‖ keccak256(k1 ‖ p)) (ERC-20 allowances: owner, then spender), where each k
//   is the sender, the called contract or an address-shaped calldata word and p a small slot.
// Patterns are hints: a wrong or missing one costs a round trip, never correctness.
import { keccak256 } from '../crypto/keccak.js';
import { MAX_MAPPING_SLOT as MAX_REMEMBERED_SLOT, mappingSlotDigests } from '../crypto/mappingSlots.js';
import { keyAddress, keyKind, keySlotPart, KEY_STORAGE, storageKey, type StateKey } from '../state/keys.js';
import { MappingKeyMemo } from './mappingKeyMemo.js';

const MAX_MAPPING_SLOT = 16;
/** Calldata words scanned for addresses: enough for a router's path (words 6 and 7 of a swap). */
const MAX_ARG_WORDS = 8;
const LEARN_CALLS = 4;
const MAX_PATTERNS = 4096;
/** Predicted mapping-slot keys remembered (each a keccak256 saved per repeat); cleared when full. */
const MAX_SLOT_MEMO = 65_536;

/** Where a mapping key comes from: the sender, the called contract, or calldata word `index`. */
const FROM_SENDER = -1;
const FROM_CALLED = -2;

interface MappingSource {
  /** Contract holding the mapping (hex), when it is the same for every call. */
  address: string;
  /** Calldata word naming the contract that holds the mapping (a swap's input token), else -1. */
  contractWord: number;
  /** Key of the (outer) mapping: FROM_SENDER, FROM_CALLED or a calldata word index. */
  from: number;
  /** Mapping slot p. */
  slot: number;
  /** Nested mappings: the key into the inner mapping (same encoding as `from`); absent = flat. */
  innerFrom?: number;
}

interface Pattern {
  calls: number;
  constantCounts: Map<StateKey, number>;
  mappings: Map<string, MappingSource>;
  /** The keys every call read, once learning stopped (they no longer change). */
  constants: StateKey[] | null;
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

/** The 20-byte addresses among the first calldata words (12 zero bytes, then 20 not all zero). */
function addressWords(data: Buffer): Array<{ index: number; address: Buffer }> {
  const out: Array<{ index: number; address: Buffer }> = [];
  for (let w = 0; w < MAX_ARG_WORDS; w++) {
    const start = 4 + w * 32;
    if (start + 32 > data.length) break;
    if (isAddressWord(data, start)) out.push({ index: w, address: data.subarray(start + 12, start + 32) });
  }
  return out;
}

function isAddressWord(data: Buffer, start: number): boolean {
  for (let i = start; i < start + 12; i++) if (data[i] !== 0) return false;
  for (let i = start + 12; i < start + 32; i++) if (data[i] !== 0) return true;
  return false;
}

/** keccak256(key ‖ slot) with `slot` a 32-byte word, or a small number. */
function mappingSlot(key: Uint8Array, slot: number | Uint8Array): Uint8Array {
  // The common case, an address at a small slot, as the EVM hashes it too: remembered per process.
  if (typeof slot === 'number' && key.length === 20 && slot <= MAX_REMEMBERED_SLOT) return mappingSlotDigests.digest(key, slot);
  const input = Buffer.alloc(64);
  input.set(word32(key), 0);
  if (typeof slot === 'number') input.writeUInt32BE(slot, 60);
  else input.set(slot, 32);
  return keccak256(input);
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

function sourcesOf(call: CallShape): Array<{ from: number; key: Buffer }> {
  return [{ from: FROM_SENDER, key: call.sender }, { from: FROM_CALLED, key: call.to }, ...addressWords(call.data).map((a) => ({ from: a.index, key: a.address }))];
}

function contractOf(m: MappingSource, words: ReadonlyArray<{ index: number; address: Buffer }>): string | null {
  if (m.contractWord === -1) return m.address;
  return words.find((w) => w.index === m.contractWord)?.address.toString('hex') ?? null;
}

function sourceKey(call: CallShape, words: ReadonlyArray<{ index: number; address: Buffer }>, from: number): Buffer | undefined {
  if (from === FROM_SENDER) return call.sender;
  if (from === FROM_CALLED) return call.to;
  return words.find((w) => w.index === from)?.address;
}

export class AccessPatternLearner {
  private readonly patterns = new Map<string, Pattern>();
  /** (contract, slot, source, inner source) -> the storage key of that mapping entry. */
  private readonly slotMemo = new MappingKeyMemo(MAX_SLOT_MEMO);
  /** The last call seen to have a complete pattern: homogeneous blocks skip even the id. */
  private lastDone: { to: Buffer; selector: number } | null = null;
  private learnedCalls = 0;

  /**
   * Changes whenever a call taught something (learning stops after a few calls per selector):
   * predictions made at the same generation are the same, so they need not be made twice.
   */
  get generation(): number {
    return this.learnedCalls;
  }

  /** The last id made: a block's calls mostly go to one (contract, selector). */
  private lastId: { to: Buffer; selector: number; id: string } | null = null;

  private id(call: CallShape): string | null {
    if (call.data.length < 4) return null;
    const selector = call.data.readUInt32BE(0);
    const last = this.lastId;
    if (last !== null && last.selector === selector && last.to.equals(call.to)) return last.id;
    const id = call.to.toString('hex') + call.data.subarray(0, 4).toString('hex');
    this.lastId = { to: Buffer.from(call.to), selector, id };
    return id;
  }

  /** Whether learn() would still use this call's read keys (its pattern has not seen enough calls). */
  wants(call: CallShape): boolean {
    if (call.data.length < 4) return false;
    const last = this.lastDone;
    if (last !== null && last.selector === call.data.readUInt32BE(0) && last.to.equals(call.to)) return false;
    const p = this.patterns.get(this.id(call)!);
    if (p !== undefined && p.calls >= LEARN_CALLS) {
      this.lastDone = { to: call.to, selector: call.data.readUInt32BE(0) };
      return false;
    }
    return true;
  }

  /** Learns from one executed call's read keys (only for its first few calls per selector). */
  learn(call: CallShape, readKeys: Iterable<StateKey>): void {
    if (!this.wants(call)) return;
    this.learnedCalls++;
    const id = this.id(call)!;
    let p = this.patterns.get(id);
    if (p === undefined) {
      if (this.patterns.size >= MAX_PATTERNS) {
        this.patterns.clear();
        this.lastDone = null;
      }
      p = { calls: 0, constantCounts: new Map(), mappings: new Map(), constants: null };
      this.patterns.set(id, p);
    }
    p.calls++;
    const words = addressWords(call.data);
    const derived = derivedSlots(sourcesOf(call));
    for (const key of readKeys) {
      p.constantCounts.set(key, (p.constantCounts.get(key) ?? 0) + 1);
      if (keyKind(key) !== KEY_STORAGE) continue;
      const match = derived.get(keySlotPart(key));
      if (match !== undefined) {
        const address = keyAddress(key).toString('hex');
        // A contract named in the calldata is recorded by position: the next call may name another.
        const word = words.find((w) => w.address.toString('hex') === address);
        const contractWord = word === undefined ? -1 : word.index;
        const id = `${contractWord === -1 ? address : `w${contractWord}`}:${match.from}:${match.slot}:${match.innerFrom ?? ''}`;
        p.mappings.set(id, { address, contractWord, ...match });
      }
    }
    if (p.constantCounts.size > 256) {
      for (const [k, n] of p.constantCounts) if (n < 2) p.constantCounts.delete(k);
    }
  }

  /** Keys the call will likely read, per what was learned (empty when nothing is known). */
  predict(call: CallShape): StateKey[] {
    const id = this.id(call);
    if (id === null) return [];
    const p = this.patterns.get(id);
    if (p === undefined || p.calls < 2) return [];
    const out = [...this.constantsOf(p)];
    const words = addressWords(call.data);
    for (const m of p.mappings.values()) {
      const key = this.mappingKey(m, call, words);
      if (key !== null) out.push(key);
    }
    return out;
  }

  /**
   * Coarse names of the flat mapping entries the call will likely touch, `contract:address`
   * (slot left out): two calls sharing one likely meet on the same state (a token balance of one
   * holder), so the scheduler keeps them in one partition. Entries keyed by the called contract
   * itself are left out (every call to it would share them), and so are nested ones (an
   * allowance is its owner's, who is the sender and already groups). Empty until learned.
   */
  affinityKeys(call: CallShape): string[] {
    const id = this.id(call);
    if (id === null) return [];
    const p = this.patterns.get(id);
    if (p === undefined || p.calls < 2 || p.mappings.size === 0) return [];
    const words = addressWords(call.data);
    const out: string[] = [];
    for (const m of p.mappings.values()) {
      if (m.innerFrom !== undefined || m.from === FROM_CALLED) continue;
      const source = sourceKey(call, words, m.from);
      const contract = contractOf(m, words);
      if (source !== undefined && contract !== null) out.push(`${contract}:${source.toString('hex')}`);
    }
    return out;
  }

  private constantsOf(p: Pattern): StateKey[] {
    if (p.constants !== null) return p.constants;
    const constants: StateKey[] = [];
    for (const [key, n] of p.constantCounts) if (n >= 2 && n === p.calls) constants.push(key);
    if (p.calls >= LEARN_CALLS) p.constants = constants;
    return constants;
  }

  private mappingKey(m: MappingSource, call: CallShape, words: ReadonlyArray<{ index: number; address: Buffer }>): StateKey | null {
    const outer = sourceKey(call, words, m.from);
    if (outer === undefined) return null;
    const inner = m.innerFrom === undefined ? undefined : sourceKey(call, words, m.innerFrom);
    if (m.innerFrom !== undefined && inner === undefined) return null;
    const contract = contractOf(m, words);
    if (contract === null) return null;
    let key = this.slotMemo.get(contract, m.slot, outer, inner ?? null);
    if (key === undefined) {
      const slot = inner === undefined ? mappingSlot(outer, m.slot) : mappingSlot(inner, mappingSlot(outer, m.slot));
      key = storageKey(Buffer.from(contract, 'hex'), slot);
      this.slotMemo.set(contract, m.slot, outer, inner ?? null, key);
    }
    return key;
  }

  get size(): number {
    return this.patterns.size;
  }
}

/**
 * Every flat and nested mapping slot the call's sources could address, by the slot's bytes as
 * latin1 (as keySlotPart gives them). Computed only
 * while a pattern learns (its first LEARN_CALLS calls): at most 10 sources give 16·10 + 16·10·9
 * keccak256s, a few milliseconds, a few times per (contract, selector).
 */
function derivedSlots(sources: ReadonlyArray<{ from: number; key: Buffer }>): Map<string, { from: number; slot: number; innerFrom?: number }> {
  const derived = new Map<string, { from: number; slot: number; innerFrom?: number }>();
  for (const outer of sources) {
    for (let slot = 0; slot < MAX_MAPPING_SLOT; slot++) {
      const flat = mappingSlot(outer.key, slot);
      derived.set(latin1(flat), { from: outer.from, slot });
      for (const inner of sources) {
        if (inner === outer) continue;
        derived.set(latin1(mappingSlot(inner.key, flat)), { from: outer.from, slot, innerFrom: inner.from });
      }
    }
  }
  return derived;
}
