// Inputs for properties of transaction decoding that must hold on any input (decoders that only
// reject with a reason, builders that only build what the library builds): random but
// well-shaped fields, and byte-level mutations of valid signed transactions.
import fc from 'fast-check';

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A canonical RLP integer: big-endian, no leading zeros, empty for 0. */
export function bigBytes(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
}

/** Field arbitraries shaped like a signed tx's: canonical integers, `to`, access lists, in-range signatures. */
export const txFieldArbitraries = {
  integer: (maxBytes: number) => fc.uint8Array({ maxLength: maxBytes }).map((b) => bigBytes(BigInt('0x0' + Buffer.from(b).toString('hex')))),
  to: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 20, maxLength: 20 })),
  accessList: fc.array(
    fc.tuple(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 2 })),
    { maxLength: 2 },
  ),
  /** r, low s, y parity. */
  signature: fc.tuple(fc.bigInt({ min: 1n, max: SECP256K1_N - 1n }), fc.bigInt({ min: 1n, max: SECP256K1_N >> 1n }), fc.nat(1)),
};

/**
 * Runs `check` on `numRuns` mutants of `valid`: up to four bytes overwritten, and each such
 * mutant also cut short at a random length.
 */
export function assertOnMutations(valid: readonly Uint8Array[], check: (raw: Uint8Array) => unknown, numRuns: number): void {
  fc.assert(
    fc.property(
      fc.constantFrom(...valid),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (raw, edits, cut) => {
        const mutated = Buffer.from(raw);
        for (const [at, byte] of edits) mutated[at % mutated.length] = byte;
        check(mutated);
        check(mutated.subarray(0, cut % (mutated.length + 1)));
      },
    ),
    { numRuns },
  );
}
