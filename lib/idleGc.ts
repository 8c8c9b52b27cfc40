// A scavenge between blocks, while a process waits for the next one, instead of one in the middle
// of a block.
//
// An executor allocates ≈ 100 KB per ERC-20 tx, so a 64 MB semi-space (lib/nodeFlags.ts) fills
// every one to two partitions, and the scavenge then lands mid-partition: it copies the
// partition's live results (the request, outcomes, packed sets), promotes them at the next one, and
// old space refills at ≈ 11 µs per fresh page. A parallel block waits for its slowest partition,
// so each such pause is the whole block's. Scavenged when a block has ended, the young generation
// holds little that is live (what the cache took in), the pause is short, and the next partition
// starts with an empty semi-space.
//
// V8's gc() exists only when the process starts with --expose-gc (SERVICE_NODE_FLAGS); without it
// (tests, other embedders) this does nothing.

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

function exposedGc(): GcFunction | null {
  const gc = (globalThis as { gc?: GcFunction }).gc;
  return typeof gc === 'function' ? gc : null;
}

/** Runs a minor GC (a scavenge) now; false when gc() is not exposed. */
export function scavengeNow(): boolean {
  const gc = exposedGc();
  if (gc === null) return false;
  gc({ type: 'minor' });
  return true;
}

/**
 * Runs a full GC (mark-compact) now; false when gc() is not exposed. For benchmarks, between
 * phases: what an earlier phase left in old space is collected before the timed one starts,
 * instead of by a major GC that lands on whichever side of a timed comparison runs then.
 */
export function collectAllNow(): boolean {
  const gc = exposedGc();
  if (gc === null) return false;
  // No options: with { type: 'major' } Node 20's V8 ran only scavenges (seen in the GC entries).
  gc();
  return true;
}

/**
 * Two scavenges now: what is alive in the young generation is copied once, then promoted to old
 * space. For benchmarks, between an untimed warm-up and the timed blocks. With the scheduler's
 * 256 MB semi-spaces (lib/nodeFlags.ts) nothing promotes what a warm-up left alive (caches
 * filled, patterns learned, compiled code's feedback) until the first two scavenges of the timed
 * blocks, which then copied 15+ MB: 94 and 46 ms at 2 plain-transfer accounts, against 9-16 ms for
 * each scavenge after, a startup cost a running scheduler pays once. Unlike a full GC, a scavenge
 * keeps compiled code. False when gc() is not exposed.
 */
export function settleYoungGeneration(): boolean {
  return scavengeNow() && scavengeNow();
}
