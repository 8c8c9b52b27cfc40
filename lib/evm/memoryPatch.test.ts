// The patched EVM `Memory` (patches/README.md: a call frame's memory starts empty and grows by
// doubling, where it started at 8 KB) against a model of the stock one written out here: every
// read gives the bytes written, zero past them, whatever order frames grow in.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

interface EvmMemory {
  _store: Uint8Array;
  extend(offset: number, size: number): void;
  write(offset: number, size: number, value: Uint8Array): void;
  read(offset: number, size: number, avoidCopy?: boolean): Uint8Array;
}

/** The package exports no `Memory`; the ESM build the EVM runs is next to the CommonJS one. */
async function memoryClass(): Promise<new () => EvmMemory> {
  const cjsIndex = createRequire(import.meta.url).resolve('@ethereumjs/evm');
  const file = path.join(path.dirname(cjsIndex), '..', 'esm', 'memory.js');
  return ((await import(pathToFileURL(file).href)) as { Memory: new () => EvmMemory }).Memory;
}

/** The stock semantics: memory is zero up to the word-rounded end of every access. */
class ModelMemory {
  bytes = new Uint8Array(0);
  private extend(offset: number, size: number): void {
    if (size === 0) return;
    const end = Math.ceil((offset + size) / 32) * 32;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(end);
      grown.set(this.bytes);
      this.bytes = grown;
    }
  }
  write(offset: number, value: Uint8Array): void {
    if (value.length === 0) return;
    this.extend(offset, value.length);
    this.bytes.set(value, offset);
  }
  read(offset: number, size: number): Uint8Array {
    this.extend(offset, size);
    return this.bytes.slice(offset, offset + size);
  }
}

type Op = { kind: 'write'; offset: number; value: Uint8Array } | { kind: 'read'; offset: number; size: number; view: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), offset: fc.integer({ min: 0, max: 20_000 }), value: fc.uint8Array({ maxLength: 600 }) }),
  fc.record({ kind: fc.constant('read' as const), offset: fc.integer({ min: 0, max: 20_000 }), size: fc.integer({ min: 0, max: 600 }), view: fc.boolean() }),
);

describe('patched @ethereumjs/evm Memory', () => {
  it('is the patched one (patch-package applied it): a frame starts with no backing store', async () => {
    const Memory = await memoryClass();
    expect(new Memory()._store.length).toBe(0);
    const memory = new Memory();
    memory.write(0x40, 32, new Uint8Array(32).fill(1));
    expect(memory._store.length).toBe(512); // the first growth, not 8 KB
  });

  it('reads what was written and zero past it, over random sequences of writes and reads', async () => {
    const Memory = await memoryClass();
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const memory = new Memory();
      const model = new ModelMemory();
      for (const o of ops) {
        if (o.kind === 'write') {
          memory.write(o.offset, o.value.length, o.value);
          model.write(o.offset, o.value);
        } else {
          const got = memory.read(o.offset, o.size, o.view);
          expect(Buffer.from(got).equals(model.read(o.offset, o.size))).toBe(true);
        }
        // Backing store never shorter than the memory in use, and its bytes past it still zero.
        expect(memory._store.length).toBeGreaterThanOrEqual(model.bytes.length);
        expect(Buffer.from(memory._store.subarray(0, model.bytes.length)).equals(model.bytes)).toBe(true);
        expect(memory._store.subarray(model.bytes.length).every((b) => b === 0)).toBe(true);
      }
    }), { numRuns: 500 });
  });

  it('still refuses a value whose length is not the size', async () => {
    const Memory = await memoryClass();
    expect(() => new Memory().write(0, 4, new Uint8Array(3))).toThrow(/Invalid value size/);
  });
});
