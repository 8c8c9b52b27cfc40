// Splits a block into partitions that executors run optimistically in parallel. Transactions
// that must see each other's writes are kept together: all txs of one sender (nonce order), and
// all txs on an address that recent blocks showed to be hot (an AMM pair, a popular recipient),
// and txs declaring the same EIP-2930 storage keys. Everything else is spread for balance, with
// a preference for the same partition per address across blocks so executor caches stay warm.
// Hints only steer; validation keeps the result exact whatever the plan.
import type { Tx } from '../../gen/lanes/v1/types.js';
import { sameBytes } from '../bytes.js';
import { accessListKeys, blockCallFields, type TxCallFields } from '../chain/txFields.js';

export interface PartitionHints {
  /** Lowercase hex addresses (no 0x) whose txs should run in one partition. */
  hotAddresses: ReadonlySet<string>;
  /**
   * Names of state tx `index` will likely write, learned from earlier blocks (AccessPatternLearner
   * .affinityKeys): txs sharing a name run in one partition instead of conflicting across two.
   */
  affinity?: (index: number, to: Buffer, data: Buffer) => Iterable<string>;
}

/**
 * How a block is cut for dynamic dispatch: `heads` partitions of equal share, one per executor,
 * then `tails` smaller ones sharing `tailShare` of the block, each handed to whichever executor
 * finishes first, and each smaller than the one before (weights tails, tails-1, …, 1). The block
 * waits for its slowest executor; with tails, an executor slowed by its host (or a bigger share
 * of costly txs) takes fewer of them, so the block's end waits at most one tail chunk instead of
 * the whole difference, and the last chunks are the smallest. With 4 equal tails of 25 txs (ERC-20,
 * 10,000 accounts, 2 executors), the two ended 8–14 ms apart.
 */
export interface PartitionShape {
  tails: number;
  tailShare: number;
}

const NO_TAILS: PartitionShape = { tails: 0, tailShare: 0 };

export interface PartitionPlan {
  /**
   * Block indexes per partition, each ascending: the heads first (one per executor), then the
   * tails. Empty partitions are dropped.
   */
  partitions: number[][];
  /** How many of `partitions` are heads: the rest are tails, dispatched as executors free up. */
  heads: number;
  /** Size of the largest group of txs that had to stay together. */
  largestGroup: number;
  /** The called address of each tx (hex, no 0x; null for a creation or an undecodable tx). */
  called: Array<string | null>;
  /** Each tx's `to`, calldata and access list, as read for the plan (so nothing decodes them twice). */
  fields: readonly TxCallFields[];
}

class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }
  find(i: number): number {
    let root = i;
    while (this.parent[root] !== root) root = this.parent[root]!;
    while (this.parent[i] !== root) {
      const next = this.parent[i]!;
      this.parent[i] = root;
      i = next;
    }
    return root;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    // The smaller index becomes the root: groups are named by their first tx, deterministically.
    if (ra < rb) this.parent[rb] = ra;
    else if (rb < ra) this.parent[ra] = rb;
  }
}

function addressSlot(address: string, parts: number): number {
  return parseInt(address.slice(0, 8), 16) % parts;
}

/**
 * The names of state tx `index` will likely write, as far as they are known before execution:
 * its sender's account (nonce, fee), a plain transfer's recipient account, the storage keys an
 * EIP-2930 access list declares, and learned mapping entries (hints.affinity). Two txs sharing a
 * name belong in one partition; a conflict between two txs that share none is one only a
 * coarser rule (a hot address) can prevent.
 */
export function affinityNames(
  tx: Tx, fields: TxCallFields, index: number, affinity: PartitionHints['affinity'],
): { names: string[]; to: string | null; sender: string } {
  const sender = tx.sender.toString('hex');
  const names = ['a' + sender];
  const to = fields.to === null ? null : fields.to.toString('hex');
  if (to !== null && fields.data.length === 0) names.push('a' + to);
  if (fields.accessList !== null) for (const k of accessListKeys(fields.accessList)) names.push('k' + k);
  if (fields.to !== null && affinity !== undefined) for (const k of affinity(index, fields.to, fields.data)) names.push('m' + k);
  return { names, to, sender };
}

/**
 * `parts` head partitions (see PartitionShape for the tails). Groups of txs that must stay
 * together go to their home head, or, when that one is full, to the partition with the most room.
 */
