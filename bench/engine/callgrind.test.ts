import { describe, expect, it } from 'vitest';
import { categoryOf, parseAnnotate, perTxCost, PerfMap, topFunctions, WASM_VIA_JUMP_TABLE } from './callgrind.js';

// The shape callgrind_annotate 3.19 prints (abridged), with JIT code known only by address.
const annotate = (jitIr: string, gcIr: string): string => `
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
9,000,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir                    file:function
--------------------------------------------------------------------------------
  171,714,467 ( 2.23%)  ???:v8::internal::compiler::GraphReducer::ReduceTop() [/usr/bin/node]
${jitIr} ( 1.00%)  ???:0x000000000d1669c0 [???]
    2,000 ( 0.00%)  ???:0x000000000d1669d8'2 [???]
      500 ( 0.00%)  ???:0x00000000000000aa [???]
    7,000 ( 0.00%)  ???:0x00000000000135c0 [/repo/node_modules/secp256k1/prebuilds/linux-x64/secp256k1.glibc.node]
${gcIr} ( 0.50%)  ???:heap::base::SlotCallbackResult v8::internal::Scavenger::ScavengeObject<v8::internal::FullHeapObjectSlot>(v8::internal::FullHeapObjectSlot) [/usr/bin/node]
   99,000 ( 1.30%)  ???:Builtins_StringAdd_CheckNone [/usr/bin/node]
   67,000 ( 0.88%)  ./malloc/./malloc/malloc.c:_int_free [/usr/lib/x86_64-linux-gnu/libc.so.6]
`;

const perfMap = new PerfMap([
  '18c4000 300 Builtin:DeoptimizationEntry_Eager',
  'd1669c0 40 JS:*bytesToHex file:///repo/node_modules/@ethereumjs/util/dist/esm/bytes.js:31:27',
  'd166a00 100 JS:^getAccount file:///repo/dist/lib/evm/stateView.js:244:15',
  '',
].join('\n'));

describe('callgrind counts', () => {
  it('names JIT code through the perf map, merging tiers and recursion levels, and drops library suffixes', () => {
    const counts = parseAnnotate(annotate('1,000,000', '40,000'), perfMap, '/repo');
    expect(counts.get('JS bytesToHex @ethereumjs/util/dist/esm/bytes.js:31:27')).toBe(1_002_000);
    expect(counts.get('JS ?')).toBe(500);
    expect(counts.get('secp256k1.glibc.node ?')).toBe(7_000); // a native addon without symbols, not JIT code
    expect(counts.get('Builtins_StringAdd_CheckNone')).toBe(99_000);
    expect(counts.get('./malloc/./malloc/malloc.c:_int_free')).toBe(67_000);
    expect([...counts.keys()].some((k) => k.includes('PROGRAM TOTALS') || k.includes('[/usr/bin/node]'))).toBe(false);
  });

  it('finds the code object around an address, and none outside every range', () => {
    expect(perfMap.nameOf(0xd166a10)).toBe('JS:^getAccount file:///repo/dist/lib/evm/stateView.js:244:15');
    expect(perfMap.nameOf(0xd166a00 + 0x100)).toBeNull();
    expect(perfMap.nameOf(0x10)).toBeNull();
  });

  it('names code just below a WebAssembly module\'s first function as entered through its jump table', () => {
    const withWasm = new PerfMap(['38967ba87780 40 JS:wasm-function[0]-0-liftoff', '38967ba877c0 40 JS:wasm-function[1]-1-liftoff', ''].join('\n'));
    expect(withWasm.nameOf(0x38967ba8700f)).toBe(WASM_VIA_JUMP_TABLE);
    expect(withWasm.nameOf(0x38967ba87790)).toBe('JS:wasm-function[0]-0-liftoff');
    expect(withWasm.nameOf(0x38967ba87780 - 0x20000)).toBeNull(); // too far below
    expect(perfMap.nameOf(0xd1669c0 - 0x10)).toBeNull(); // below JS code, not WebAssembly
  });

  it('sorts functions into compiling, GC, JS and the runtime', () => {
    expect(categoryOf('v8::internal::compiler::GraphReducer::ReduceTop()')).toBe('compile');
    expect(categoryOf('v8::internal::Scanner::Next()')).toBe('compile');
    expect(categoryOf('v8::internal::Scavenger::ScavengePage(v8::internal::MemoryChunk*)')).toBe('gc');
    expect(categoryOf('JS bytesToHex x.js:1:1')).toBe('js');
    expect(categoryOf('Builtins_StringAdd_CheckNone')).toBe('runtime');
  });

  it('takes the cost per tx from the difference of two runs, compiling left out', () => {
    const small = parseAnnotate(annotate('1,000,000', '40,000'), perfMap, '/repo');
    const large = parseAnnotate(annotate('3,000,000', '60,000').replace('171,714,467', '271,714,467'), perfMap, '/repo');
    const cost = perTxCost(small, large, 1000);
    expect(cost.byCategory.js).toBe(2000);
    expect(cost.byCategory.gc).toBe(20);
    expect(cost.byCategory.compile).toBe(100_000);
    expect(cost.total).toBe(2020);
    expect(topFunctions(small, large, 1000, 1)).toEqual([['JS bytesToHex @ethereumjs/util/dist/esm/bytes.js:31:27', 2000]]);
    expect(() => perTxCost(small, large, 0)).toThrow(/more txs/);
  });
});
