// What a block that ran serially would have met in a parallel run: for each tx, the reads of an
// earlier tx's writes (its dependencies, for the longest chain) and, among them, those written
// in another partition (conflicts, by key, for hot-key learning). Fed one tx at a time in block
// order, so the scheduler's own serial runs never keep a whole block's read-sets.
import type { StateKey } from '../state/keys.js';

export class SerialConflictCounter {
  readonly conflicts = new Map<StateKey, number>();
  readonly deps: number[][] = [];
  /** Txs with at least one cross-partition read. */
  conflictingTxs = 0;
  private current: number[] = [];
  private currentIndex = -1;
  private currentConflicted = false;

  /**
   * @param partOf the partition each tx would have had
   * @param coinbase never a conflict: fees are deltas in parallel runs
   */
  constructor(private readonly partOf: Int32Array, private readonly coinbase: StateKey) {}

  /** Starts tx `index` (block order, each once). */
  beginTx(index: number): void {
    if (index !== this.deps.length) throw new Error(`SerialConflictCounter: tx ${index} out of order (expected ${this.deps.length})`);
    this.current = [];
    this.currentIndex = index;
    this.currentConflicted = false;
    this.deps.push(this.current);
  }

  /** One read of the current tx: `writer` is the block index that wrote what it saw, -1 = committed state. */
  read(key: StateKey, writer: number): void {
    if (writer < 0 || key === this.coinbase) return;
    this.current.push(writer);
    if (this.partOf[writer] !== this.partOf[this.currentIndex]) {
      this.conflicts.set(key, (this.conflicts.get(key) ?? 0) + 1);
      this.currentConflicted = true;
    }
  }

  /** Ends the current tx; true when it would have conflicted. */
  endTx(): boolean {
    if (this.currentConflicted) this.conflictingTxs++;
    return this.currentConflicted;
  }
}
