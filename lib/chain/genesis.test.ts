import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { getAddress, HDNodeWallet, Mnemonic, Wallet } from 'ethers';
import { afterAll, describe, expect, it } from 'vitest';
import { accountKey, codeKey, decodeAccount, EMPTY_CODE_HASH, storageKey } from '../state/keys.js';
import {
  DEV_ACCOUNT_BALANCE_WEI,
  DEV_ACCOUNTS,
  devGenesis,
  genesisStateEntries,
  genesisToJson,
  loadGenesis,
  parseGenesis,
  parseQuantity,
  resolveGenesis,
  type Genesis,
} from './genesis.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lanes-genesis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeJson(name: string, value: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

const ADDRESS_A = '0x' + 'aa'.repeat(20);
const ADDRESS_B = '0x' + '0b'.repeat(20);

const sample = {
  chainId: 31337,
  timestamp: 0,
  gasLimit: '0x1dcd6500',
  baseFeePerGas: '1000000000',
  coinbase: '0x' + 'cc'.repeat(20),
  alloc: {
    [ADDRESS_A]: { balance: '0xde0b6b3a7640000', nonce: 3 },
    [ADDRESS_B.slice(2)]: { balance: '0', code: '0x6000', storage: { '0x01': '0x2a', '0x02': '0x00' } },
  },
};

describe('parseQuantity', () => {
  it('accepts numbers, decimal and hex strings', () => {
    expect(parseQuantity(42, 'x')).toBe(42n);
    expect(parseQuantity('42', 'x')).toBe(42n);
    expect(parseQuantity('0x2a', 'x')).toBe(42n);
    expect(parseQuantity('0X2A'.replace('X', 'x'), 'x')).toBe(42n);
  });

  it('rejects everything else, naming the field', () => {
    for (const bad of [-1, 1.5, '', '0x', '-1', '1e3', 'abc', null, undefined, {}, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => parseQuantity(bad, 'alloc.0xab.balance')).toThrow(/^genesis: alloc\.0xab\.balance: expected/);
    }
    expect(() => parseQuantity('0x' + '1'.repeat(65), 'f')).toThrow(/f: .* exceeds the maximum/);
    expect(() => parseQuantity(300, 'small', 255n)).toThrow(/small/);
  });
});

describe('loadGenesis', () => {
  it('reads the documented format', () => {
    const genesis = loadGenesis(writeJson('sample.json', sample));
    expect(genesis.chainId).toBe(31337n);
    expect(genesis.gasLimit).toBe(500_000_000n);
    expect(genesis.baseFeePerGas).toBe(1_000_000_000n);
    expect(genesis.coinbase.toString('hex')).toBe('cc'.repeat(20));
    // Sorted by address: 0x0b… before 0xaa….
    expect(genesis.alloc.map((a) => a.address.toString('hex'))).toEqual(['0b'.repeat(20), 'aa'.repeat(20)]);
    expect(genesis.alloc[1]).toMatchObject({ balance: 10n ** 18n, nonce: 3n });
    expect(genesis.alloc[0]!.code!.toString('hex')).toBe('6000');
    expect(genesis.alloc[0]!.storage!.map(([k, v]) => [k.toString('hex'), v.toString('hex')])).toEqual([
      ['00'.repeat(31) + '01', '00'.repeat(31) + '2a'],
      ['00'.repeat(31) + '02', '00'.repeat(32)],
    ]);
  });

  it('round-trips through genesisToJson', () => {
    for (const genesis of [loadGenesis(writeJson('a.json', sample)), devGenesis()]) {
      const again = loadGenesis(writeJson('round.json', genesisToJson(genesis)));
      expect(again).toEqual(genesis);
    }
  });

  it('names the field in every error', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...sample, chainId: 'x' }, /chainId: expected/],
      [{ ...sample, chainId: 0 }, /chainId: must not be 0/],
      [{ ...sample, gasLimit: undefined }, /gasLimit: expected/],
      [{ ...sample, baseFeePerGas: -5 }, /baseFeePerGas: expected/],
      [{ ...sample, coinbase: '0x1234' }, /coinbase: expected a 20-byte hex address/],
      [{ ...sample, alloc: [] }, /alloc: expected an object/],
      [{ ...sample, alloc: { '0x12': { balance: 1 } } }, /alloc key 0x12: expected a 20-byte hex address/],
      [{ ...sample, alloc: { [ADDRESS_A]: { balance: 'lots' } } }, new RegExp(`alloc\\.${ADDRESS_A}\\.balance: expected`)],
      [{ ...sample, alloc: { [ADDRESS_A]: { balanse: 1 } } }, /balanse: unknown field/],
      [{ ...sample, alloc: { [ADDRESS_A]: { balance: 1, nonce: '0x' + 'ff'.repeat(8) } } }, /nonce: .*exceeds the maximum/],
      [{ ...sample, alloc: { [ADDRESS_A]: { balance: 1, code: '6000' } } }, /code: expected 0x-prefixed hex/],
      [{ ...sample, alloc: { [ADDRESS_A]: { balance: 1, storage: { '0x1': 'zz' } } } }, /storage\.0x1: expected/],
      [{ ...sample, alloc: { [ADDRESS_A]: { balance: 1 }, [ADDRESS_A.toUpperCase().replace('0X', '0x')]: { balance: 2 } } }, /given twice/],
      [{ ...sample, extra: 1 }, /extra: unknown field/],
    ];
    for (const [json, message] of cases) {
      expect(() => parseGenesis(json)).toThrow(message);
    }
    expect(() => loadGenesis(path.join(dir, 'missing.json'))).toThrow(/genesis: cannot read/);
    expect(() => loadGenesis(writeJson('broken.json', '{ "chainId": '))).toThrow(/invalid JSON/);
  });
});

