// A synchronous step loop for @ethereumjs/evm 10's interpreter.
//
// The stock `Interpreter.run` awaits `runStep` for every opcode, and `runStep` is itself an async
// function that awaits each dynamic gas handler (all of them async functions, even the ones that
// only price memory). So every PUSH, ADD or MSTORE costs at least one promise and one microtask
// turn: allocation the garbage collector then pays for, and a fifth of an ERC-20 transfer here.
// This loop runs a step synchronously whenever nothing in it needs to wait, and awaits only the
// steps that do (SLOAD, SSTORE, CALL, …: handlers that reach the state view).
//
// It computes exactly what the stock loop computes, for the code it accepts: the same handlers in
// the same order, on the same run state; only the awaits between them are gone. It accepts
// legacy (non-EOF) code on an EVM without verkle/stateless EIPs, tracing, profiling or debug
// logging, and hands everything else to the stock `run`. Memory-pricing gas handlers are
// restated here as plain functions (the stock ones are async only by signature); every other
// dynamic gas handler is awaited as before. `stepLoop.test.ts` and `tuning.test.ts` compare
// outcomes with the stock interpreter, edge cases (out of gas, invalid jumps, reverts) included.
import type { Common } from '@ethereumjs/common';
import { keccak256 as lanesKeccak } from '../crypto/keccak.js';
import { mappingSlotDigests } from '../crypto/mappingSlots.js';

interface OpcodeInfo {
  code: number;
  name: string;
  feeBigInt: bigint;
  dynamicGas: boolean;
  isAsync: boolean;
  isInvalid: boolean;
}

interface Stack {
  peek(n?: number): bigint[];
  pop(): bigint;
  popN(n: number): bigint[];
  push(value: bigint): void;
}

interface RunStateLike {
  code: Uint8Array;
  programCounter: number;
  opCode: number;
  stack: Stack;
  gasLeft: bigint;
  validJumps: Uint8Array;
  cachedPushes: Record<number, bigint>;
  shouldDoJumpAnalysis: boolean;
  env: { accessWitness?: unknown; eof?: unknown };
  memory: { write(offset: number, size: number, value: Uint8Array): void; read(offset: number, size: number, avoidCopy?: boolean): Uint8Array };
  interpreter: {
    isStatic(): boolean; getReturnDataSize(): bigint; storageLoad(key: Uint8Array): Promise<Uint8Array>;
    getCallDataSize(): bigint; getCallData(): Uint8Array;
  };
  eip8037BurnLeftoverAfterCreateHaltOntoAlive?: boolean;
}

type OpHandler = (runState: RunStateLike, common: Common) => unknown;
type GasHandler = (runState: RunStateLike, gas: bigint, common: Common) => Promise<bigint>;
type SyncGasHandler = (runState: RunStateLike, gas: bigint, common: Common) => bigint;

interface OpEntry {
  opcodeInfo: OpcodeInfo;
  opHandler: OpHandler;
  gasHandler?: GasHandler;
}

interface InterpreterLike {
  _runState: RunStateLike;
  _env: object;
  _evm: { _opcodeMap: OpEntry[]; DEBUG: boolean; events: { listenerCount(name: string): number } };
  common: Common;
  profilerOpts?: { enabled?: boolean };
  useGas(amount: bigint, context: OpcodeInfo): void;
  _getValidJumpDestinations(code: Uint8Array): { jumps: Uint8Array; pushes: Record<number, bigint>; opcodesCached: OpEntry[] };
}

interface RunResult {
  runState: RunStateLike | RunStateSummary;
  exceptionError: unknown;
}

/**
 * What the EVM reads of a frame's run state once the frame is done: `runInterpreter` takes the
 * gas left, the refund and the spilled state gas, and spreads the whole object into
 * `execResult.runState`, which neither the VM nor Lanes reads. Spreading the live run state (≈ 45
 * fields, the stack and memory among them) into a fresh literal built new hidden classes on every
 * call frame: ≈ 10 % of an ERC-20 transfer's instructions under callgrind. So the loop hands back
 * these three fields only.
 */
