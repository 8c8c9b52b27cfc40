import { Account, Address } from '@ethereumjs/util';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import { EMPTY_CODE_HASH, accountKey, codeKey, encodeAccount, storageKey, type StateKey } from '../state/keys.js';
import { JournaledStateView, MapStateSource, type VersionedRead, type VersionedStateSource } from './stateView.js';

const A = new Address(Buffer.alloc(20, 0xaa));
const B = new Address(Buffer.alloc(20, 0xbb));
const slot = (n: number): Buffer => {
  const s = Buffer.alloc(32);
  s[31] = n;
  return s;
};
const word = (n: number): Buffer => slot(n);
const big = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex')));

/** A source that serves a map and tags each read with a version, counting the reads. */
class CountingSource implements VersionedStateSource {
  readonly counts = new Map<StateKey, number>();
  constructor(
    private readonly state: Map<StateKey, Buffer>,
    private readonly txIndex = 3,
  ) {}
  read(key: StateKey): VersionedRead {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    return { value: this.state.get(key) ?? null, txIndex: this.txIndex, incarnation: 1 };
  }
}

function baseState(): Map<StateKey, Buffer> {
  return new Map<StateKey, Buffer>([
    [accountKey(A.bytes), encodeAccount({ nonce: 5n, balance: 1000n, codeHash: EMPTY_CODE_HASH })],
    [storageKey(A.bytes, slot(1)), word(11)],
  ]);
}

function freshView(state = baseState()): { view: JournaledStateView; source: CountingSource } {
  const view = new JournaledStateView();
  const source = new CountingSource(state);
  view.beginTx(source);
  return { view, source };
}

describe('JournaledStateView reads', () => {
  it('records each key once with the version first observed, and caches it', async () => {
    const { view, source } = freshView();
    expect((await view.getAccount(A))!.balance).toBe(1000n);
    expect((await view.getAccount(A))!.nonce).toBe(5n);
    expect(await view.getAccount(B)).toBeUndefined();
    expect(big(await view.getStorage(A, slot(1)))).toBe(11n);
    expect(big(await view.getStorage(A, slot(2)))).toBe(0n);
    const { reads, writes } = view.accessSets();
    expect(writes.size).toBe(0);
    expect([...reads.keys()]).toEqual([accountKey(A.bytes), accountKey(B.bytes), storageKey(A.bytes, slot(1)), storageKey(A.bytes, slot(2))]);
    expect(reads.get(accountKey(A.bytes))).toMatchObject({ txIndex: 3, incarnation: 1 });
    for (const n of source.counts.values()) expect(n).toBe(1);
  });

  it('reads of keys the transaction wrote first are not reads', async () => {
    const { view } = freshView();
    await view.putStorage(B, slot(7), word(1));
    expect(big(await view.getStorage(B, slot(7)))).toBe(1n);
    await view.putAccount(B, new Account(1n, 2n));
    expect((await view.getAccount(B))!.balance).toBe(2n);
    expect(view.accessSets().reads.size).toBe(0);
  });

  it('returns a fresh Account each time, so mutating one changes nothing', async () => {
    const { view } = freshView();
    const a = (await view.getAccount(A))!;
    a.balance = 1n;
    expect((await view.getAccount(A))!.balance).toBe(1000n);
    expect(view.accessSets().writes.size).toBe(0);
  });

  it('works with a source that answers with promises', async () => {
    const state = baseState();
    const view = new JournaledStateView();
    view.beginTx({ read: (k) => Promise.resolve({ value: state.get(k) ?? null, txIndex: -1, incarnation: 0 }) });
    expect((await view.getAccount(A))!.balance).toBe(1000n);
    expect(big(await view.getStorage(A, slot(1)))).toBe(11n);
    expect(big(await view.originalStorageCache.get(A, slot(1)))).toBe(11n);
    expect(view.accessSets().reads.size).toBe(2);
  });

  it('remembers the first error the source threw', async () => {
    const view = new JournaledStateView();
    const boom = new Error('not yet written');
    view.beginTx({ read: () => Promise.reject(boom) });
    await expect(view.getAccount(A)).rejects.toBe(boom);
    expect(view.sourceError).toBe(boom);
    view.beginTx(new MapStateSource(new Map()));
    expect(view.sourceError).toBeUndefined();
  });
});

