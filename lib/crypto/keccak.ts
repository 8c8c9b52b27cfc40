// keccak-256 for hot paths: hash-wasm's WebAssembly Keccak, ≈ 1 µs for 64 bytes against ≈ 11 µs
// for @noble/hashes' pure-JS one on these machines. The EVM hashes mapping slots (KECCAK256) and
// every log's bloom entries with it, ingress every transaction, the state view every new code.
// One hasher is reused: JavaScript runs each call to completion, so init/update/digest never
// interleave. The instance is created when the module loads (top-level await).
import { createKeccak } from 'hash-wasm';

const hasher = await createKeccak(256);

/** keccak-256 of `data`, a new 32-byte array. */
export function keccak256(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
}