interface RunStateSummary {
  gasLeft: bigint;
  gasRefund: bigint;
  stateGasSpilled: bigint;
}

/**
 * What the frame's interpreter keeps as its env once the frame is done. `runInterpreter` spreads
 * `interpreter._env` (≈ 22 fields) into that same unread `execResult.runState`, after two other
 * spreads, where V8 copies it property by property through map transitions: without that copy an
 * ERC-20 transfer went from 1,412k to 1,254k instructions (`bench:instructions`, GC included).
 * Nothing reads the env after `run` returns (the interpreter is the frame's own and is dropped),
 * so the loop hands it this instead.
 */
const SPENT_ENV: object = Object.freeze({});

interface InterpreterProto {
  run(this: InterpreterLike, code: Uint8Array, opts?: { pc?: number }): Promise<RunResult>;
}

interface EvmErrorClass {
  new (message: string): Error;
  errorMessages: { STOP: string; OUT_OF_GAS: string; OUT_OF_RANGE: string; INVALID_OPCODE: string; STATIC_STATE_CHANGE: string };
}

/** The library internals the loop calls, loaded by file URL beside the package entry. */
interface Internals {
  proto: InterpreterProto;
  EVMError: EvmErrorClass;
  errorTypeString: string;
  subMemUsage(runState: RunStateLike, offset: bigint, length: bigint, common: Common): bigint;
  divCeil(a: bigint, b: bigint): bigint;
  trap(message: string): never;
  consumeEip7928PostTargetCallOog(runState: RunStateLike): void;
  accessStorageEIP2929(runState: RunStateLike, key: Uint8Array, isSstore: boolean, common: Common, chargeGas: boolean): bigint;
  bytesToBigInt(bytes: Uint8Array): bigint;
  /** The stock opcode handlers, by opcode. */
  handlers: Map<number, OpHandler>;
  /** The stock dynamic gas handlers, by opcode. */
  dynamicGasHandlers: Map<number, GasHandler>;
}

export class StepLoopError extends Error {
  override readonly name = 'StepLoopError';
}

/** Runs taken by the synchronous loop and handed to the stock one, for tests and profiles. */
export const stepLoopStats = { syncRuns: 0, stockRuns: 0 };

const OP_JUMP = 0x56;
const OP_JUMPI = 0x57;
const OP_JUMPSUB = 0x5e;
/** EIPs whose interpreter paths (code-chunk witnesses, EOF) this loop does not restate. */
const UNSUPPORTED_EIPS = [3540, 6800, 7864] as const;

async function loadInternals(): Promise<Internals> {
  const entry = import.meta.resolve('@ethereumjs/evm');
  const load = async (file: string): Promise<Record<string, unknown>> => (await import(new URL(file, entry).href)) as Record<string, unknown>;
  const [interp, errors, util, eip7928, eip2929, functions, gas, ethUtil] = await Promise.all([
    load('./interpreter.js'), load('./errors.js'), load('./opcodes/util.js'), load('./opcodes/EIP7928.js'),
    load('./opcodes/EIP2929.js'), load('./opcodes/functions.js'), load('./opcodes/gas.js'), import('@ethereumjs/util') as Promise<Record<string, unknown>>,
  ]);
  const proto = (interp.Interpreter as { prototype?: InterpreterProto } | undefined)?.prototype;
  const internals = {
    proto, EVMError: errors.EVMError, errorTypeString: errors.EVMErrorTypeString,
    subMemUsage: util.subMemUsage, divCeil: util.divCeil, trap: util.trap,
    consumeEip7928PostTargetCallOog: eip7928.consumeEip7928PostTargetCallOog,
    accessStorageEIP2929: eip2929.accessStorageEIP2929, bytesToBigInt: ethUtil.bytesToBigInt,
    handlers: functions.handlers, dynamicGasHandlers: gas.dynamicGasHandlers,
  };
  for (const [name, value] of Object.entries(internals)) {
    const expected = name === 'proto' || name === 'handlers' || name === 'dynamicGasHandlers' ? 'object' : name === 'errorTypeString' ? 'string' : 'function';
    if (typeof value !== expected) throw new StepLoopError(`@ethereumjs/evm layout changed: ${name} is not a ${expected}`);
  }
  if (typeof proto!.run !== 'function') throw new StepLoopError('@ethereumjs/evm layout changed: Interpreter.run not found');
  for (const [name, map] of [['handlers', internals.handlers], ['dynamicGasHandlers', internals.dynamicGasHandlers]] as const) {
    if (!(map instanceof Map) || typeof map.get(0x52) !== 'function') {
      throw new StepLoopError(`@ethereumjs/evm layout changed: ${name} is not a Map of functions`);
    }
  }
  return internals as Internals;
}

