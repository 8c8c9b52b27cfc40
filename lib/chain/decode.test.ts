import { RLP } from '@ethereumjs/rlp';
import { Transaction, Wallet, type TransactionRequest } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertOnMutations, bigBytes, txFieldArbitraries } from '../../test/support/txFuzz.js';
import { chainCommon } from './common.js';
import { createTxFromRLP } from '@ethereumjs/tx';
import { decodeTransaction, decodeTransactionHex, MAX_INITCODE_BYTES, SENDER_RECOVERY_NATIVE, type DecodedTx } from './decode.js';
import { TxRejectedError, type TxRejectReason } from './errors.js';

const CHAIN_ID = 31337n;
const common = chainCommon(CHAIN_ID);
const wallet = new Wallet('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const RECIPIENT = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const hexToBytes = (hex: string): Buffer => Buffer.from(hex.slice(2), 'hex');

async function sign(request: TransactionRequest): Promise<Buffer> {
  return hexToBytes(await wallet.signTransaction({ chainId: CHAIN_ID, nonce: 0, gasLimit: 100_000, ...request }));
}

const legacy = (extra: TransactionRequest = {}): Promise<Buffer> =>
  sign({ type: 0, gasPrice: 2_000_000_000n, to: RECIPIENT, value: 12345n, ...extra });
const eip2930 = (extra: TransactionRequest = {}): Promise<Buffer> =>
  sign({
    type: 1,
    gasPrice: 2_000_000_000n,
    to: RECIPIENT,
    accessList: [{ address: RECIPIENT, storageKeys: ['0x' + '00'.repeat(31) + '01'] }],
    ...extra,
  });
const eip1559 = (extra: TransactionRequest = {}): Promise<Buffer> =>
  sign({ type: 2, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, to: RECIPIENT, ...extra });

function rejection(fn: () => unknown): TxRejectedError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TxRejectedError) return error;
    throw new Error(`expected a TxRejectedError, got ${String(error)}`);
  }
  throw new Error('expected a rejection, the call succeeded');
}

function expectReject(raw: Uint8Array, reason: TxRejectReason, message?: RegExp): TxRejectedError {
  const error = rejection(() => decodeTransaction(raw, common));
  expect(error.reason).toBe(reason);
  if (message) expect(error.message).toMatch(message);
  return error;
}

/** Re-encodes a transaction with some RLP fields replaced (typed: after the type byte). */
function withFields(raw: Buffer, edit: (fields: (Uint8Array | Uint8Array[])[]) => void): Buffer {
  const typed = raw[0]! < 0x80;
  const fields = RLP.decode(typed ? raw.subarray(1) : raw) as (Uint8Array | Uint8Array[])[];
  edit(fields);
  const body = Buffer.from(RLP.encode(fields));
  return typed ? Buffer.concat([raw.subarray(0, 1), body]) : body;
}


