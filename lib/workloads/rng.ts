// A small seeded PRNG (sfc32) for workload generation: the same seed yields the same sequence on
// every machine, which is what makes a workload (and so a benchmark run) reproducible.
import { keccak256 } from '../crypto/keccak.js';

export class SeededRng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    const h = Buffer.from(keccak256(Buffer.from(`lanes-rng:${seed}`, 'utf8')));
    this.a = h.readUInt32BE(0);
    this.b = h.readUInt32BE(4);
    this.c = h.readUInt32BE(8);
    this.d = h.readUInt32BE(12);
    for (let i = 0; i < 16; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`nextInt: n must be a positive integer, got ${n}`);
    return Math.floor(this.nextFloat() * n);
  }

  /** Uniform bigint in [min, max]. */
  nextBigInt(min: bigint, max: bigint): bigint {
    const span = max - min + 1n;
    const r = (BigInt(this.nextU32()) << 32n) | BigInt(this.nextU32());
    return min + (r % span);
  }
}