const wordScratch = new Uint8Array(32);
const wordView = new DataView(wordScratch.buffer);
const U64 = 64n;

/** `value` (0 ≤ value < 2²⁵⁶) as 32 big-endian bytes in a shared scratch buffer: copy before keeping. */
function wordBytes(value: bigint): Uint8Array {
  for (let offset = 24; offset >= 0; offset -= 8) {
    wordView.setBigUint64(offset, BigInt.asUintN(64, value));
    value >>= U64;
  }
  return wordScratch;
}

/**
 * The 32 big-endian bytes of `word` as a number: four 64-bit reads instead of the stock
 * `bytesToBigInt`, which spells the bytes as a 66-character hex string and parses it back
 * (≈ 200 per ERC-20 transfer, for MLOAD, CALLDATALOAD and KECCAK256's digest).
 */
function wordBigint(word: Uint8Array): bigint {
  wordScratch.set(word);
  return scratchBigint();
}

function scratchBigint(): bigint {
  return (wordView.getBigUint64(0) << 192n) | (wordView.getBigUint64(8) << 128n) | (wordView.getBigUint64(16) << U64) | wordView.getBigUint64(24);
}

/**
 * PUSHn's immediate read from the code, as the stock handler does before a frame's first jump
 * (after it, the jump analysis has every push's value): n bytes, zero-padded on the right where
 * the code ends.
 */
function pushedBigint(code: Uint8Array, start: number, n: number): bigint {
  wordScratch.fill(0);
  wordScratch.set(code.subarray(start, Math.min(code.length, start + n)), 32 - n);
  return scratchBigint();
}

const NO_BYTES = new Uint8Array(0);

/**
 * Opcode handlers restated without the stock ones' detour through hex strings and spread arrays
 * (`setLengthLeft(bigIntToBytes(x), 32)` builds two arrays and a string for every MSTORE and
 * storage key; `bytesToBigInt` a string for every MLOAD). Same stack effects, same memory and
 * state calls, same values.
 */
