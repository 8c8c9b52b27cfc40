// Reading callgrind's counts for `bench:instructions`: the per-function totals that
// `callgrind_annotate` prints, with V8's JIT code named through the perf map node writes
// (--perf-basic-prof), sorted into what the benchmark keeps (the code that runs) and what it
// leaves out (compiling and parsing, which depend on when V8 decides to optimize, not on the
// transactions).
import path from 'node:path';

/** Instructions by function name, one process. */
export type FunctionCounts = Map<string, number>;

export type CostCategory = 'compile' | 'gc' | 'js' | 'runtime';

const WASM_FUNCTION = 'JS:wasm-function[';
/** How far below a module's first logged function its jump tables may lie. */
const WASM_JUMP_TABLE_REACH = 64 << 10;
/** The name given to code entered through a WebAssembly module's jump table (see nameOf). */
export const WASM_VIA_JUMP_TABLE = 'JS:wasm code entered through its module\'s jump table';

/** JIT-compiled code ranges of one process, from /tmp/perf-<pid>.map. */
export class PerfMap {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly names: string[] = [];

  constructor(text: string) {
    const rows: Array<[number, number, string]> = [];
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
      if (m !== null) rows.push([parseInt(m[1]!, 16), parseInt(m[2]!, 16), m[3]!]);
    }
    rows.sort((a, b) => a[0] - b[0]);
    for (const [start, size, name] of rows) {
      this.starts.push(start);
      this.ends.push(start + size);
      this.names.push(name);
    }
  }

  /**
   * The code object that holds `address`, or null (V8 may reuse a range; the later entry wins);
   * WASM_VIA_JUMP_TABLE just below a WebAssembly module's first function.
   */
  nameOf(address: number): string | null {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found >= 0 && address < this.ends[found]!) return this.names[found]!;
    // A WebAssembly module's calls go through a jump table at the start of its code space, which
    // jumps (not calls) into each function's code: callgrind names the function by the table slot
    // it entered through, and V8 logs no range for the table, nor for code tiered up from Liftoff
    // after the table's slots were set. In session 33 that was 99.99 % of what the map could not
    // name (hash-wasm's keccak: ≈ 60k instructions per ERC-20 tx of the baseline).
    const next = found + 1;
    if (next < this.starts.length && this.names[next]!.startsWith(WASM_FUNCTION) && this.starts[next]! - address <= WASM_JUMP_TABLE_REACH) {
      return WASM_VIA_JUMP_TABLE;
    }
    return null;
  }
}

/**
 * JS code names lose the checkout's path, so two checkouts' counts line up, and V8's tier mark
 * (`JS:*` optimized, `JS:^` baseline, `JS:~` interpreted), so a function's tiers add up.
 */
function shortName(name: string, root: string): string {
  return name.replace(/^JS:[*^~+]?/, '').replaceAll('file://', '').replaceAll(`${root}/node_modules/`, '').replaceAll(`${root}/`, '');
}

/**
 * Self instructions per function from `callgrind_annotate --threshold=100` output. Functions
 * callgrind knows only by address (JIT code) are named through `perfMap` as `JS <name>`, or
 * `JS ?` when the map has no range for them; an address in a shared object without symbols is
 * `<file> ?`; library suffixes (`[/usr/bin/node]`) are dropped.
 */
export function parseAnnotate(text: string, perfMap: PerfMap | null, root: string): FunctionCounts {
  const counts: FunctionCounts = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (m === null || line.includes('PROGRAM TOTALS')) continue;
    const ir = Number(m[1]!.replaceAll(',', ''));
    // `'2` marks a recursive call's level: the same function.
    const object = /\[([^\]]*)\]\s*$/.exec(m[2]!)?.[1];
    let fn = m[2]!.replace(/\s*\[[^\]]*\]\s*$/, '').replace(/'\d+$/, '');
    const jit = /^(?:\?\?\?:)?0x([0-9a-f]+)$/.exec(fn);
    if (jit !== null && object !== undefined && object !== '???') {
      // An address in a shared object without symbols (a native addon, say), not JIT code.
      fn = `${path.basename(object)} ?`;
    } else if (jit !== null) {
      const name = perfMap?.nameOf(parseInt(jit[1]!, 16)) ?? null;
      fn = name === null ? 'JS ?' : `JS ${shortName(name, root)}`;
    } else {
      fn = fn.replace(/^\?\?\?:/, '');
    }
    counts.set(fn, (counts.get(fn) ?? 0) + ir);
  }
  return counts;
}

const COMPILE = /compiler::|maglev|Maglev|baseline::|BytecodeGenerator|Parser|Scanner|AstValueFactory|Compiler::|CodeGenerator|Assembler|Turbofan|interpreter::/;
const GC = /Heap|Scaveng|MarkCompact|Sweep|Marking|Evacuat|Compactor|RememberedSet|SlotSet|MemoryChunk|PagedSpace|Mark[A-Z]|heap::/;

/** Where a function's instructions go. */
export function categoryOf(fn: string): CostCategory {
  if (fn.startsWith('JS ')) return 'js';
  if (COMPILE.test(fn)) return 'compile';
  if (GC.test(fn)) return 'gc';
  return 'runtime';
}

export interface PerTxCost {
  /** Instructions per tx, compiling and parsing left out. */
  total: number;
  byCategory: Record<CostCategory, number>;
}

/**
 * Instructions per tx between two runs of the same side that differ only in tx count: whatever
 * both runs do once (start-up, loading modules, the workload) cancels out.
 */
export function perTxCost(small: FunctionCounts, large: FunctionCounts, extraTxs: number): PerTxCost {
  if (extraTxs <= 0) throw new Error(`the larger run must have more txs (got ${extraTxs} more)`);
  const byCategory: Record<CostCategory, number> = { compile: 0, gc: 0, js: 0, runtime: 0 };
  for (const fn of new Set([...small.keys(), ...large.keys()])) {
    byCategory[categoryOf(fn)] += ((large.get(fn) ?? 0) - (small.get(fn) ?? 0)) / extraTxs;
  }
  return { total: byCategory.gc + byCategory.js + byCategory.runtime, byCategory };
}

/** Functions by instructions per tx (compiling left out), largest first. */
export function topFunctions(small: FunctionCounts, large: FunctionCounts, extraTxs: number, count: number): Array<[string, number]> {
  const rows: Array<[string, number]> = [];
  for (const fn of new Set([...small.keys(), ...large.keys()])) {
    if (categoryOf(fn) === 'compile') continue;
    rows.push([fn, ((large.get(fn) ?? 0) - (small.get(fn) ?? 0)) / extraTxs]);
  }
  return rows.sort((a, b) => b[1] - a[1]).slice(0, count);
}