describe('decodeTransaction: valid transactions signed by ethers', () => {
  it('uses the native secp256k1 addon', () => {
    expect(SENDER_RECOVERY_NATIVE).toBe(true);
  });

  it('decodes an EIP-155 legacy transfer', async () => {
    const raw = await legacy({ nonce: 7, data: '0x00ff' });
    const decoded = decodeTransaction(raw, common);
    const parsed = Transaction.from('0x' + raw.toString('hex'));
    expect('0x' + decoded.hash.toString('hex')).toBe(parsed.hash);
    expect('0x' + decoded.sender.toString('hex')).toBe(wallet.address.toLowerCase());
    expect(decoded).toMatchObject({
      type: 0,
      chainId: CHAIN_ID,
      nonce: 7n,
      gasLimit: 100_000n,
      value: 12345n,
      gasPrice: 2_000_000_000n,
      maxFeePerGas: 2_000_000_000n,
      maxPriorityFeePerGas: 2_000_000_000n,
      accessList: [],
    });
    expect(decoded.to!.toString('hex')).toBe(RECIPIENT.slice(2).toLowerCase());
    expect(decoded.data.toString('hex')).toBe('00ff');
    expect(decoded.raw.equals(raw)).toBe(true);
  });

  it('decodes an EIP-2930 transaction with its access list', async () => {
    const raw = await eip2930();
    const decoded = decodeTransaction(raw, common);
    expect('0x' + decoded.hash.toString('hex')).toBe(Transaction.from('0x' + raw.toString('hex')).hash);
    expect('0x' + decoded.sender.toString('hex')).toBe(wallet.address.toLowerCase());
    expect(decoded.type).toBe(1);
    expect(decoded.gasPrice).toBe(2_000_000_000n);
    expect(decoded.accessList).toHaveLength(1);
    expect(decoded.accessList[0]!.address.toString('hex')).toBe(RECIPIENT.slice(2).toLowerCase());
    expect(decoded.accessList[0]!.storageKeys.map((k) => k.toString('hex'))).toEqual(['00'.repeat(31) + '01']);
  });

  it('decodes an EIP-1559 contract creation', async () => {
    const raw = await eip1559({ to: null, data: '0x6080604052', value: 5n, nonce: 3 });
    const decoded = decodeTransaction(raw, common);
    expect('0x' + decoded.hash.toString('hex')).toBe(Transaction.from('0x' + raw.toString('hex')).hash);
    expect('0x' + decoded.sender.toString('hex')).toBe(wallet.address.toLowerCase());
    expect(decoded).toMatchObject({
      type: 2,
      chainId: CHAIN_ID,
      nonce: 3n,
      to: null,
      value: 5n,
      gasPrice: 3_000_000_000n,
      maxFeePerGas: 3_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
  });

  it('decodes a pre-EIP-155 legacy transaction with chainId null', async () => {
    const raw = await legacy({ chainId: 0n });
    const decoded = decodeTransaction(raw, common);
    expect(decoded.chainId).toBeNull();
    expect('0x' + decoded.sender.toString('hex')).toBe(wallet.address.toLowerCase());
  });

  it('pins hash and sender on the @ethereumjs/tx object so the VM does not recover again', async () => {
    const decoded = decodeTransaction(await eip1559(), common);
    expect(decoded.tx.cache.senderPubKey).toBeDefined();
    expect(decoded.tx.getSenderAddress().toString()).toBe(wallet.address.toLowerCase());
    expect(Buffer.from(decoded.tx.hash()).equals(decoded.hash)).toBe(true);
  });

  it('accepts hex input', async () => {
    const raw = await eip1559();
    expect(decodeTransactionHex('0x' + raw.toString('hex'), common).hash).toEqual(decodeTransaction(raw, common).hash);
  });

  it('a tampered field changes the sender, it does not pass as the signer', async () => {
    const raw = await eip1559();
    const tampered = withFields(raw, (f) => (f[6] = new Uint8Array([0x01])));
    const decoded = decodeTransaction(tampered, common);
    expect('0x' + decoded.sender.toString('hex')).not.toBe(wallet.address.toLowerCase());
  });
});

describe('decodeTransaction: rejections', () => {
  it('malformed hex', () => {
    for (const input of ['0xzz', '1234', '0x123', '']) {
      const error = rejection(() => decodeTransactionHex(input, common));
      expect(error.reason).toBe('invalid-encoding');
      expect(error.code).toBe(-32000);
    }
  });

  it('empty input, RLP garbage, truncation and trailing bytes', async () => {
    expectReject(new Uint8Array(0), 'invalid-encoding', /invalid transaction encoding/);
    expectReject(Buffer.from([0xf8, 0xff, 0x01]), 'invalid-encoding', /rlp/);
    expectReject(Buffer.from([0x85, 1, 2, 3, 4, 5]), 'invalid-encoding', /rlp: expected input list/);
    const raw = await eip1559();
    expectReject(raw.subarray(0, raw.length - 5), 'invalid-encoding', /rlp/);
    expectReject(Buffer.concat([raw, Buffer.from([0x00])]), 'invalid-encoding', /rlp/);
    expectReject(raw.subarray(0, 1), 'invalid-encoding');
  });

  it('wrong field count and nested fields', async () => {
    const raw = await legacy();
    expectReject(withFields(raw, (f) => f.push(new Uint8Array(0))), 'invalid-encoding', /expected 9 fields/);
    expectReject(withFields(raw, (f) => (f[4] = [new Uint8Array([1])])), 'invalid-encoding', /byte string/);
  });

  it('non-canonical integers (leading zeros)', async () => {
    const raw = await eip1559();
    expectReject(withFields(raw, (f) => (f[0] = Buffer.from([0x00, 0x7a, 0x69]))), 'invalid-encoding', /chainId has leading zeros/);
    expectReject(withFields(raw, (f) => (f[6] = Buffer.from([0x00, 0x01]))), 'invalid-encoding', /value has leading zeros/);
    expectReject(withFields(raw, (f) => (f[10] = Buffer.concat([Buffer.from([0]), f[10] as Uint8Array]))), 'invalid-sender');
  });

  it('an unsigned transaction', () => {
    const unsigned = Transaction.from({ type: 2, chainId: CHAIN_ID, nonce: 0, gasLimit: 21000, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, to: RECIPIENT });
    expectReject(hexToBytes(unsigned.unsignedSerialized), 'invalid-sender', /not signed/);
  });

  it('wrong chain id, for each envelope', async () => {
    for (const raw of [await legacy({ chainId: 1n }), await eip2930({ chainId: 1n }), await eip1559({ chainId: 5n })]) {
      const error = expectReject(raw, 'invalid-chain-id', /^invalid chain id for signer/);
      expect(error.code).toBe(-32000);
    }
  });

  it('unsupported transaction types (blob, 7702, unknown)', async () => {
    const body = (await eip1559()).subarray(1);
    for (const type of [3, 4, 5, 0x7f]) {
      expectReject(Buffer.concat([Buffer.from([type]), body]), 'tx-type-not-supported', /^transaction type not supported/);
    }
  });

  it('high-s signatures (EIP-2), even though they recover the signer', async () => {
    for (const raw of [await legacy(), await eip1559()]) {
      const typed = raw[0] === 2;
      const high = withFields(raw, (f) => {
        const sIndex = f.length - 1;
        const vIndex = f.length - 3;
        const s = BigInt('0x' + Buffer.from(f[sIndex] as Uint8Array).toString('hex'));
        f[sIndex] = bigBytes(N - s);
        const v = (f[vIndex] as Uint8Array).length === 0 ? 0n : BigInt('0x' + Buffer.from(f[vIndex] as Uint8Array).toString('hex'));
        f[vIndex] = bigBytes(typed ? 1n - v : v % 2n === 0n ? v - 1n : v + 1n);
      });
      expectReject(high, 'invalid-sender', /^invalid sender: invalid transaction v, r, s values.*EIP-2/);
    }
  });

  it('garbage r and s', async () => {
    const raw = await eip1559();
    const sig = (r: bigint, s: bigint): Buffer => withFields(raw, (f) => ((f[10] = bigBytes(r)), (f[11] = bigBytes(s))));
    expectReject(sig(0n, 5n), 'invalid-sender', /r out of range/);
    expectReject(sig(N, 5n), 'invalid-sender', /r out of range/);
    expectReject(sig(5n, 0n), 'invalid-sender', /s is zero/);
    expectReject(withFields(raw, (f) => (f[11] = Buffer.alloc(33, 1))), 'invalid-sender', /longer than 32/);
    expectReject(withFields(raw, (f) => (f[9] = Buffer.from([2]))), 'invalid-sender', /y parity/);
    // An r that is no curve point's x coordinate recovers nothing; about half of all r are such.
    let unrecoverable = 0;
    for (let r = 1n; r <= 20n; r++) {
      try {
        const decoded = decodeTransaction(sig(r, 7n), common);
        expect('0x' + decoded.sender.toString('hex')).not.toBe(wallet.address.toLowerCase());
      } catch (error) {
        expect(error).toBeInstanceOf(TxRejectedError);
        expect((error as TxRejectedError).reason).toBe('invalid-sender');
        unrecoverable++;
      }
    }
    expect(unrecoverable).toBeGreaterThan(0);
  });

  it('legacy v values that are neither 27/28 nor EIP-155', async () => {
    const raw = await legacy();
    for (const v of [0n, 1n, 29n, 35n, 36n]) {
      expectReject(withFields(raw, (f) => (f[6] = bigBytes(v))), 'invalid-sender');
    }
  });

  it('priority fee above the fee cap', async () => {
    const raw = await eip1559();
    const bad = withFields(raw, (f) => (f[2] = bigBytes(4_000_000_000n)));
    expectReject(bad, 'tip-above-fee-cap', /^max priority fee per gas higher than max fee per gas/);
  });

  it('initcode larger than EIP-3860 allows', async () => {
    const raw = await eip1559({ to: null, data: '0x' + '60'.repeat(MAX_INITCODE_BYTES + 1), gasLimit: 30_000_000 });
    expectReject(raw, 'max-initcode-size-exceeded', /^max initcode size exceeded/);
    const fits = await eip1559({ to: null, data: '0x' + '60'.repeat(MAX_INITCODE_BYTES), gasLimit: 30_000_000 });
    expect(decodeTransaction(fits, common).data.length).toBe(MAX_INITCODE_BYTES);
  });

  it('values the library refuses (nonce 2^64-1) become invalid-encoding, not raw errors', async () => {
    const raw = await eip1559();
    expectReject(withFields(raw, (f) => (f[1] = bigBytes((1n << 64n) - 1n))), 'invalid-encoding');
    expectReject(withFields(raw, (f) => (f[5] = Buffer.alloc(19, 1))), 'invalid-encoding');
  });
});

/** What decode accepted, @ethereumjs/tx must build identically (decode's checks are a superset). */
function expectLibraryAgrees(decoded: DecodedTx): void {
  const tx = decoded.tx;
  expect(Buffer.from(tx.serialize()).equals(decoded.raw)).toBe(true);
  expect(tx.nonce).toBe(decoded.nonce);
  expect(tx.gasLimit).toBe(decoded.gasLimit);
  expect(tx.value).toBe(decoded.value);
  expect(tx.to === undefined ? null : Buffer.from(tx.to.bytes).toString('hex')).toBe(decoded.to?.toString('hex') ?? null);
  expect(Buffer.from(tx.data).equals(decoded.data)).toBe(true);
  expect([tx.v, tx.r, tx.s]).toEqual([decoded.v, decoded.r, decoded.s]);
  expect(tx.getIntrinsicGas()).toBeGreaterThan(0n);
  // The signing hash decode computed itself equals the library's: same public key, same sender.
  expect(Buffer.from(tx.getSenderAddress().bytes).equals(decoded.sender)).toBe(true);
}

describe('decodeTransaction: properties', () => {
  /** True when decode accepted the input; throws on anything but a TxRejectedError. */
  const onlyRejections = (raw: Uint8Array): boolean => {
    let decoded: DecodedTx;
    try {
      decoded = decodeTransaction(raw, common);
    } catch (error) {
      if (!(error instanceof TxRejectedError)) throw error;
      return false;
    }
    expectLibraryAgrees(decoded);
    return true;
  };

  it('agrees with @ethereumjs/tx and its own (slow) sender recovery on signed transactions', async () => {
    for (const raw of [await legacy(), await legacy({ chainId: 0n }), await eip2930(), await eip1559({ to: null, data: '0x6000' })]) {
      const decoded = decodeTransaction(raw, common);
      expectLibraryAgrees(decoded);
      const reference = createTxFromRLP(raw, { common });
      expect(Buffer.from(reference.getSenderAddress().bytes).equals(decoded.sender)).toBe(true);
      expect(Buffer.from(reference.getHashedMessageToSign()).toString('hex')).toBe(
        Buffer.from(decoded.tx.getHashedMessageToSign()).toString('hex'),
      );
    }
  });

  it('structurally valid transactions with random fields and signatures: accepted ones build identically', () => {
    const { integer, to, accessList, signature } = txFieldArbitraries;
    const chainIdBytes = bigBytes(CHAIN_ID);
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2),
        fc.tuple(integer(8), integer(32), integer(32), integer(8), to, integer(32), fc.uint8Array({ maxLength: 64 })),
        accessList,
        signature,
        (type, [nonce, fee1, fee2, gasLimit, toBytes, value, data], list, [r, s, parity]) => {
          let body: Uint8Array;
          if (type === 0) {
            body = RLP.encode([nonce, fee1, gasLimit, toBytes, value, data, bigBytes(CHAIN_ID * 2n + 35n + BigInt(parity)), bigBytes(r), bigBytes(s)]);
          } else if (type === 1) {
            body = Buffer.concat([Buffer.from([1]), RLP.encode([chainIdBytes, nonce, fee1, gasLimit, toBytes, value, data, list, bigBytes(BigInt(parity)), bigBytes(r), bigBytes(s)])]);
          } else {
            body = Buffer.concat([Buffer.from([2]), RLP.encode([chainIdBytes, nonce, fee1, fee2, gasLimit, toBytes, value, data, list, bigBytes(BigInt(parity)), bigBytes(r), bigBytes(s)])]);
          }
          if (onlyRejections(body)) accepted++;
        },
      ),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('random bytes never throw anything but TxRejectedError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => void onlyRejections(raw)), { numRuns: 3000 });
  });

  it('random RLP lists behind each type byte never throw anything but TxRejectedError', () => {
    const item = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.array(fc.uint8Array({ maxLength: 33 }), { maxLength: 3 }));
    fc.assert(
      fc.property(fc.constantFrom(-1, 1, 2, 3), fc.array(item, { minLength: 8, maxLength: 13 }), (type, fields) => {
        const body = Buffer.from(RLP.encode(fields as Uint8Array[]));
        onlyRejections(type < 0 ? body : Buffer.concat([Buffer.from([type]), body]));
      }),
      { numRuns: 2000 },
    );
  });

  it('mutations of valid transactions never throw anything but TxRejectedError', async () => {
    const valid = [await legacy(), await eip2930(), await eip1559({ to: null, data: '0x6000' })];
    assertOnMutations(valid, onlyRejections, 2000);
  });
});
