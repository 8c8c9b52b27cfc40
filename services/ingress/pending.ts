// Transactions this ingress accepted that are not yet in a committed block (or rejected there):
// answers "already known", the `pending` nonce (the highest of: the committed nonce, the nonce
// after the sender's latest tx seen included, the highest pending nonce + 1) and
// eth_getTransactionByHash before inclusion. Bounded: at capacity the oldest entry is
// forgotten (it only loses those answers; the transaction itself is already in the stream).
import type { BlockCommitted } from '../../gen/lanes/v1/bus.js';

export interface PendingTx {
  raw: Buffer;
  sender: Buffer;
  nonce: bigint;
  acceptedAtMs: number;
}

interface SenderNonces {
  highestNonce: bigint;
  count: number;
}

export class PendingTxs {
  private readonly byHash = new Map<string, PendingTx>();
  private readonly bySender = new Map<string, SenderNonces>();
  /**
   * Per sender, the nonce after its latest tx seen included in a committed block. Admission reads
   * the committed account concurrently with commits: a snapshot taken just before the block that
   * included nonce n can arrive after that tx left the pending set, and without this the next
   * nonce n + 1 would look like a gap. Bounded like byHash (oldest sender forgotten first).
   */
  private readonly included = new Map<string, bigint>();

  constructor(private readonly capacity: number) {
    if (capacity < 1) throw new Error('PendingTxs: capacity must be positive');
  }

  get size(): number {
    return this.byHash.size;
  }

  has(hash: Uint8Array): boolean {
    return this.byHash.has(hex(hash));
  }

  get(hash: Uint8Array): PendingTx | undefined {
    return this.byHash.get(hex(hash));
  }

  /** Returns false (and changes nothing) when the hash is already pending. */
  add(hash: Uint8Array, tx: PendingTx): boolean {
    const key = hex(hash);
    if (this.byHash.has(key)) return false;
    if (this.byHash.size >= this.capacity) {
      const oldest = this.byHash.keys().next().value as string;
      this.removeKey(oldest);
    }
    this.byHash.set(key, tx);
    const senderKey = hex(tx.sender);
    const nonces = this.bySender.get(senderKey);
    if (nonces === undefined) this.bySender.set(senderKey, { highestNonce: tx.nonce, count: 1 });
    else {
      nonces.count++;
      if (tx.nonce > nonces.highestNonce) nonces.highestNonce = tx.nonce;
    }
    return true;
  }

  remove(hash: Uint8Array): void {
    this.removeKey(hex(hash));
  }

  private removeKey(key: string): void {
    const tx = this.byHash.get(key);
    if (tx === undefined) return;
    this.byHash.delete(key);
    const senderKey = hex(tx.sender);
    const nonces = this.bySender.get(senderKey);
    if (nonces !== undefined && --nonces.count <= 0) this.bySender.delete(senderKey);
  }

  /** The nonce the sender's next transaction should use. */
  pendingNonce(sender: Uint8Array, committedNonce: bigint): bigint {
    const key = hex(sender);
    let next = committedNonce;
    const included = this.included.get(key);
    if (included !== undefined && included > next) next = included;
    const nonces = this.bySender.get(key);
    if (nonces !== undefined && nonces.highestNonce + 1n > next) next = nonces.highestNonce + 1n;
    return next;
  }

  /**
   * Forgets entries older than `maxAgeMs`: a BlockCommitted event is fire-and-forget, and a missed
   * one must not pin a sender's pending nonce (or "already known") forever.
   */
  expire(nowMs: number, maxAgeMs: number): void {
    for (const [key, tx] of this.byHash) {
      if (nowMs - tx.acceptedAtMs < maxAgeMs) break; // insertion order = age order
      this.removeKey(key);
    }
  }

  private noteIncluded(sender: string, next: bigint): void {
    const before = this.included.get(sender);
    if (before !== undefined && before >= next) return;
    this.included.delete(sender); // re-insert: most recent last
    if (this.included.size >= this.capacity) this.included.delete(this.included.keys().next().value as string);
    this.included.set(sender, next);
  }

  /** Included and rejected transactions of a committed block are no longer pending. */
  onBlockCommitted(event: BlockCommitted): void {
    for (const hash of event.txHashes) {
      const key = hex(hash);
      const tx = this.byHash.get(key);
      if (tx !== undefined) this.noteIncluded(hex(tx.sender), tx.nonce + 1n);
      this.removeKey(key);
    }
    for (const rejection of event.rejections) this.removeKey(hex(rejection.txHash));
  }
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
