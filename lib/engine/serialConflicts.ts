// What a block that ran serially would have met in a parallel run: for each tx, the reads of an
// earlier tx's writes (its dependencies, for the longest chain) and, among them, those written
// in another partition (conflicts, by key). A conflict the partitioner's affinity names already
// explain (the two txs share a name, so a plan keeps them together) is counted for the report
// but does not escalate to hot-key learning. Fed one tx at a time in block order, so the
// scheduler's own serial runs never keep a whole block's read-sets.
//
// It runs on every tx of every serial block, so it keeps no per-tx arrays: each tx's depth in
// the dependency graph is computed as its reads arrive (one more than its deepest writer's), and
// the longest chain is the deepest tx.
import type { VersionedRead } from '../evm/stateView.js';
import type { StateKey } from '../state/keys.js';

const EXPLAINED_SAMPLE = 8;

export class SerialConflictCounter {
  /** Every cross-partition conflict, by key (the report's top keys). */
  readonly conflicts = new Map<StateKey, number>();
  /** Conflicts affinity does not explain, by key (what hot-key learning sees). */
  readonly unexplained = new Map<StateKey, number>();
  /** Txs with at least one cross-partition read. */
  conflictingTxs = 0;
  /** Length of the longest chain of read-after-write dependencies so far (conflictReport's longestChain). */
  longestChain = 0;
  /** Per tx, the length of the longest dependency chain ending at it. */
  private readonly depth: Int32Array;
  private txs = 0;
  private currentDepth = 0;
  private currentIndex = -1;
  private currentConflicted = false;
  private currentUnexplained = false;
  /** Per key, conflicts found explained while none was unexplained; past EXPLAINED_SAMPLE, trusted. */
  private readonly explainedRun = new Map<StateKey, number>();

  /**
   * @param partOf the partition each tx would have had
   * @param coinbase never a conflict: fees are deltas in parallel runs
   * @param explained whether txs (reader, writer) already share an affinity name
   */
  constructor(
    private readonly partOf: Int32Array,
    private readonly coinbase: StateKey,
    private readonly explained: (reader: number, writer: number) => boolean = () => false,
  ) {
    this.depth = new Int32Array(partOf.length);
  }

  /** Starts tx `index` (block order, each once). */
  beginTx(index: number): void {
    if (index !== this.txs || index >= this.depth.length) throw new Error(`SerialConflictCounter: tx ${index} out of order (expected ${this.txs} of ${this.depth.length})`);
    this.txs++;
    this.currentIndex = index;
    this.currentDepth = 0;
    this.currentConflicted = false;
    this.currentUnexplained = false;
  }

  /** Every read of the current tx, as its read-set records them. */
  readAll(reads: ReadonlyMap<StateKey, VersionedRead>): void {
    reads.forEach(this.visit);
  }

  /** readAll's callback, made once rather than per tx. */
  private readonly visit = (v: VersionedRead, key: StateKey): void => {
    if (v.txIndex >= 0) this.read(key, v.txIndex);
  };

  /** One read of the current tx: `writer` is the block index that wrote what it saw, -1 = committed state. */
  read(key: StateKey, writer: number): void {
    // A writer at or after the reader cannot be (a read-set records what earlier txs wrote); such
    // an entry is left out rather than allowed to bend the chain.
    if (writer < 0 || writer >= this.currentIndex || key === this.coinbase) return;
    const depth = this.depth[writer]!;
    if (depth > this.currentDepth) this.currentDepth = depth;
    if (this.partOf[writer] === this.partOf[this.currentIndex]) return;
    this.conflicts.set(key, (this.conflicts.get(key) ?? 0) + 1);
    this.currentConflicted = true;
    // A key whose first conflicts were all explained (a balance of two accounts that trade with
    // each other all block) is not checked again: the check costs more than the tx it is about.
    const run = this.explainedRun.get(key) ?? 0;
    if (run >= EXPLAINED_SAMPLE) return;
    if (this.explained(this.currentIndex, writer)) {
      if (run >= 0) this.explainedRun.set(key, run + 1);
      return;
    }
    this.explainedRun.set(key, -1);
    this.unexplained.set(key, (this.unexplained.get(key) ?? 0) + 1);
    this.currentUnexplained = true;
  }

  /** Ends the current tx; true when it had a conflict affinity does not explain. */
  endTx(): boolean {
    const depth = this.currentDepth + 1;
    this.depth[this.currentIndex] = depth;
    if (depth > this.longestChain) this.longestChain = depth;
    if (this.currentConflicted) this.conflictingTxs++;
    return this.currentUnexplained;
  }
}
