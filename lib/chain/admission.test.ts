import { createFeeMarket1559Tx } from '@ethereumjs/tx';
import { Wallet, type TransactionRequest } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAgainstAccount, checkSize, checkStatic, intrinsicGas, maxCost, type AdmissionLimits } from './admission.js';
import { chainCommon } from './common.js';
import { decodeTransaction, MAX_INITCODE_BYTES, type DecodedTx } from './decode.js';
import { TxRejectedError, type TxRejectReason } from './errors.js';

const CHAIN_ID = 31337n;
const common = chainCommon(CHAIN_ID);
const GWEI = 1_000_000_000n;
const wallet = new Wallet('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');
const RECIPIENT = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';

const limits: AdmissionLimits = {
  chainId: CHAIN_ID,
  maxTxBytes: 128 * 1024,
  blockGasLimit: 30_000_000n,
  baseFeePerGas: GWEI,
  nonceWindow: 16,
};

async function decoded(request: TransactionRequest, chainId = CHAIN_ID): Promise<DecodedTx> {
  const signed = await wallet.signTransaction({
    type: 2,
    chainId,
    nonce: 5,
    gasLimit: 21_000,
    maxFeePerGas: 2n * GWEI,
    maxPriorityFeePerGas: GWEI,
    to: RECIPIENT,
    value: 1000n,
    ...request,
  });
  return decodeTransaction(Buffer.from(signed.slice(2), 'hex'), chainCommon(chainId));
}

function rejection(fn: () => void): TxRejectedError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TxRejectedError) return error;
    throw error;
  }
  throw new Error('expected a rejection, the call succeeded');
}

function expectReject(fn: () => void, reason: TxRejectReason, message: RegExp): void {
  const error = rejection(fn);
  expect(error.reason).toBe(reason);
  expect(error.code).toBe(-32000);
  expect(error.message).toMatch(message);
}

