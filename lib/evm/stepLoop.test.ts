// The synchronous step loop must end every frame as the stock loop does: hand-written programs that
// stop, return, revert, log, hash, copy memory, read return data out of bounds, jump badly, run
// out of gas at different points, underflow the stack, and touch storage, each run as contract
// creation under several gas limits; the stock interpreter's outcomes are the reference.
import { createFeeMarket1559Tx } from '@ethereumjs/tx';
import { privateToAddress } from '@ethereumjs/util';
import { describe, expect, it } from 'vitest';
import { chainCommon } from '../chain/common.js';
import { EMPTY_CODE_HASH, accountKey, encodeAccount, type StateKey } from '../state/keys.js';
import { MapStateSource, TxExecutor, type BlockEnv, type TxInput, type TxOutcome } from './index.js';
import { stepLoopStats } from './stepLoop.js';

const CHAIN_ID = 7358n;
const GWEI = 1_000_000_000n;
const common = chainCommon(CHAIN_ID);
const SENDER_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 3 : 0x11));
const SENDER = Buffer.from(privateToAddress(SENDER_KEY));
const ENV: BlockEnv = {
  chainId: CHAIN_ID, number: 5n, timestampSec: 1_700_000_000n, coinbase: Buffer.alloc(20, 0xc0),
  gasLimit: 30_000_000n, baseFeePerGas: GWEI, prevRandao: Buffer.alloc(32, 3),
};

/** Two 32-byte words with every byte set, so no conversion can drop or shift one. */
const W1 = Array.from({ length: 32 }, (_, i) => (i + 1).toString(16).padStart(2, '0')).join('');
const W2 = Array.from({ length: 32 }, (_, i) => (0xff - i).toString(16).padStart(2, '0')).join('');

/** Init code, as hex with spaces between instructions for reading. */
const PROGRAMS: Record<string, string> = {
  stop: '00',
  'memory too large': '6001 63ffffffff 52',
  'invalid opcode': 'fe',
  'stack underflow': '01',
  'jump to a non-JUMPDEST': '6003 56 00',
  'keccak, log, return': '602a 6000 52 6020 6000 20 6007 6020 6000 a2 6001 601f f3',
  'revert with data': '602a 6000 52 6020 6000 fd',
  'exp of a 32-byte exponent': `7f${'ff'.repeat(32)} 6002 0a 50 00`,
  'return data read past its end': '6000 6000 6020 6000 6004 5a fa 50 6040 6000 6000 3e 00',
  'return data read within it': '6000 6000 6020 6000 6004 5a fa 50 6020 6000 6000 3e 6020 6000 f3',
  'mcopy to high memory': '6020 6000 610100 5e 00',
  'mcopy of one byte': '6001 6000 6000 5e 00',
  'code and calldata copies': '6010 6000 6000 39 6010 6000 6020 37 6030 6000 f3',
  'mstore8 at a word edge': '60ff 603f 53 00',
  'one-byte and empty copies': '6001 6000 6000 39 6001 6000 6040 37 6000 6000 6080 37 6000 6000 6000 3e 00',
  'endless loop': '5b 6000 56',
  'full words through memory and storage': `7f${W1} 6000 52 7f${W2} 7f${W1} 55 7f${W1} 54 6020 52 6040 6000 f3`,
  'storage written and read': '602a 6001 55 6001 54 6000 52 6020 6000 f3',
  'keccak of nothing and of a word, mload in fresh memory': '6000 6000 20 6000 52 602a 6020 52 6020 6020 20 6040 52 6061 51 6080 52 60a0 6000 f3',
  // An MLOAD of a full word first, so a conversion that reused its scratch unpadded would show.
  'calldataload at 0, past the end and far past it': `7f${W1} 6000 52 6000 51 50 6000 35 6000 52 6001 35 6020 52 7f${'ff'.repeat(32)} 35 6040 52 6060 6000 f3`,
  'mload of full words': `7f${W1} 6000 52 7f${W2} 6020 52 6010 51 6040 52 6060 6000 f3`,
  'log in five sizes': '6000 6000 a0 6001 6020 6000 a1 6001 6002 6040 6000 a2 6001 6002 6003 6000 6000 a3 6001 6002 6003 6004 6000 6000 a4 00',
};
/**
 * PUSH1-PUSH32 of distinct bytes stored to memory: before the frame's first jump (read from the
 * code) and after it (from the jump analysis), then returned; and a push cut off by the code's end.
 */
