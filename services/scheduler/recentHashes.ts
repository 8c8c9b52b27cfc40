// The hashes of the last 256 committed blocks, which BLOCKHASH may read. Bounded ring by height.
export const BLOCKHASH_WINDOW = 256;

export class RecentHashes {
  private readonly byHeight = new Map<bigint, Buffer>();
  private top = -1n;

  record(height: bigint, hash: Buffer): void {
    this.byHeight.set(height, hash);
    if (height > this.top) this.top = height;
    for (const h of this.byHeight.keys()) if (h <= this.top - BigInt(BLOCKHASH_WINDOW)) this.byHeight.delete(h);
  }

  /** Hashes of blocks max(0, number-256) .. number-1, oldest first; throws when one is missing. */
  windowFor(number: bigint): Buffer[] {
    const from = number > BigInt(BLOCKHASH_WINDOW) ? number - BigInt(BLOCKHASH_WINDOW) : 0n;
    const out: Buffer[] = [];
    for (let h = from; h < number; h++) {
      const hash = this.byHeight.get(h);
      if (hash === undefined) throw new Error(`hash of block ${h} unknown (window for block ${number})`);
      out.push(hash);
    }
    return out;
  }
}
