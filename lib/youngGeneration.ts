// The first touch of a page costs a page fault (≈ 11 µs on these machines). A process whose
// young generation is fixed at its largest (--min-semi-space-size, lib/nodeFlags.ts) has both
// semi-spaces reserved from the start but backed by nothing until each page is first written: the
// scheduler's 2 × 256 MB take ≈ 130,000 faults, ≈ 1.5 s, spread over its first blocks (one
// 500-tx serial block took 16,000 of them and 480 ms against 70). Allocating short-lived garbage
// through both semi-spaces once at start moves that cost out of the blocks.
import { getHeapSpaceStatistics } from 'node:v8';

/** Elements per throwaway array: 32 KB each, well under V8's large-object size, so it is allocated in the new space. */
const CHUNK_ELEMENTS = 4093;
const CHUNK_BYTES = 32 << 10;
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