describe('devGenesis', () => {
  it('is the documented dev chain', () => {
    const genesis = devGenesis();
    expect(genesis).toMatchObject({ chainId: 31337n, gasLimit: 500_000_000n, baseFeePerGas: 1_000_000_000n, timestamp: 1_700_000_000n });
    expect(genesis.coinbase).toHaveLength(20);
    expect(genesis.alloc).toHaveLength(20);
    for (const account of genesis.alloc) expect(account.balance).toBe(10_000n * 10n ** 18n);
    expect(resolveGenesis('')).toEqual(genesis);
  });

  it('funds the Hardhat/Anvil accounts of "test test … junk"', () => {
    expect(DEV_ACCOUNTS).toHaveLength(20);
    expect(DEV_ACCOUNTS[0]!.address).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    const mnemonic = Mnemonic.fromPhrase('test test test test test test test test test test test junk');
    DEV_ACCOUNTS.forEach((account, i) => {
      expect(new Wallet(account.privateKey).address).toBe(account.address);
      expect(getAddress(account.address)).toBe(account.address);
      expect(HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`).privateKey).toBe(account.privateKey);
    });
    const funded = new Set(devGenesis().alloc.map((a) => '0x' + a.address.toString('hex')));
    for (const account of DEV_ACCOUNTS) expect(funded.has(account.address.toLowerCase())).toBe(true);
  });
});

describe('genesisStateEntries', () => {
  it('writes accounts, code and non-zero storage; omits empty accounts', () => {
    const genesis: Genesis = {
      ...devGenesis(),
      alloc: [
        { address: Buffer.alloc(20, 1), balance: 5n, nonce: 0n },
        { address: Buffer.alloc(20, 2), balance: 0n, nonce: 0n, storage: [[Buffer.alloc(32, 1), Buffer.from([7])]] },
        {
          address: Buffer.alloc(20, 3),
          balance: 0n,
          nonce: 1n,
          code: Buffer.from('6000', 'hex'),
          storage: [
            [Buffer.from([1]), Buffer.from([0x2a])],
            [Buffer.from([2]), Buffer.alloc(32)],
          ],
        },
      ],
    };
    const entries = genesisStateEntries(genesis);
    const codeHash = Buffer.from(keccak_256(Buffer.from('6000', 'hex')));
    expect(new Set(entries.keys())).toEqual(
      new Set([
        accountKey(Buffer.alloc(20, 1)),
        accountKey(Buffer.alloc(20, 3)),
        codeKey(codeHash),
        storageKey(Buffer.alloc(20, 3), Buffer.concat([Buffer.alloc(31), Buffer.from([1])])),
      ]),
    );
    const plain = decodeAccount(entries.get(accountKey(Buffer.alloc(20, 1)))!);
    expect(plain).toMatchObject({ nonce: 0n, balance: 5n });
    expect(Buffer.from(plain.codeHash).equals(EMPTY_CODE_HASH)).toBe(true);
    const contract = decodeAccount(entries.get(accountKey(Buffer.alloc(20, 3)))!);
    expect(contract.nonce).toBe(1n);
    expect(Buffer.from(contract.codeHash).equals(codeHash)).toBe(true);
    expect(entries.get(codeKey(codeHash))!.toString('hex')).toBe('6000');
    const slot = entries.get(storageKey(Buffer.alloc(20, 3), Buffer.concat([Buffer.alloc(31), Buffer.from([1])])))!;
    expect(slot.toString('hex')).toBe('00'.repeat(31) + '2a');
  });

  it('the dev genesis is 20 funded accounts', () => {
    const entries = genesisStateEntries(devGenesis());
    expect(entries.size).toBe(20);
    for (const account of DEV_ACCOUNTS) {
      const value = entries.get(accountKey(Buffer.from(account.address.slice(2), 'hex')))!;
      expect(decodeAccount(value).balance).toBe(DEV_ACCOUNT_BALANCE_WEI);
    }
  });
});
