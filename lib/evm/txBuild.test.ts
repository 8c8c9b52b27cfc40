import { RLP } from '@ethereumjs/rlp';
import { createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx';
import { Address } from '@ethereumjs/util';
import { Wallet, type TransactionRequest } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertOnMutations, bigBytes, txFieldArbitraries } from '../../test/support/txFuzz.js';
import { chainCommon } from '../chain/common.js';
import { sharedTxCommon, TxBuilder } from './txBuild.js';

const CHAIN_ID = 31337n;
const common = sharedTxCommon(chainCommon(CHAIN_ID));
const builder = new TxBuilder(common);
const wallet = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const RECIPIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

async function sign(request: TransactionRequest): Promise<Buffer> {
  const hex = await wallet.signTransaction({ chainId: CHAIN_ID, nonce: 0, gasLimit: 100_000, ...request });
  return Buffer.from(hex.slice(2), 'hex');
}
const eip1559 = (extra: TransactionRequest = {}): Promise<Buffer> =>
  sign({ type: 2, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, to: RECIPIENT, ...extra });


function library(raw: Uint8Array): TypedTransaction | null {
  try {
    return createTxFromRLP(raw, { common, freeze: false });
  } catch {
    return null;
  }
}

/** Field values compared as the library's code sees them: same classes, same bytes, same numbers. */
function expectSameValue(ours: unknown, theirs: unknown, path: string): void {
  if (theirs instanceof Address) {
    expect(ours, path).toBeInstanceOf(Address);
    expect(Buffer.from((ours as Address).bytes).equals(Buffer.from(theirs.bytes)), path).toBe(true);
    expect((ours as Address).bytes.constructor, path).toBe(theirs.bytes.constructor);
  } else if (theirs instanceof Uint8Array) {
    expect((ours as Uint8Array).constructor, path).toBe(theirs.constructor);
    expect(Buffer.from(ours as Uint8Array).equals(Buffer.from(theirs)), path).toBe(true);
  } else if (Array.isArray(theirs)) {
    expect(Array.isArray(ours), path).toBe(true);
    expect((ours as unknown[]).length, path).toBe(theirs.length);
    theirs.forEach((item, i) => expectSameValue((ours as unknown[])[i], item, `${path}[${i}]`));
  } else if (theirs === common) {
    expect(ours, path).toBe(common);
  } else if (theirs !== null && typeof theirs === 'object') {
    expect(Object.keys(ours as object), path).toEqual(Object.keys(theirs));
    for (const key of Object.keys(theirs)) expectSameValue((ours as Record<string, unknown>)[key], (theirs as Record<string, unknown>)[key], `${path}.${key}`);
  } else {
    expect(ours, path).toBe(theirs);
  }
}

/** Same prototype, same own fields in the same order, same values, and the same answers to what runTx asks. */
function expectSameTx(ours: TypedTransaction, theirs: TypedTransaction): void {
  expect(Object.getPrototypeOf(ours)).toBe(Object.getPrototypeOf(theirs));
  expect(Object.keys(ours)).toEqual(Object.keys(theirs));
  for (const key of Object.keys(theirs)) if (key !== 'cache') expectSameValue((ours as never)[key], (theirs as never)[key], key);
  // The one difference: ours carries the calldata fee the library caches on a frozen tx once asked.
  const frozen = createTxFromRLP(theirs.serialize(), { common });
  frozen.getDataGas();
  expect((theirs as unknown as { cache: object }).cache).toEqual({});
  expect((ours as unknown as { cache: object }).cache).toEqual({ dataFee: (frozen as unknown as { cache: { dataFee: unknown } }).cache.dataFee });
  expect(Buffer.from(ours.serialize()).equals(Buffer.from(theirs.serialize()))).toBe(true);
  expect(Buffer.from(ours.getHashedMessageToSign()).equals(Buffer.from(theirs.getHashedMessageToSign()))).toBe(true);
  expect(ours.getIntrinsicGas()).toBe(theirs.getIntrinsicGas());
  expect(ours.getDataGas()).toBe(theirs.getDataGas());
  expect(ours.getUpfrontCost(7n)).toBe(theirs.getUpfrontCost(7n));
  expect(ours.isSigned()).toBe(theirs.isSigned());
  expect(ours.toCreationAddress()).toBe(theirs.toCreationAddress());
}