function pushesProgram(): string {
  const widths = [1, 2, 3, 8, 16, 20, 31, 32];
  const stores = (base: number): string => widths.map((n, i) => {
    const value = Array.from({ length: n }, (_, k) => (((i + 1) * 37 + k * 11 + base) % 255 + 1).toString(16).padStart(2, '0')).join('');
    return `${(0x5f + n).toString(16)}${value} 61${(base + i * 32).toString(16).padStart(4, '0')} 52`;
  }).join(' ');
  const before = stores(0);
  const jumpAt = (before.replace(/ /g, '').length / 2) + 3; // PUSH2 dest (3 bytes), JUMP at jumpAt
  return `${before} 61${(jumpAt + 1).toString(16).padStart(4, '0')} 56 5b ${stores(256)} 610200 6000 f3`;
}
PROGRAMS['pushes of every width, before and after the first jump'] = pushesProgram();
PROGRAMS['a push cut off by the end of the code'] = '6001 6000 55 7f0102';
// KECCAK256 of an address-keyed mapping entry's input (remembered by the tuned loop), twice, then
// of inputs one byte off that shape (a slot word above 255, a dirty address word), then of 63 bytes.
PROGRAMS['keccak of mapping slots and of inputs one byte off'] = [
  `73${'ab'.repeat(19)}cd 6000 52 6005 6020 52`, '6040 6000 20 6040 52', '6040 6000 20 6060 52',
  '610105 6020 52 6040 6000 20 6080 52', '6005 6020 52 6001 600b 53 6040 6000 20 60a0 52', '603f 6000 20 60c0 52',
  '60e0 6000 f3',
].join(' ');

const GAS_LIMITS = [53_500n, 54_000n, 55_000n, 60_000n, 80_000n, 300_000n];

function outcomeView(o: TxOutcome): unknown {
  return {
    status: o.status, error: o.error, gasUsed: o.gasUsed, logs: o.logs, returnData: o.returnData.toString('hex'),
    contractAddress: o.contractAddress?.toString('hex') ?? null,
    writes: [...o.writes].map(([k, v]) => [k, v?.toString('hex') ?? null]),
  };
}

function signedCreation(nonce: bigint, initCode: Buffer, gasLimit: bigint): TxInput {
  const tx = createFeeMarket1559Tx(
    { chainId: CHAIN_ID, nonce, data: initCode, gasLimit, maxFeePerGas: 2n * GWEI, maxPriorityFeePerGas: GWEI },
    { common },
  ).sign(SENDER_KEY);
  return { raw: tx.serialize(), hash: tx.hash(), sender: SENDER };
}

async function runPrograms(tuned: boolean): Promise<unknown[]> {
  const state = new Map<StateKey, Buffer>([[accountKey(SENDER), encodeAccount({ nonce: 0n, balance: 10n ** 21n, codeHash: EMPTY_CODE_HASH })]]);
  const source = new MapStateSource(state);
  const executor = await TxExecutor.create({ chainId: CHAIN_ID, tuned });
  const out: unknown[] = [];
  let nonce = 0n;
  for (const [name, code] of Object.entries(PROGRAMS)) {
    for (const gasLimit of GAS_LIMITS) {
      const o = await executor.execute(signedCreation(nonce, Buffer.from(code.replace(/ /g, ''), 'hex'), gasLimit), ENV, source);
      for (const [k, v] of o.writes) {
        if (v === null) state.delete(k);
        else state.set(k, v);
      }
      if (o.status !== 'invalid') nonce++;
      out.push({ name, gasLimit, outcome: outcomeView(o) });
    }
  }
  return out;
}

describe('synchronous step loop', () => {
  it("ends every frame as the stock interpreter does: halts, reverts, out-of-gas points, logs, copies", async () => {
    const stock = await runPrograms(false);
    const syncBefore = stepLoopStats.syncRuns;
    const tuned = await runPrograms(true);
    expect(tuned).toEqual(stock);
    expect(stepLoopStats.syncRuns).toBeGreaterThan(syncBefore);
    // The programs reach the outcomes they were written for (the comparison is not vacuous).
    const statuses = new Set(stock.map((r) => (r as { outcome: { status: string } }).outcome.status));
    expect(statuses).toEqual(new Set(['success', 'reverted', 'invalid']));
  });
});