describe('JournaledStateView writes', () => {
  it('originalStorageCache returns the value at the start of the transaction', async () => {
    const { view } = freshView();
    await view.putStorage(A, slot(1), word(99));
    await view.putStorage(A, slot(3), word(5)); // written before ever read
    expect(big(await view.getStorage(A, slot(1)))).toBe(99n);
    expect(big(await view.originalStorageCache.get(A, slot(1)))).toBe(11n);
    expect(big(await view.originalStorageCache.get(A, slot(3)))).toBe(0n);
    view.originalStorageCache.clear(); // what runTx does after each tx; must not lose anything mid-tx
    expect(big(await view.originalStorageCache.get(A, slot(1)))).toBe(11n);
  });

  it('writes storage as 32 bytes, zero as null; drops writes that end where they started', async () => {
    const { view } = freshView();
    await view.getStorage(A, slot(1));
    await view.putStorage(A, slot(1), Uint8Array.from([0]));
    await view.putStorage(A, slot(2), Uint8Array.from([1, 2]));
    await view.getStorage(A, slot(4));
    await view.putStorage(A, slot(4), Uint8Array.from([9]));
    await view.putStorage(A, slot(4), new Uint8Array(0)); // back to zero: a no-op overall
    const { writes } = view.accessSets();
    expect(writes.get(storageKey(A.bytes, slot(1)))).toBeNull();
    expect(writes.get(storageKey(A.bytes, slot(2)))).toEqual(Buffer.concat([Buffer.alloc(30), Buffer.from([1, 2])]));
    expect(writes.has(storageKey(A.bytes, slot(4)))).toBe(false);
  });

  it('writes an EIP-161-empty account as absent', async () => {
    const { view } = freshView();
    await view.putAccount(A, new Account(0n, 0n));
    await view.putAccount(B, new Account(0n, 0n));
    const { writes } = view.accessSets();
    expect(writes.get(accountKey(A.bytes))).toBeNull();
    expect(writes.get(accountKey(B.bytes))).toBeNull(); // never read: kept, as null
  });

  it('putCode writes the code under its hash and sets the account code hash', async () => {
    const { view } = freshView();
    const code = Uint8Array.from([0x60, 0x00, 0x00]);
    await view.putCode(B, code);
    const hash = keccak_256(code);
    expect(Buffer.from((await view.getAccount(B))!.codeHash)).toEqual(Buffer.from(hash));
    expect(await view.getCode(B)).toEqual(Buffer.from(code));
    expect(await view.getCodeSize(B)).toBe(3);
    expect(await view.getCode(A)).toEqual(new Uint8Array(0));
    const { writes } = view.accessSets();
    expect(writes.get(codeKey(hash))).toEqual(Buffer.from(code));
  });

  it('modifyAccountFields changes only the given fields', async () => {
    const { view } = freshView();
    await view.modifyAccountFields(A, { balance: 7n });
    const a = (await view.getAccount(A))!;
    expect(a.balance).toBe(7n);
    expect(a.nonce).toBe(5n);
  });
});

describe('JournaledStateView checkpoints', () => {
  it('revert undoes exactly the writes since the checkpoint; commit keeps them', async () => {
    const { view } = freshView();
    await view.putStorage(A, slot(1), word(1));
    await view.checkpoint();
    await view.putStorage(A, slot(1), word(2));
    await view.putStorage(A, slot(9), word(3));
    await view.checkpoint();
    await view.putStorage(A, slot(1), word(4));
    await view.commit(); // inner committed into the middle level
    expect(big(await view.getStorage(A, slot(1)))).toBe(4n);
    await view.revert(); // middle level reverted, with what the inner one committed into it
    expect(big(await view.getStorage(A, slot(1)))).toBe(1n);
    expect(view.checkpointDepth).toBe(0);
    const { writes, reads } = view.accessSets();
    expect([...writes.keys()]).toEqual([storageKey(A.bytes, slot(1))]);
    // slot 9 was never read and its write was reverted: reading it now goes to the source.
    expect(big(await view.getStorage(A, slot(9)))).toBe(0n);
    expect(reads.has(storageKey(A.bytes, slot(9)))).toBe(true);
  });

  it('reverting restores values read before the checkpoint and keeps reads made inside it', async () => {
    const { view } = freshView();
    await view.checkpoint();
    expect((await view.getAccount(A))!.balance).toBe(1000n);
    await view.putAccount(A, new Account(5n, 1n));
    await view.revert();
    expect((await view.getAccount(A))!.balance).toBe(1000n);
    const { writes, reads } = view.accessSets();
    expect(writes.size).toBe(0);
    expect(reads.has(accountKey(A.bytes))).toBe(true);
  });

  it('rejects unbalanced commit and revert', async () => {
    const { view } = freshView();
    await expect(async () => view.commit()).rejects.toThrow(/without checkpoint/);
    await expect(async () => view.revert()).rejects.toThrow(/without checkpoint/);
  });
});

describe('JournaledStateView self-destruct', () => {
  it('deleteAccount nulls the storage written for that address in this transaction', async () => {
    const { view } = freshView();
    await view.putAccount(B, new Account(1n, 5n));
    await view.putStorage(B, slot(1), word(1));
    await view.putStorage(B, slot(2), word(2));
    await view.putStorage(A, slot(1), word(3));
    await view.checkpoint();
    await view.deleteAccount(B);
    expect(big(await view.getStorage(B, slot(1)))).toBe(0n);
    let { writes } = view.accessSets();
    expect(writes.get(accountKey(B.bytes))).toBeNull();
    expect(writes.get(storageKey(B.bytes, slot(1)))).toBeNull();
    expect(writes.get(storageKey(B.bytes, slot(2)))).toBeNull();
    expect(writes.get(storageKey(A.bytes, slot(1)))).toEqual(word(3));
    await view.revert();
    ({ writes } = view.accessSets());
    expect(writes.get(storageKey(B.bytes, slot(2)))).toEqual(word(2));
  });

  it('clearStorage does the same for the storage, keeping the account', async () => {
    const { view } = freshView();
    await view.putAccount(B, new Account(1n, 5n));
    await view.putStorage(B, slot(1), word(1));
    await view.clearStorage(B);
    const { writes } = view.accessSets();
    expect(writes.get(storageKey(B.bytes, slot(1)))).toBeNull();
    expect(writes.get(accountKey(B.bytes))).not.toBeNull();
  });
});

describe('JournaledStateView lifecycle', () => {
  it('beginTx forgets the previous transaction entirely', async () => {
    const { view } = freshView();
    await view.putStorage(A, slot(1), word(2));
    await view.checkpoint();
    const first = view.accessSets();
    view.beginTx(new MapStateSource(baseState()));
    expect(view.checkpointDepth).toBe(0);
    expect(big(await view.getStorage(A, slot(1)))).toBe(11n);
    expect(view.accessSets().writes.size).toBe(0);
    expect(first.writes.size).toBe(1); // outcomes handed out earlier are not mutated
  });

  it('does not support trie operations', async () => {
    const { view } = freshView();
    await expect(view.getStateRoot()).rejects.toThrow(/not supported/);
    expect(() => view.shallowCopy()).toThrow(/not supported/);
  });
});