function fastHandlers(x: Internals): Map<number, OpHandler> {
  const stockKeccak = x.handlers.get(0x20)!;
  // PUSH1-PUSH32 without the stock handler's code-chunk charge: it asks Common twice per push
  // whether EIP-6800 or EIP-7864 is active (≈ 7.5k instructions per ERC-20 transfer, and 12.5k
  // where several EVMs share the process), and the loop never runs with either (UNSUPPORTED_EIPS).
  const push: OpHandler = (rs) => {
    const n = rs.opCode - 0x5f;
    if (!rs.shouldDoJumpAnalysis) rs.stack.push(rs.cachedPushes[rs.programCounter]!);
    else rs.stack.push(pushedBigint(rs.code, rs.programCounter, n));
    rs.programCounter += n;
  };
  const pushes: Array<[number, OpHandler]> = [];
  for (let op = 0x60; op <= 0x7f; op++) pushes.push([op, push]);
  return new Map<number, OpHandler>([
    ...pushes,
    [0x20, (rs, common) => { // KECCAK256: the digest read as a word, not through hex; memory is only read
      const keccak = (common as unknown as { customCrypto: { keccak256?: (data: Uint8Array) => Uint8Array } }).customCrypto.keccak256;
      if (keccak === undefined) return stockKeccak(rs, common);
      const [offset, length] = rs.stack.popN(2);
      const data = length !== 0n ? rs.memory.read(Number(offset), Number(length), true) : NO_BYTES;
      // An address-keyed mapping's slot (a token balance): remembered process-wide (crypto/mappingSlots.ts).
      const remembered = keccak === lanesKeccak ? mappingSlotDigests.wordOfInput(data) : null;
      rs.stack.push(remembered ?? wordBigint(keccak(data)));
      return undefined;
    }],
    [0x35, (rs) => { // CALLDATALOAD: a word of calldata, zero-padded on the right past its end
      const pos = rs.stack.pop();
      if (pos > rs.interpreter.getCallDataSize()) {
        rs.stack.push(0n);
        return;
      }
      const i = Number(pos);
      const loaded = rs.interpreter.getCallData().subarray(i, i + 32);
      if (loaded.length < 32) wordScratch.fill(0);
      rs.stack.push(wordBigint(loaded));
    }],
    [0x51, (rs) => { // MLOAD
      const pos = rs.stack.pop();
      rs.stack.push(wordBigint(rs.memory.read(Number(pos), 32, true)));
    }],
    [0x52, (rs) => { // MSTORE: memory.write copies the word out of the scratch buffer
      const [offset, word] = rs.stack.popN(2);
      rs.memory.write(Number(offset), 32, wordBytes(word!));
    }],
    [0x54, async (rs) => { // SLOAD: the key is kept by the state view and journal, so it is copied
      const key = wordBytes(rs.stack.pop()).slice();
      const value = await rs.interpreter.storageLoad(key);
      rs.stack.push(value.length > 0 ? x.bytesToBigInt(value) : 0n);
    }],
  ]);
}

/**
 * Gas handlers that only price memory, arithmetic and storage warmth, as plain functions (the
 * stock ones are async by signature only). Each stands in for the stock handler of its opcode
 * and no other (a custom opcode's gas function is awaited as given).
 */
