// Byte-level mutations of valid signed transactions, for properties that must hold on any input
// (decoders that only reject with a reason, builders that only build what the library builds).
import fc from 'fast-check';

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