describe('intrinsicGas', () => {
  it('matches @ethereumjs/tx for transfers, calldata, creations and access lists', async () => {
    const cases: TransactionRequest[] = [
      {},
      { data: '0x0000ff01', gasLimit: 100_000 },
      { to: null, data: '0x' + '60'.repeat(100), gasLimit: 200_000 },
      {
        type: 1,
        gasPrice: 2n * GWEI,
        maxFeePerGas: undefined,
        maxPriorityFeePerGas: undefined,
        gasLimit: 100_000,
        accessList: [
          { address: RECIPIENT, storageKeys: ['0x' + '11'.repeat(32), '0x' + '22'.repeat(32)] },
          { address: wallet.address, storageKeys: [] },
        ],
      },
    ];
    for (const request of cases) {
      const tx = await decoded(request);
      expect(intrinsicGas(tx)).toBe(tx.tx.getIntrinsicGas());
    }
    expect(intrinsicGas(await decoded({}))).toBe(21_000n);
  });

  it('matches @ethereumjs/tx on random calldata, creations and access lists', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.nat(3)), { maxLength: 3 }),
        (data, create, list) => {
          const accessList = list.map(([address, keys]) => ({
            address: Buffer.from(address),
            storageKeys: Array.from({ length: keys }, (_, i) => Buffer.alloc(32, i)),
          }));
          const tx = createFeeMarket1559Tx(
            {
              data,
              to: create ? undefined : RECIPIENT,
              accessList: accessList.map((e) => [e.address, e.storageKeys]),
              gasLimit: 1_000_000n,
            },
            { common },
          );
          expect(intrinsicGas({ data: Buffer.from(data), to: create ? null : Buffer.alloc(20), accessList })).toBe(
            tx.getIntrinsicGas(),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('checkStatic', () => {
  it('accepts a well-formed transfer', async () => {
    const tx = await decoded({});
    expect(() => checkStatic(tx, limits)).not.toThrow();
  });

  it('oversized data', async () => {
    const tx = await decoded({ data: '0x' + 'ab'.repeat(2000), gasLimit: 100_000 });
    expectReject(() => checkStatic(tx, { ...limits, maxTxBytes: 1000 }), 'oversized-data', /^oversized data: transaction size \d+, limit 1000/);
    expectReject(() => checkSize(1001, { maxTxBytes: 1000 }), 'oversized-data', /^oversized data/);
    expect(() => checkSize(1000, { maxTxBytes: 1000 })).not.toThrow();
  });

  it('wrong chain id and replayable pre-EIP-155 transactions', async () => {
    const other = await decoded({}, 5n);
    expectReject(() => checkStatic(other, limits), 'invalid-chain-id', /^invalid chain id for signer: have 5 want 31337/);
    const signed = await wallet.signTransaction({ type: 0, chainId: 0n, nonce: 0, gasLimit: 21_000, gasPrice: 2n * GWEI, to: RECIPIENT });
    const replayable = decodeTransaction(Buffer.from(signed.slice(2), 'hex'), common);
    expect(replayable.chainId).toBeNull();
    expectReject(() => checkStatic(replayable, limits), 'invalid-chain-id', /^invalid chain id for signer: only replay-protected/);
  });

  it('intrinsic gas too low', async () => {
    const short = await decoded({ gasLimit: 20_999 });
    expectReject(() => checkStatic(short, limits), 'intrinsic-gas-too-low', /^intrinsic gas too low: gas 20999, minimum needed 21000/);
    const calldata = await decoded({ data: '0x01', gasLimit: 21_000 });
    expectReject(() => checkStatic(calldata, limits), 'intrinsic-gas-too-low', /minimum needed 21016/);
    const create = await decoded({ to: null, data: '0x00', gasLimit: 50_000 });
    expectReject(() => checkStatic(create, limits), 'intrinsic-gas-too-low', /minimum needed 53006/);
  });

  it('gas limit above the block gas limit', async () => {
    const tx = await decoded({ gasLimit: 30_000_001 });
    expectReject(() => checkStatic(tx, limits), 'gas-limit-exceeded', /^exceeds block gas limit/);
  });

  it('max fee below the base fee, for 1559 and legacy pricing', async () => {
    const tx = await decoded({ maxFeePerGas: GWEI - 1n, maxPriorityFeePerGas: 0n });
    expectReject(() => checkStatic(tx, limits), 'fee-cap-below-base-fee', /^max fee per gas less than block base fee: .*maxFeePerGas: 999999999, baseFee: 1000000000/);
    const legacy = await decoded({ type: 0, gasPrice: GWEI - 1n, maxFeePerGas: undefined, maxPriorityFeePerGas: undefined });
    expectReject(() => checkStatic(legacy, limits), 'fee-cap-below-base-fee', /^max fee per gas less than block base fee/);
  });

  it('priority fee above max fee (a hand-built DecodedTx; decode rejects it earlier)', async () => {
    const tx = { ...(await decoded({})), maxPriorityFeePerGas: 3n * GWEI } as DecodedTx;
    expectReject(() => checkStatic(tx, limits), 'tip-above-fee-cap', /^max priority fee per gas higher than max fee per gas/);
  });

  it('initcode above 49152 bytes (a hand-built DecodedTx; decode rejects it earlier)', async () => {
    const tx = { ...(await decoded({ to: null, data: '0x00', gasLimit: 100_000 })), data: Buffer.alloc(MAX_INITCODE_BYTES + 1) } as DecodedTx;
    expectReject(() => checkStatic(tx, limits), 'max-initcode-size-exceeded', /^max initcode size exceeded/);
  });
});

describe('checkAgainstAccount', () => {
  const rich = 10n ** 21n;

  it('accepts a nonce inside the window with enough balance', async () => {
    const tx = await decoded({});
    expect(() => checkAgainstAccount(tx, { nonce: 5n, balance: rich }, limits)).not.toThrow();
    expect(() => checkAgainstAccount(tx, { nonce: 0n, balance: rich }, limits)).not.toThrow();
  });

  it('nonce too low', async () => {
    const tx = await decoded({});
    expectReject(() => checkAgainstAccount(tx, { nonce: 6n, balance: rich }, limits), 'nonce-too-low', /^nonce too low: address 0x[0-9a-f]{40}, tx: 5 state: 6/);
  });

  it('nonce too high: at or beyond the window', async () => {
    const tx = await decoded({ nonce: 21 });
    expectReject(() => checkAgainstAccount(tx, { nonce: 5n, balance: rich }, limits), 'nonce-too-high', /^nonce too high/);
    const last = await decoded({ nonce: 20 });
    expect(() => checkAgainstAccount(last, { nonce: 5n, balance: rich }, limits)).not.toThrow();
  });

  it('with a pending nonce, the nonce must be exactly the next one', async () => {
    const tx = await decoded({ nonce: 7 });
    expect(() => checkAgainstAccount(tx, { nonce: 5n, balance: rich }, limits, 7n)).not.toThrow();
    expectReject(() => checkAgainstAccount(tx, { nonce: 5n, balance: rich }, limits, 8n), 'nonce-too-low', /pending: 8/);
    expectReject(() => checkAgainstAccount(tx, { nonce: 5n, balance: rich }, limits, 6n), 'nonce-too-high', /pending: 6/);
    // A pending nonce behind the committed one is stale and ignored.
    const current = await decoded({ nonce: 5 });
    expect(() => checkAgainstAccount(current, { nonce: 5n, balance: rich }, limits, 2n)).not.toThrow();
  });

  it('insufficient funds for gas * price + value', async () => {
    const tx = await decoded({ value: 1000n });
    const cost = 21_000n * 2n * GWEI + 1000n;
    expect(maxCost(tx)).toBe(cost);
    expect(() => checkAgainstAccount(tx, { nonce: 5n, balance: cost }, limits)).not.toThrow();
    expectReject(
      () => checkAgainstAccount(tx, { nonce: 5n, balance: cost - 1n }, limits),
      'insufficient-funds',
      new RegExp(`^insufficient funds for gas \\* price \\+ value: address 0x[0-9a-f]{40} have ${cost - 1n} want ${cost}`),
    );
  });
});
