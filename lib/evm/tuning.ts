// Three costs of @ethereumjs/evm 10 that profiles of ERC-20 and AMM transactions put near the top,
// removed without changing what the interpreter computes:
//
// - Jump-destination analysis. Every call frame re-scans its whole code for JUMPDESTs, PUSH
//   immediates and opcode handlers (≈ 7 % of an ERC-20 transfer, the largest single cost of a
//   router swap that runs four frames). The result depends only on the code bytes and the
//   EVM's opcode table, and the interpreter only reads it, so it is cached per (opcode table,
//   code object). Code is content-addressed in Lanes' state (keyed by its hash, never
//   rewritten), and the state caches hand out the same Buffer for the same code, so identity is
//   a sound and free key; entries live as long as the code object (WeakMap), so the cache is
//   bounded by the state caches that hold the code.
// - The interpreter's step loop, which awaits every opcode: `stepLoop.ts` runs steps that need
//   not wait synchronously.
// - `Common.isActivatedEIP`, asked twice per opcode, scans an array of ~40 EIPs. It becomes a Set
//   lookup, rebuilt whenever Common replaces that array (it always replaces, never mutates it),
//   through one function shared by every Common (below: a closure per Common split the EVM's
//   call sites between targets).
// - Object spreads followed by more properties (`{ ...message, gasLimit }`), two per call frame in
//   `EVM._executeCall` and `runInterpreter`: V8 11 (Node 20) gives every such object a hidden class
//   of its own, allocated in old space, whose descriptors keep the frame's objects alive through
//   every scavenge until a full collection. They are not patched here but in the package itself
//   (`patches/`, applied by `npm install`; patches/README.md has the measurements); `tuneVm`
//   refuses to tune an EVM whose package lacks that patch.
//
// The interpreter class is not exported by the package, so its module is loaded by file URL next
// to the package's entry point (the same URL evm.js imports, hence the same class). The shapes
// relied on are asserted at install time: a library that changed them fails loudly at startup,
// never silently at execution.
import { readFile } from 'node:fs/promises';
import type { Common } from '@ethereumjs/common';
import type { VM } from '@ethereumjs/vm';
import { tuneJournal, type JournalInternals } from './journalTuning.js';
import { installStepLoop } from './stepLoop.js';

interface JumpAnalysis {
  jumps: Uint8Array;
  pushes: Record<number, bigint>;
  opcodesCached: unknown[];
}

interface InterpreterProto {
  _getValidJumpDestinations(this: InterpreterLike, code: Uint8Array): JumpAnalysis;
}

interface InterpreterLike {
  _evm: { _opcodeMap: object };
}

export class EvmTuningError extends Error {
  override readonly name = 'EvmTuningError';
}

let installed: Promise<void> | null = null;
/** EVMs that use the cache; others (tuned: false) keep the stock analysis, for comparison. */
const tunedEvms = new WeakSet<object>();
/** Analyses computed and served from the cache, for tests and profiles. */
export const jumpAnalysisStats = { computed: 0, cached: 0 };

async function installJumpAnalysisCache(): Promise<void> {
  const entry = import.meta.resolve('@ethereumjs/evm');
  const mod = (await import(new URL('./interpreter.js', entry).href)) as { Interpreter?: { prototype: InterpreterProto } };
  const proto = mod.Interpreter?.prototype;
  if (proto === undefined || typeof proto._getValidJumpDestinations !== 'function') {
    throw new EvmTuningError('@ethereumjs/evm layout changed: Interpreter._getValidJumpDestinations not found');
  }
  const analyse = proto._getValidJumpDestinations;
  const byTable = new WeakMap<object, WeakMap<Uint8Array, JumpAnalysis>>();
  proto._getValidJumpDestinations = function cachedJumpDestinations(this: InterpreterLike, code: Uint8Array): JumpAnalysis {
    if (!tunedEvms.has(this._evm)) return analyse.call(this, code);
    const table = this._evm._opcodeMap;
    let byCode = byTable.get(table);
    if (byCode === undefined) {
      byCode = new WeakMap();
      byTable.set(table, byCode);
    }
    const hit = byCode.get(code);
    if (hit !== undefined && hit.jumps.length === code.length) {
      jumpAnalysisStats.cached++;
      return hit;
    }
    const fresh = analyse.call(this, code);
    jumpAnalysisStats.computed++;
    byCode.set(code, fresh);
    return fresh;
  };
}

