// Folding entry digests into the state root's lattice (root.ts): lattice − out + in, lane by lane,
// 1024 lanes of 16 bits. In JavaScript that loop costs ≈ 40k instructions per entry (V8 neither
// vectorizes nor drops the typed-array checks), as much as 40 % of a SHAKE256 digest; with
// WebAssembly's 128-bit SIMD it is 128 steps of eight lanes each. The module is written out here
// as bytes (a few dozen: no toolchain, nothing generated in the tree); where WebAssembly SIMD is
// missing, the same fold runs in JavaScript.
//
// The module (text form):
//   (memory (export "memory") 1)
//   (func (export "fold") (param $lat i32) (param $out i32) (param $in i32) (local $i i32)
//     (loop $l
//       (v128.store (i32.add (local.get $lat) (local.get $i))
//         (i16x8.add (i16x8.sub (v128.load (i32.add (local.get $lat) (local.get $i)))
//                               (v128.load (i32.add (local.get $out) (local.get $i))))
//                    (v128.load (i32.add (local.get $in) (local.get $i)))))
//       (local.set $i (i32.add (local.get $i) (i32.const 16)))
//       (br_if $l (i32.lt_u (local.get $i) (i32.const 2048)))))
// Lanes are little-endian in memory, as WebAssembly's are.

const LANES = 1024;
const BYTES = LANES * 2;

const at = (base: number): number[] => [0x20, base, 0x20, 0x03, 0x6a]; // local.get base; local.get $i; i32.add
const body = [
  0x01, 0x01, 0x7f, // one local: i32 ($i)
  0x03, 0x40, // loop (no result)
  ...at(0x00), // store address
  ...at(0x00), 0xfd, 0x00, 0x04, 0x00, // v128.load lattice (align 16, offset 0)
  ...at(0x01), 0xfd, 0x00, 0x04, 0x00, // v128.load out
  0xfd, 0x91, 0x01, // i16x8.sub
  ...at(0x02), 0xfd, 0x00, 0x04, 0x00, // v128.load in
  0xfd, 0x8e, 0x01, // i16x8.add
  0xfd, 0x0b, 0x04, 0x00, // v128.store
  0x20, 0x03, 0x41, 0x10, 0x6a, 0x21, 0x03, // $i += 16
  0x20, 0x03, 0x41, 0x80, 0x10, 0x49, 0x0d, 0x00, // br_if $l ($i < 2048)
  0x0b, // end loop
  0x0b, // end func
];
const section = (id: number, content: number[]): number[] => [id, content.length, ...content];
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(0x01, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type: (i32 i32 i32) -> ()
  ...section(0x03, [0x01, 0x00]), // one function of that type
  ...section(0x05, [0x01, 0x00, 0x01]), // one memory, one page
  ...section(0x07, [0x02, 0x06, ...Buffer.from('memory'), 0x02, 0x00, 0x04, ...Buffer.from('fold'), 0x00, 0x00]),
  ...section(0x0a, [0x01, body.length, ...body]),
]);

/** Offsets in the module's memory: the lattice, the digest out, the digest in; ZERO stays zero (a missing side). */
const LAT = 0;
const OUT = BYTES;
const IN = 2 * BYTES;
const ZERO = 3 * BYTES;

/** The part of WebAssembly's API used here (the project's TypeScript libs do not declare it). */
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

interface Wasm {
  fold: (lat: number, out: number, into: number) => void;
  bytes: Uint8Array;
}

function instantiate(): Wasm | null {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(MODULE)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(MODULE));
  const memory = instance.exports['memory'] as { buffer: ArrayBuffer };
  return { fold: instance.exports['fold'] as Wasm['fold'], bytes: new Uint8Array(memory.buffer) };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const wasm = LITTLE_ENDIAN ? instantiate() : null;

/** Whether folds run in WebAssembly SIMD (else in JavaScript): for tests and logs. */
export const FOLD_IN_WASM = wasm !== null;

/**
 * lanes − out + into, in place, mod 2^16 per lane. `out`/`into`: a digest's 2,048 bytes as
 * little-endian lanes, or null for none.
 */
export function foldDigests(lanes: Uint16Array, out: Uint8Array | null, into: Uint8Array | null): void {
  if (wasm !== null) {
    const { bytes, fold } = wasm;
    bytes.set(new Uint8Array(lanes.buffer, lanes.byteOffset, BYTES), LAT);
    if (out !== null) bytes.set(out, OUT);
    if (into !== null) bytes.set(into, IN);
    fold(LAT, out === null ? ZERO : OUT, into === null ? ZERO : IN);
    new Uint8Array(lanes.buffer, lanes.byteOffset, BYTES).set(bytes.subarray(LAT, LAT + BYTES));
    return;
  }
  foldInJs(lanes, out, into);
}

/** foldDigests without WebAssembly: where SIMD is missing (exported for its test). */
export function foldInJs(lanes: Uint16Array, out: Uint8Array | null, into: Uint8Array | null): void {
  const o = out === null ? null : lanesOf(out);
  const n = into === null ? null : lanesOf(into);
  for (let i = 0; i < LANES; i++) lanes[i] = lanes[i]! - (o === null ? 0 : o[i]!) + (n === null ? 0 : n[i]!);
}

/** A digest's lanes (little-endian bytes), read byte by byte: the JavaScript fold's, for any host. */
function lanesOf(digest: Uint8Array): Uint16Array {
  const lanes = new Uint16Array(LANES);
  for (let i = 0; i < LANES; i++) lanes[i] = digest[2 * i]! | (digest[2 * i + 1]! << 8);
  return lanes;
}