export function planPartitions(txs: readonly Tx[], parts: number, hints: PartitionHints, shape: PartitionShape = NO_TAILS): PartitionPlan {
  if (parts < 1) throw new Error(`planPartitions: parts must be >= 1, got ${parts}`);
  if (shape.tails < 0 || !(shape.tailShare >= 0 && shape.tailShare < 1)) throw new Error(`planPartitions: bad shape ${JSON.stringify(shape)}`);
  const n = txs.length;
  const uf = new UnionFind(n);
  const firstBy = new Map<string, number>();
  const join = (key: string, i: number): void => {
    const first = firstBy.get(key);
    if (first === undefined) firstBy.set(key, i);
    else uf.union(first, i);
  };
  const homes: string[] = [];
  const called: Array<string | null> = [];
  const fields = blockCallFields(txs);
  for (let i = 0; i < n; i++) {
    const { names, to, sender } = affinityNames(txs[i]!, fields[i]!, i, hints.affinity);
    for (const name of names) join(name, i);
    if (to !== null && hints.hotAddresses.has(to)) join('h' + to, i);
    if (hints.hotAddresses.has(sender)) join('h' + sender, i);
    homes.push(to ?? sender);
    called.push(to);
  }
  // Groups in order of their first tx; each goes to its address's home head unless that would
  // take it past its share, then to the partition with the most room left. The shares are exact:
  // the block waits for its slowest partition, and executors keep every committed write cached
  // anyway, so affinity is worth less than balance.
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const root = uf.find(i);
    let g = groups.get(root);
    if (g === undefined) groups.set(root, (g = []));
    g.push(i);
  }
  const tails = shape.tailShare > 0 ? shape.tails : 0;
  const total = parts + tails;
  const room = new Array<number>(total);
  for (let p = 0; p < parts; p++) room[p] = Math.ceil((n * (1 - (tails > 0 ? shape.tailShare : 0))) / parts);
  // Tails shrink toward the block's end (weights tails, tails-1, …, 1): the first ones go to
  // whichever executor frees up first and take the bulk; the last, small ones are what the block
  // waits for when its executors end at different times.
  const weights = (tails * (tails + 1)) / 2;
  for (let p = parts; p < total; p++) room[p] = Math.ceil((n * shape.tailShare * (total - p)) / weights);
  const assigned: number[][] = Array.from({ length: total }, () => []);
  let largestGroup = 0;
  for (const [root, members] of groups) {
    largestGroup = Math.max(largestGroup, members.length);
    let target = addressSlot(homes[root]!, parts);
    if (members.length > room[target]!) {
      target = 0;
      for (let p = 1; p < total; p++) if (room[p]! > room[target]!) target = p;
    }
    room[target] = room[target]! - members.length;
    for (const m of members) assigned[target]!.push(m);
  }
  const heads = assigned.slice(0, parts).filter((p) => p.length > 0).length;
  const partitions = assigned.filter((p) => p.length > 0).map((p) => p.sort((a, b) => a - b));
  return { partitions, heads, largestGroup, called, fields };
}

/**
 * A partition per sender, round-robin in order of first appearance (nonce order kept, nothing
 * decoded): what a block that runs serially anyway uses to learn which of its reads a parallel
 * run would have met across partitions. Round-robin, not a hash, so two senders never share a
 * partition by chance and hide their conflicts.
 */
export function senderPartitions(txs: readonly Tx[], parts: number): Int32Array {
  const out = new Int32Array(txs.length);
  // Keyed by the sender's first four bytes, read as a number, so no string is made per tx (it
  // runs on every serial block). A sender whose first bytes another sender already holds is
  // keyed by its whole address instead: exact either way.
  const byPrefix = new Map<number, { sender: Buffer; part: number }>();
  const byAddress = new Map<string, number>();
  let senders = 0;
  for (let i = 0; i < txs.length; i++) {
    const sender = txs[i]!.sender;
    const prefix = sender.length >= 4 ? sender.readUInt32LE(0) : -1;
    const first = byPrefix.get(prefix);
    let p: number;
    if (first === undefined) {
      p = senders++ % parts;
      byPrefix.set(prefix, { sender, part: p });
    } else if (sameBytes(first.sender, sender)) {
      p = first.part;
    } else {
      const address = sender.toString('latin1');
      const known = byAddress.get(address);
      p = known ?? senders++ % parts;
      if (known === undefined) byAddress.set(address, p);
    }
    out[i] = p;
  }
  return out;
}


/**
 * The affinity names of a block's txs, computed on demand: tells whether two txs share one, i.e.
 * whether the partitioner already keeps them together once it knows what it knows now.
 */
export class BlockAffinity {
  private readonly names: Array<Set<string> | undefined>;

  constructor(private readonly txs: readonly Tx[], private readonly affinity: PartitionHints['affinity']) {
    this.names = new Array<Set<string> | undefined>(txs.length);
  }

  share(i: number, j: number): boolean {
    const a = this.of(i);
    const b = this.of(j);
    for (const name of a) if (b.has(name)) return true;
    return false;
  }

  private of(i: number): Set<string> {
    let names = this.names[i];
    if (names === undefined) this.names[i] = names = new Set(affinityNames(this.txs[i]!, blockCallFields(this.txs)[i]!, i, this.affinity).names);
    return names;
  }
}