/** The options Lanes' patch of @ethereumjs/vm adds to runTx (patches/@ethereumjs+vm+*.patch), as `_runTx` reads them. */
const PATCHED_RUN_TX_OPTIONS = ['opts.skipReceipt', 'opts.afterCall'] as const;

/**
 * Throws unless the installed @ethereumjs/vm carries Lanes' patch of runTx. The stock package
 * ignores the options quietly: it would build receipts nobody reads, and coinbase-delta mode
 * would pay fees as writes that make every tx of a block conflict (right results, serial speed).
 */
export async function assertVmPatched(): Promise<void> {
  const file = new URL('./runTx.js', import.meta.resolve('@ethereumjs/vm'));
  const text = await readFile(file, 'utf8');
  for (const option of PATCHED_RUN_TX_OPTIONS) {
    if (!text.includes(option)) {
      throw new EvmTuningError(`@ethereumjs/vm lacks Lanes' patch of runTx (${option}, patches/README.md): reinstall with scripts enabled (npm ci runs patch-package)`);
    }
  }
}

/** Patches the interpreter once per process (and checks the vm patch); later calls wait for the first. */
export function installEvmTuning(): Promise<void> {
  installed ??= Promise.all([installJumpAnalysisCache(), installStepLoop((evm) => tunedEvms.has(evm)), assertVmPatched()]).then(() => undefined);
  return installed;
}

interface CommonInternals {
  _activatedEIPsCache: number[];
}

// Both lookups below are one shared function per method, with each Common's state in a
// symbol-keyed own property: a closure per Common gave every EIP check in the EVM as many call
// targets as the process has Commons (the scheduler and executors run two or three EVMs), and a
// call site with several targets is not inlined. Counted, an ERC-20 transfer's PUSH handler cost
// 12.5k instructions per tx with three EVMs in the process against 8.7k with one.
const EIP_SET = Symbol('lanes.eipSet');

interface EipSetState {
  list: number[];
  set: Set<number>;
}

type TunedEipCommon = CommonInternals & { [EIP_SET]: EipSetState };

function isActivatedEipBySet(this: TunedEipCommon, eip: number): boolean {
  let state = this[EIP_SET] as EipSetState | undefined;
  // undefined: a copy that took the function but not its state (Common#copy takes neither).
  if (state === undefined || state.list !== this._activatedEIPsCache) {
    state = { list: this._activatedEIPsCache, set: new Set(this._activatedEIPsCache) };
    this[EIP_SET] = state;
  }
  return state.set.has(eip);
}

/** Gives one Common a Set-backed isActivatedEIP (own properties; the class is untouched). */
export function fastEipLookup(common: Common): void {
  const internals = common as unknown as CommonInternals;
  if (!Array.isArray(internals._activatedEIPsCache)) {
    throw new EvmTuningError('@ethereumjs/common layout changed: _activatedEIPsCache is not an array');
  }
  const state: EipSetState = { list: internals._activatedEIPsCache, set: new Set(internals._activatedEIPsCache) };
  Object.defineProperty(common, EIP_SET, { value: state, configurable: true, writable: true });
  Object.defineProperty(common, 'isActivatedEIP', { value: isActivatedEipBySet, configurable: true, writable: true });
}

/** Hardfork names a memo keeps, per name (a chain has a few dozen). */
const MAX_HARDFORK_NAMES = 64;

interface HardforkInternals {
  _hardfork: string;
  _chainParams: { hardforks: ReadonlyArray<{ name: string }>; customHardforks?: unknown };
}

const HARDFORK_MEMO = Symbol('lanes.hardforkMemo');
/** The library's own hardforkGteHardfork, as the first tuned Common had it. */
let stockHardforkGte: HardforkMemo['compare'] | null = null;

interface HardforkMemo {
  list: ReadonlyArray<{ name: string }>;
  memo: Map<string, Map<string, boolean>>;
  compare: (this: Common, first: string, second: string) => boolean;
}

type TunedHardforkCommon = HardforkInternals & { [HARDFORK_MEMO]: HardforkMemo };