function syncGasHandlers(x: Internals): (SyncGasHandler | undefined)[] {
  const table: (SyncGasHandler | undefined)[] = new Array(256).fill(undefined);
  const copy: SyncGasHandler = (rs, gas, common) => {
    const [memOffset, , length] = rs.stack.peek(3);
    gas += x.subMemUsage(rs, memOffset!, length!, common);
    if (length !== 0n) gas += common.param('copyGas') * x.divCeil(length!, 32n);
    return gas;
  };
  const memoryRange: SyncGasHandler = (rs, gas, common) => {
    const [offset, length] = rs.stack.peek(2);
    return gas + x.subMemUsage(rs, offset!, length!, common);
  };
  table[0x0a] = (rs, gas, common) => { // EXP
    const exponent = rs.stack.peek(2)[1]!;
    if (exponent === 0n) return gas;
    let byteLength = exponent.toString(2).length / 8;
    if (byteLength > Math.trunc(byteLength)) byteLength = Math.trunc(byteLength) + 1;
    if (byteLength < 1 || byteLength > 32) x.trap(x.EVMError.errorMessages.OUT_OF_RANGE);
    return gas + BigInt(byteLength) * common.param('expByteGas');
  };
  table[0x20] = (rs, gas, common) => { // KECCAK256
    const [offset, length] = rs.stack.peek(2);
    gas += x.subMemUsage(rs, offset!, length!, common);
    return gas + common.param('keccak256WordGas') * x.divCeil(length!, 32n);
  };
  table[0x37] = copy; // CALLDATACOPY
  table[0x39] = copy; // CODECOPY (its code-chunk charge is for EIPs 6800/7864, which the loop refuses)
  table[0x3e] = (rs, gas, common) => { // RETURNDATACOPY
    const [, dataOffset, length] = rs.stack.peek(3);
    if (dataOffset! + length! > rs.interpreter.getReturnDataSize() && rs.env.eof === undefined) {
      x.trap(x.EVMError.errorMessages.OUT_OF_GAS);
    }
    return copy(rs, gas, common);
  };
  table[0x51] = (rs, gas, common) => gas + x.subMemUsage(rs, rs.stack.peek()[0]!, 32n, common); // MLOAD
  table[0x52] = table[0x51]; // MSTORE
  table[0x53] = (rs, gas, common) => gas + x.subMemUsage(rs, rs.stack.peek()[0]!, 1n, common); // MSTORE8
  table[0x5e] = (rs, gas, common) => { // MCOPY
    const [dst, src, length] = rs.stack.peek(3);
    gas += 3n * ((length! + 31n) / 32n);
    gas += x.subMemUsage(rs, src!, length!, common);
    return gas + x.subMemUsage(rs, dst!, length!, common);
  };
  const log: SyncGasHandler = (rs, gas, common) => { // LOG0..LOG4
    if (rs.interpreter.isStatic()) x.trap(x.EVMError.errorMessages.STATIC_STATE_CHANGE);
    const [offset, length] = rs.stack.peek(2);
    const topics = rs.opCode - 0xa0;
    if (topics < 0 || topics > 4) x.trap(x.EVMError.errorMessages.OUT_OF_RANGE);
    gas += x.subMemUsage(rs, offset!, length!, common);
    return gas + common.param('logTopicGas') * BigInt(topics) + length! * common.param('logDataGas');
  };
  for (let op = 0xa0; op <= 0xa4; op++) table[op] = log;
  table[0x54] = (rs, gas, common) => { // SLOAD: cold/warm access (EIP-2929); the key is kept warm, so copied
    const key = wordBytes(rs.stack.peek()[0]!).slice();
    return gas + x.accessStorageEIP2929(rs, key, false, common, true);
  };
  table[0xf3] = memoryRange; // RETURN
  table[0xfd] = memoryRange; // REVERT
  for (let op = 0; op < 256; op++) {
    if (table[op] !== undefined && x.dynamicGasHandlers.get(op) === undefined) {
      throw new StepLoopError(`@ethereumjs/evm layout changed: opcode 0x${op.toString(16)} has no dynamic gas handler to restate`);
    }
  }
  return table;
}

/**
 * Replaces `Interpreter.prototype.run` with the synchronous loop for interpreters whose EVM
 * `accepts`; the others, and code or settings the loop does not handle, run the stock loop.
 */