/** What the executor relies on: whatever the builder builds, the library builds the same; counts builds. */
function agrees(raw: Uint8Array): boolean {
  const ours = builder.build(raw);
  if (ours === null) return false;
  const theirs = library(raw);
  expect(theirs, 'the builder accepted what the library refuses').not.toBeNull();
  expectSameTx(ours, theirs!);
  return true;
}

describe('TxBuilder', () => {
  it('builds signed EIP-1559 transfers, calls, creations and access-list transactions as the library does', async () => {
    const txs = [
      await eip1559(),
      await eip1559({ value: 0n, data: '0xa9059cbb' + '00'.repeat(64) }),
      await eip1559({ to: null, data: '0x6000600055' }),
      await eip1559({ nonce: 2 ** 40, maxPriorityFeePerGas: 0n, value: 10n ** 30n }),
      await eip1559({ accessList: [{ address: RECIPIENT, storageKeys: ['0x' + '00'.repeat(31) + '01', '0x' + 'ff'.repeat(32)] }] }),
    ];
    for (const raw of txs) expect(agrees(raw)).toBe(true);
    // The sender is the executor's business (pinned by execute.ts), but the signature is intact.
    const built = builder.build(txs[0]!)!;
    expect(built.getSenderAddress().toString().toLowerCase()).toBe(wallet.address.toLowerCase());
  });

  it('leaves other types, other chains and what its checks refuse to the library', async () => {
    const legacy = await sign({ type: 0, gasPrice: 2_000_000_000n, to: RECIPIENT });
    const eip2930 = await sign({ type: 1, gasPrice: 2_000_000_000n, to: RECIPIENT });
    const otherChain = await eip1559({ chainId: 5n });
    // ethers refuses to sign a tip above the fee cap: swap the two fields of a signed tx.
    const fields = RLP.decode((await eip1559()).subarray(1)) as Uint8Array[];
    [fields[2], fields[3]] = [fields[3]!, fields[2]!];
    const tipAboveCap = Buffer.concat([Buffer.from([2]), RLP.encode(fields)]);
    expect(library(tipAboveCap)).toBeNull();
    for (const raw of [legacy, eip2930, otherChain, tipAboveCap, new Uint8Array(0), Buffer.from([2])]) expect(builder.build(raw)).toBeNull();
  });

  it('random EIP-1559 fields and signatures: what it builds, the library builds identically', () => {
    const { integer, to, accessList, signature } = txFieldArbitraries;
    let built = 0;
    fc.assert(
      fc.property(
        fc.tuple(integer(8), integer(32), integer(32), integer(8), to, integer(32), fc.uint8Array({ maxLength: 64 })),
        accessList,
        signature,
        ([nonce, fee1, fee2, gasLimit, toBytes, value, data], list, [r, s, parity]) => {
          const body = RLP.encode([bigBytes(CHAIN_ID), nonce, fee1, fee2, gasLimit, toBytes, value, data, list, bigBytes(BigInt(parity)), bigBytes(r), bigBytes(s)]);
          if (agrees(Buffer.concat([Buffer.from([2]), body]))) built++;
        },
      ),
      { numRuns: 400 },
    );
    expect(built).toBeGreaterThan(50);
  });

  it('mutations of valid transactions: never built unless the library builds the same', async () => {
    const valid = [await eip1559(), await eip1559({ to: null, data: '0x6000' }), await eip1559({ accessList: [{ address: RECIPIENT, storageKeys: [] }] })];
    assertOnMutations(valid, agrees, 1500);
  });
});
