// The first touch of a page costs a page fault (≈ 11 µs on these machines). A process whose
// young generation is fixed at its largest (--min-semi-space-size, lib/nodeFlags.ts) has both
// semi-spaces reserved from the start but backed by nothing until each page is first written: the
// scheduler's 2 × 256 MB take ≈ 130,000 faults, ≈ 1.5 s, spread over its first blocks (one
// 500-tx serial block took 16,000 of them and 480 ms against 70). Allocating short-lived garbage
// through both semi-spaces once at start moves that cost out of the blocks.
import { getHeapSpaceStatistics } from 'node:v8';

/**
 * Elements per throwaway array: 1 KB each (a 16-byte header and 126 tagged elements). V8's
 * semi-space pages are 256 KB; an object that does not fit in what is left of a page goes to the
 * next one, so a page's tail stays as large as one object, unwritten. With 32 KB arrays that tail
 * was ≈ 30 KB of every page, 12 % of the young generation, faulted in later by the blocks
 * themselves (≈ 600 faults per 500-tx transfer block for its first ≈ 20 blocks).
 */
const CHUNK_ELEMENTS = 126;
const CHUNK_BYTES = 16 + CHUNK_ELEMENTS * 8;
/** Past two semi-spaces: the first fill, the scavenge's flip, then the second. */
const FILLS = 2.25;

export interface YoungGenerationTouch {
  /** The new space's size as V8 reports it when called: one semi-space before the first scavenge, both after. */
  newSpaceBytes: number;
  ms: number;
  /** Minor page faults the process took meanwhile (every thread's). */
  pageFaults: number;
}

/** Runs short-lived allocations through every page of the young generation once. */
export function touchYoungGeneration(): YoungGenerationTouch {
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  const newSpaceBytes = newSpace?.space_size ?? 0;
  const started = performance.now();
  const faults = process.resourceUsage().minorPageFault;
  let sink: number[] | undefined;
  for (let bytes = 0; bytes < FILLS * newSpaceBytes; bytes += CHUNK_BYTES) sink = new Array<number>(CHUNK_ELEMENTS).fill(0);
  void sink;
  return { newSpaceBytes, ms: performance.now() - started, pageFaults: process.resourceUsage().minorPageFault - faults };
}