export async function installStepLoop(accepts: (evm: object) => boolean): Promise<void> {
  const x = await loadInternals();
  const stockRun = x.proto.run;
  const syncGas = syncGasHandlers(x);
  const stockGas: (GasHandler | undefined)[] = Array.from({ length: 256 }, (_, op) => x.dynamicGasHandlers.get(op));
  // A restated handler replaces only the stock one it restates (a custom opcode stays as given).
  const stockHandler: (OpHandler | undefined)[] = new Array(256).fill(undefined);
  const fastHandler: (OpHandler | undefined)[] = new Array(256).fill(undefined);
  for (const [op, handler] of fastHandlers(x)) {
    stockHandler[op] = x.handlers.get(op);
    fastHandler[op] = handler;
  }
  const { EVMError } = x;

  /** The rest of a step after its gas: charge, advance, run the handler. Returns its promise if async. */
  function finishStep(interp: InterpreterLike, entry: OpEntry, gas: bigint): unknown {
    const info = entry.opcodeInfo;
    if (info.isInvalid) throw new EVMError(EVMError.errorMessages.INVALID_OPCODE);
    interp.useGas(gas, info);
    const rs = interp._runState;
    rs.programCounter++;
    x.consumeEip7928PostTargetCallOog(rs);
    const code = info.code;
    const handler = fastHandler[code] !== undefined && entry.opHandler === stockHandler[code] ? fastHandler[code] : entry.opHandler;
    const result = handler(rs, interp.common);
    return info.isAsync ? result : undefined;
  }

  async function stepAfterAsyncGas(interp: InterpreterLike, entry: OpEntry, gas: bigint): Promise<void> {
    const charged = await entry.gasHandler!(interp._runState, gas, interp.common);
    await finishStep(interp, entry, charged);
  }

  /** One opcode; `undefined` when it completed synchronously, else the promise to await. */
  function step(interp: InterpreterLike, entry: OpEntry): unknown {
    const info = entry.opcodeInfo;
    let gas = info.feeBigInt;
    if (info.dynamicGas) {
      const sync = syncGas[info.code];
      if (sync === undefined || entry.gasHandler !== stockGas[info.code]) return stepAfterAsyncGas(interp, entry, gas);
      gas = sync(interp._runState, gas, interp.common);
    }
    return finishStep(interp, entry, gas);
  }

  function acceptsRun(interp: InterpreterLike, code: Uint8Array, pc: number | undefined): boolean {
    const evm = interp._evm;
    if (!accepts(evm) || evm.DEBUG || interp.profilerOpts?.enabled === true || evm.events.listenerCount('step') > 0) return false;
    if (interp._runState.env.accessWitness !== undefined) return false;
    for (const eip of UNSUPPORTED_EIPS) if (interp.common.isActivatedEIP(eip)) return false;
    const start = pc ?? interp._runState.programCounter;
    return start === 0 || (start > 0 && start < code.length);
  }

  x.proto.run = async function syncStepRun(this: InterpreterLike, code: Uint8Array, opts: { pc?: number } = {}): Promise<RunResult> {
    if (!acceptsRun(this, code, opts.pc)) {
      stepLoopStats.stockRuns++;
      return stockRun.call(this, code, opts);
    }
    stepLoopStats.syncRuns++;
    const rs = this._runState;
    rs.code = code;
    rs.programCounter = opts.pc ?? rs.programCounter;
    let err: unknown;
    let cached: OpEntry[] | undefined;
    const opcodeMap = this._evm._opcodeMap;
    while (rs.programCounter < rs.code.length) {
      const pc = rs.programCounter;
      let entry: OpEntry;
      if (cached === undefined) {
        const opCode = rs.code[pc]!;
        // Jump analysis runs once the code is seen to jump, as in the stock loop.
        if (opCode === OP_JUMP || opCode === OP_JUMPI || opCode === OP_JUMPSUB) {
          const { jumps, pushes, opcodesCached } = this._getValidJumpDestinations(rs.code);
          rs.validJumps = jumps;
          rs.cachedPushes = pushes;
          rs.shouldDoJumpAnalysis = false;
          cached = opcodesCached;
        }
        entry = opcodeMap[opCode]!;
        rs.opCode = opCode;
      } else {
        entry = cached[pc]!;
        rs.opCode = entry.opcodeInfo.code;
      }
      try {
        const pending = step(this, entry);
        if (pending !== undefined) await pending;
      } catch (e) {
        const vmError = typeof e === 'object' && e !== null && 'errorType' in e && e.errorType === x.errorTypeString;
        if (!vmError) throw e;
        if ((e as { error?: string }).error !== EVMError.errorMessages.STOP) err = e;
        break;
      }
    }
    if (err === undefined && rs.eip8037BurnLeftoverAfterCreateHaltOntoAlive === true && rs.gasLeft > 0n) {
      // The stock loop's EIP-8037 rule: leftover gas is burnt and the frame halts exceptionally.
      rs.gasLeft = 0n;
      err = new EVMError(EVMError.errorMessages.OUT_OF_GAS);
    }
    const { gasLeft, gasRefund, stateGasSpilled } = rs as RunStateLike & RunStateSummary;
    this._env = SPENT_ENV;
    return { runState: { gasLeft, gasRefund, stateGasSpilled }, exceptionError: err };
  };
}