function hardforkGteByMemo(this: TunedHardforkCommon, first: string | null, second: string): boolean {
  const name = first ?? this._hardfork;
  const params = this._chainParams;
  let state = this[HARDFORK_MEMO] as HardforkMemo | undefined;
  // undefined: a copy that took the function but not its state (Common#copy takes neither).
  if (state === undefined) {
    state = { list: params.hardforks, memo: new Map(), compare: stockHardforkGte! };
    this[HARDFORK_MEMO] = state;
  }
  if (params.customHardforks !== undefined) return state.compare.call(this as unknown as Common, name, second);
  if (params.hardforks !== state.list) {
    state.list = params.hardforks;
    state.memo = new Map();
  }
  let bySecond = state.memo.get(name);
  const known = bySecond?.get(second);
  if (known !== undefined) return known;
  const answer = state.compare.call(this as unknown as Common, name, second);
  // Hardfork names are a small closed set per chain: a memo past that size is not growing
  // on names but on garbage, and is not worth keeping.
  if (bySecond === undefined && state.memo.size < MAX_HARDFORK_NAMES) {
    bySecond = new Map();
    state.memo.set(name, bySecond);
  }
  if (bySecond !== undefined && bySecond.size < MAX_HARDFORK_NAMES) bySecond.set(second, answer);
  return answer;
}

/**
 * Gives one Common a memoised hardforkGteHardfork (own properties). The library finds both
 * names' positions by walking the chain's hardfork list on every call, and the VM asks
 * `gteHardfork` a dozen times per tx. The answer depends only on the two names and that list,
 * so it is kept per list (a chain change brings a new one and starts a new memo). Chains with
 * custom hardforks, whose list is rebuilt on every call, keep the stock walk.
 */
export function fastHardforkOrder(common: Common): void {
  const internals = common as unknown as HardforkInternals;
  const stock = (common as unknown as { hardforkGteHardfork?: unknown }).hardforkGteHardfork;
  if (typeof stock !== 'function' || !Array.isArray(internals._chainParams?.hardforks) || typeof internals._hardfork !== 'string') {
    throw new EvmTuningError('@ethereumjs/common layout changed: hardforkGteHardfork, _chainParams.hardforks or _hardfork not found');
  }
  // The stock method (a Common tuned twice keeps the first one's).
  const known = (common as unknown as Partial<TunedHardforkCommon>)[HARDFORK_MEMO];
  const compare = known?.compare ?? (stock as HardforkMemo['compare']);
  stockHardforkGte ??= compare;
  const state: HardforkMemo = { list: internals._chainParams.hardforks, memo: new Map(), compare };
  Object.defineProperty(common, HARDFORK_MEMO, { value: state, configurable: true, writable: true });
  Object.defineProperty(common, 'hardforkGteHardfork', { value: hardforkGteByMemo, configurable: true, writable: true });
}

/** Text of the patched lines (patches/@ethereumjs+evm+*.patch), one per method. */
const PATCHED_FRAME_OBJECTS: ReadonlyArray<[string, string]> = [
  ['_executeCall', 'Object.assign({ codeAddress: message.codeAddress }, message, { gasLimit })'],
  ['runInterpreter', 'Object.assign({}, interpreterRes.runState, result, interpreter._env)'],
];

/**
 * Throws unless the installed @ethereumjs/evm carries Lanes' patch of its per-frame objects. The
 * stock package computes the same results, but its call frames cost about 1.8× as much (GC),
 * which would go unnoticed: install with scripts (`npm ci` runs patch-package).
 */
export function assertEvmPatched(evm: object): void {
  const proto = Object.getPrototypeOf(evm) as Record<string, unknown>;
  for (const [method, text] of PATCHED_FRAME_OBJECTS) {
    const fn = proto[method];
    if (typeof fn !== 'function') throw new EvmTuningError(`@ethereumjs/evm layout changed: EVM.${method} not found`);
    if (!fn.toString().includes(text)) {
      throw new EvmTuningError(`@ethereumjs/evm lacks Lanes' patch of EVM.${method} (patches/README.md): reinstall with scripts enabled (npm ci runs patch-package)`);
    }
  }
}

/**
 * Applies all of it to a VM: the process-wide analysis cache, fast EIP and hardfork lookups on
 * its Commons, and the journal's cheaper keys (journalTuning.ts).
 */
export async function tuneVm(vm: VM): Promise<void> {
  await installEvmTuning();
  assertEvmPatched(vm.evm);
  tunedEvms.add(vm.evm);
  const commons = new Set<Common>([vm.common, vm.evm.common as Common]);
  const journal = (vm.evm as unknown as { journal?: JournalInternals }).journal;
  if (journal === undefined) throw new EvmTuningError('@ethereumjs/evm layout changed: EVM.journal not found');
  if ((journal.common as Common | undefined) !== undefined) commons.add(journal.common as unknown as Common);
  for (const c of commons) {
    fastEipLookup(c);
    fastHardforkOrder(c);
  }
  tuneJournal(journal);
}
