// Read-set validation, Block-STM style: a transaction's optimistic result stands when every key
// it read was read at the version that serial execution would have shown it, i.e. the last write
// by an earlier transaction already committed in block order (or base state when none).
// Versions are compared, not values: cheaper, and safe.
import type { StateKey } from '../state/keys.js';
import type { BlockMemory } from './blockMemory.js';

export interface ReadVersionEntry {
  key: StateKey;
  txIndex: number;
  incarnation: number;
}

export type ValidationResult = { valid: true } | { valid: false; conflictKey: StateKey; expected: number; seen: number };

export function validateReadSet(reads: readonly ReadVersionEntry[], memory: BlockMemory): ValidationResult {
  for (const r of reads) {
    const last = memory.lastWrite(r.key);
    const expectedIndex = last === undefined ? -1 : last.txIndex;
    const expectedIncarnation = last === undefined ? 0 : last.incarnation;
    if (r.txIndex !== expectedIndex || r.incarnation !== expectedIncarnation) {
      return { valid: false, conflictKey: r.key, expected: expectedIndex, seen: r.txIndex };
    }
  }
  return { valid: true };
}
