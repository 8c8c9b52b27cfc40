// The result check catches a lost transaction and a double-applied one, both in the accounting
// (block contents vs acknowledgements) and in the committed state (model vs what is read back).
import { describe, expect, it } from 'vitest';
import { generateWorkload } from '../lib/workloads/index.js';
import { checkAccounting, compareState, decodeRpcResult, rpcCallFor } from './resultCheck.js';

describe('result check', async () => {
  const w = await generateWorkload({ workload: 'erc20', accounts: 3, hotShare: 0, txCount: 12, chainId: 31337n, seed: 'check' });
  const hashes = w.txs.map((t) => t.hash.toString('hex'));
  const ours = new Set(hashes);
  const blocks = [{ height: 1n, txHashes: hashes.slice(0, 6) }, { height: 2n, txHashes: hashes.slice(6) }];

  it('passes when every acknowledged tx is committed once', () => {
    const r = checkAccounting({ accepted: hashes, refused: [], blocks, executionRejections: new Map() }, ours);
    expect(r).toMatchObject({ ok: true, included: 12, lost: [], duplicated: [], foreign: 0 });
  });

  it('detects a lost transaction', () => {
    const lossy = [{ height: 1n, txHashes: hashes.slice(0, 6) }, { height: 2n, txHashes: hashes.slice(7) }];
    const r = checkAccounting({ accepted: hashes, refused: [], blocks: lossy, executionRejections: new Map() }, ours);
    expect(r.ok).toBe(false);
    expect(r.lost).toEqual([hashes[6]]);
    // A tx rejected at execution with a reason is accounted for, not lost.
    const rejected = checkAccounting({ accepted: hashes, refused: [], blocks: lossy, executionRejections: new Map([[hashes[6]!, 'nonce too low']]) }, ours);
    expect(rejected.ok).toBe(true);
  });

  it('detects a double-applied transaction', () => {
    const twice = [...blocks, { height: 3n, txHashes: [hashes[2]!] }];
    const r = checkAccounting({ accepted: hashes, refused: [], blocks: twice, executionRejections: new Map() }, ours);
    expect(r.ok).toBe(false);
    expect(r.duplicated).toEqual([{ hash: hashes[2], heights: [1n, 3n] }]);
  });

  it('detects a refused transaction that was committed anyway', () => {
    const r = checkAccounting({ accepted: hashes.slice(1), refused: [hashes[0]!], blocks, executionRejections: new Map() }, ours);
    expect(r.refusedButIncluded).toEqual([hashes[0]]);
    expect(r.ok).toBe(false);
  });

  it('detects the state of a lost or a double-applied transaction', () => {
    const model = (txs: typeof w.txs) => {
      const ledger = w.generator.newLedger();
      for (const tx of txs) ledger.apply(tx, { status: 'success' });
      return ledger.expectations();
    };
    const expected = model(w.txs);
    expect(compareState(expected, expected.map((e) => e.value))).toEqual([]);
    // The cluster "lost" tx 5: its state lacks that transfer.
    const lostState = model([...w.txs.slice(0, 5), ...w.txs.slice(6)]);
    const lookup = (vals: typeof expected) => expected.map((e) => vals.find((v) => v.label === e.label)?.value ?? e.value);
    const lost = compareState(expected, lookup(lostState));
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.some((m) => m.label.startsWith('nonce'))).toBe(true);
    // The cluster applied a transfer twice: one more transfer's worth moved.
    const moving = w.txs.find((t) => t.effect.kind === 'erc20' && !t.effect.to.equals(t.sender))!;
    const doubled = compareState(expected, lookup(model([...w.txs, moving])));
    expect(doubled.some((m) => m.label.startsWith('token'))).toBe(true);
  });

  it('maps queries to JSON-RPC and decodes the answers', () => {
    const call = w.expected.find((e) => e.query.kind === 'call')!;
    expect(rpcCallFor(call.query, '0x5').method).toBe('eth_call');
    expect(decodeRpcResult(call.query, '0x' + (42n).toString(16).padStart(64, '0'))).toBe(42n);
    const nonce = w.expected.find((e) => e.query.kind === 'nonce')!;
    expect(rpcCallFor(nonce.query, 'latest')).toMatchObject({ method: 'eth_getTransactionCount' });
    expect(decodeRpcResult(nonce.query, '0x3')).toBe(3n);
  });
});
