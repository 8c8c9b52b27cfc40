// The chain's starting point: chain id, block parameters and the initial accounts, read from a
// JSON file or built in for development, and turned into entries of the flat state key space.
//
// Genesis JSON format (quantities: a JSON number, a decimal string or a 0x-hex string):
//
//   {
//     "chainId": 31337,
//     "timestamp": 0,                          // optional, default 0 (seconds)
//     "gasLimit": "0x1dcd6500",                // block gas limit
//     "baseFeePerGas": "1000000000",           // wei; fixed for the chain's life
//     "coinbase": "0x…",                       // optional, default the zero address; receives fees
//     "alloc": {
//       "0xaddr": {                            // 20 bytes hex, 0x optional, any case
//         "balance": "0x…",                    // wei
//         "nonce": 0,                          // optional, default 0
//         "code": "0x…",                       // optional runtime bytecode
//         "storage": { "0xslot": "0xvalue" }   // optional; slot and value are quantities ≤ 32 bytes
//       }
//     }
//   }
//
// Unknown fields are errors (a misspelt "balanse" must not silently mean zero). Every error names
// the field. Accounts are kept sorted by address so everything derived from them is deterministic.
import { readFileSync } from 'node:fs';
import { keccak256 } from '../crypto/keccak.js';
import {
  accountKey,
  codeKey,
  EMPTY_CODE_HASH,
  encodeAccount,
  isEmptyAccount,
  storageKey,
  type StateKey,
} from '../state/keys.js';

export interface GenesisAccount {
  address: Buffer;
  balance: bigint;
  nonce: bigint;
  code?: Buffer;
  storage?: [slot: Buffer, value: Buffer][];
}

export interface Genesis {
  chainId: bigint;
  timestamp: bigint;
  gasLimit: bigint;
  baseFeePerGas: bigint;
  coinbase: Buffer;
  alloc: GenesisAccount[];
}

/** The JSON shape loadGenesis reads and genesisToJson writes. */
export interface GenesisJson {
  chainId: number | string;
  timestamp?: number | string;
  gasLimit: number | string;
  baseFeePerGas: number | string;
  coinbase?: string;
  alloc: Record<string, GenesisAccountJson>;
}

export interface GenesisAccountJson {
  balance: number | string;
  nonce?: number | string;
  code?: string;
  storage?: Record<string, string>;
}

const MAX_U256 = (1n << 256n) - 1n;
const MAX_U64 = (1n << 64n) - 1n;
const GWEI = 1_000_000_000n;
const ETHER = 10n ** 18n;

/** Raised for a malformed genesis; the message names the offending field. */
export class GenesisError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`genesis: ${message}`, options);
    this.name = 'GenesisError';
  }
}

/** A non-negative integer given as a JSON number, a decimal string or a 0x-hex string. */
export function parseQuantity(value: unknown, field: string, max: bigint = MAX_U256): bigint {
  let result: bigint | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) result = BigInt(value);
  if (typeof value === 'string' && (/^0x[0-9a-fA-F]+$/.test(value) || /^[0-9]+$/.test(value))) result = BigInt(value);
  if (result === undefined) {
    throw new GenesisError(`${field}: expected a non-negative integer (number, decimal or 0x-hex string), got ${JSON.stringify(value)}`);
  }
  if (result > max) throw new GenesisError(`${field}: ${value} exceeds the maximum ${max}`);
  return result;
}

function parseHexBytes(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || !/^0x(?:[0-9a-fA-F]{2})*$/.test(value)) {
    throw new GenesisError(`${field}: expected 0x-prefixed hex bytes, got ${JSON.stringify(value)}`);
  }
  return Buffer.from(value.slice(2), 'hex');
}

function parseAddress(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || !/^(?:0x)?[0-9a-fA-F]{40}$/.test(value)) {
    throw new GenesisError(`${field}: expected a 20-byte hex address, got ${JSON.stringify(value)}`);
  }
  return Buffer.from(value.replace(/^0x/, ''), 'hex');
}

/** A quantity as 32 bytes big-endian (storage slots and values). */
function word(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectObject(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isObject(value)) throw new GenesisError(`${field}: expected an object, got ${JSON.stringify(value)}`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new GenesisError(`${field}.${key}: unknown field (allowed: ${allowed.join(', ')})`);
  }
  return value;
}

function parseStorage(value: unknown, field: string): [Buffer, Buffer][] {
  if (!isObject(value)) throw new GenesisError(`${field}: expected an object of slot → value`);
  const entries = Object.entries(value).map(([slot, v]): [Buffer, Buffer] => [
    word(parseQuantity(slot, `${field} slot ${slot}`)),
    word(parseQuantity(v, `${field}.${slot}`)),
  ]);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]![0].equals(entries[i - 1]![0])) throw new GenesisError(`${field}: slot 0x${entries[i]![0].toString('hex')} given twice`);
  }
  return entries;
}

function parseAccount(address: Buffer, value: unknown, field: string): GenesisAccount {
  const json = expectObject(value, field, ['balance', 'nonce', 'code', 'storage']);
  const account: GenesisAccount = {
    address,
    balance: parseQuantity(json['balance'], `${field}.balance`),
    // EIP-2681: a nonce is at most 2^64 - 2, and the state encoding stores it in 8 bytes.
    nonce: json['nonce'] === undefined ? 0n : parseQuantity(json['nonce'], `${field}.nonce`, MAX_U64 - 1n),
  };
  if (json['code'] !== undefined) account.code = parseHexBytes(json['code'], `${field}.code`);
  if (json['storage'] !== undefined) account.storage = parseStorage(json['storage'], `${field}.storage`);
  return account;
}

/** Validates a parsed genesis JSON document. */
export function parseGenesis(json: unknown): Genesis {
  const root = expectObject(json, '(root)', ['chainId', 'timestamp', 'gasLimit', 'baseFeePerGas', 'coinbase', 'alloc']);
  const allocJson = root['alloc'];
  if (!isObject(allocJson)) throw new GenesisError(`alloc: expected an object of address → account`);
  const alloc = Object.entries(allocJson).map(([address, account]) =>
    parseAccount(parseAddress(address, `alloc key ${address}`), account, `alloc.${address}`),
  );
  alloc.sort((a, b) => Buffer.compare(a.address, b.address));
  for (let i = 1; i < alloc.length; i++) {
    if (alloc[i]!.address.equals(alloc[i - 1]!.address)) {
      throw new GenesisError(`alloc: address 0x${alloc[i]!.address.toString('hex')} given twice`);
    }
  }
  const chainId = parseQuantity(root['chainId'], 'chainId', MAX_U64);
  if (chainId === 0n) throw new GenesisError('chainId: must not be 0');
  return {
    chainId,
    timestamp: root['timestamp'] === undefined ? 0n : parseQuantity(root['timestamp'], 'timestamp', MAX_U64),
    gasLimit: parseQuantity(root['gasLimit'], 'gasLimit', MAX_U64),
    baseFeePerGas: parseQuantity(root['baseFeePerGas'], 'baseFeePerGas'),
    coinbase: root['coinbase'] === undefined ? Buffer.alloc(20) : parseAddress(root['coinbase'], 'coinbase'),
    alloc,
  };
}

/** Reads and validates a genesis JSON file (format at the top of this module). */
export function loadGenesis(path: string): Genesis {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new GenesisError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new GenesisError(`${path}: invalid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseGenesis(json);
}

/** The genesis a service starts from: the file at `genesisPath`, or devGenesis() when empty. */
export function resolveGenesis(genesisPath: string): Genesis {
  return genesisPath === '' ? devGenesis() : loadGenesis(genesisPath);
}

const hex = (bytes: Uint8Array): string => '0x' + Buffer.from(bytes).toString('hex');
const quantity = (value: bigint): string => '0x' + value.toString(16);

/** The JSON form of a genesis; parseGenesis(genesisToJson(g)) equals g. */
export function genesisToJson(genesis: Genesis): GenesisJson {
  const alloc: Record<string, GenesisAccountJson> = {};
  for (const account of genesis.alloc) {
    const json: GenesisAccountJson = { balance: quantity(account.balance), nonce: quantity(account.nonce) };
    if (account.code !== undefined) json.code = hex(account.code);
    if (account.storage !== undefined) {
      json.storage = Object.fromEntries(account.storage.map(([slot, value]) => [hex(slot), hex(value)]));
    }
    alloc[hex(account.address)] = json;
  }
  return {
    chainId: quantity(genesis.chainId),
    timestamp: quantity(genesis.timestamp),
    gasLimit: quantity(genesis.gasLimit),
    baseFeePerGas: quantity(genesis.baseFeePerGas),
    coinbase: hex(genesis.coinbase),
    alloc,
  };
}

/**
 * The 20 accounts of the mnemonic "test test test test test test test test test test test junk"
 * (m/44'/60'/0'/0/i) that Hardhat and Anvil fund. Public keys: never use them on a real network.
 */
export const DEV_ACCOUNTS: readonly { readonly address: string; readonly privateKey: string }[] = Object.freeze([
  { address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', privateKey: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' },
  { address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', privateKey: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' },
  { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', privateKey: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' },
  { address: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', privateKey: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6' },
  { address: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65', privateKey: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a' },
  { address: '0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', privateKey: '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba' },
  { address: '0x976EA74026E726554dB657fA54763abd0C3a0aa9', privateKey: '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e' },
  { address: '0x14dC79964da2C08b23698B3D3cc7Ca32193d9955', privateKey: '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356' },
  { address: '0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f', privateKey: '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97' },
  { address: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720', privateKey: '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6' },
  { address: '0xBcd4042DE499D14e55001CcbB24a551F3b954096', privateKey: '0xf214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897' },
  { address: '0x71bE63f3384f5fb98995898A86B02Fb2426c5788', privateKey: '0x701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82' },
  { address: '0xFABB0ac9d68B0B445fB7357272Ff202C5651694a', privateKey: '0xa267530f49f8280200edf313ee7af6b827f2a8bce2897751d06a843f644967b1' },
  { address: '0x1CBd3b2770909D4e10f157cABC84C7264073C9Ec', privateKey: '0x47c99abed3324a2707c28affff1267e45918ec8c3f20b8aa892e8b065d2942dd' },
  { address: '0xdF3e18d64BC6A983f673Ab319CCaE4f1a57C7097', privateKey: '0xc526ee95bf44d8fc405a158bb884d9d1238d99f0612e9f33d006bb0789009aaa' },
  { address: '0xcd3B766CCDd6AE721141F452C550Ca635964ce71', privateKey: '0x8166f546bab6da521a8369cab06c5d2b9e46670292d85c875ee9ec20e84ffb61' },
  { address: '0x2546BcD3c84621e976D8185a91A922aE77ECEc30', privateKey: '0xea6c44ac03bff858b476bba40716402b03e41b8e97e276d1baec7c37d42484a0' },
  { address: '0xbDA5747bFD65F08deb54cb465eB87D40e51B197E', privateKey: '0x689af8efa8c651a91ad287602527f3af2fe9f6501a7ac4b061667b5a93e037fd' },
  { address: '0xdD2FD4581271e230360230F9337D5c0430Bf44C0', privateKey: '0xde9be858da4a475276426320d5e9262ecfc3ba460bfac56360bfa6c4c28b4ee0' },
  { address: '0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199', privateKey: '0xdf57089febbacf7ba0bc227dafbffa9fc08a93fdc68e1e42411a14efcf23656e' },
].map((account) => Object.freeze(account)));

export const DEV_CHAIN_ID = 31337n;
export const DEV_ACCOUNT_BALANCE_WEI = 10_000n * ETHER;
/** Fee recipient of the dev chain: a fixed address nobody holds a key for ("LANES" then zeros). */
export const DEV_COINBASE = '0x4c414e4553000000000000000000000000000000';

/** The built-in development chain: 31337, 500M gas blocks, 1 gwei base fee, 20 funded accounts. */
export function devGenesis(): Genesis {
  const alloc = DEV_ACCOUNTS.map((account) => ({
    address: Buffer.from(account.address.slice(2), 'hex'),
    balance: DEV_ACCOUNT_BALANCE_WEI,
    nonce: 0n,
  }));
  alloc.sort((a, b) => Buffer.compare(a.address, b.address));
  return {
    chainId: DEV_CHAIN_ID,
    timestamp: 1_700_000_000n,
    gasLimit: 500_000_000n,
    baseFeePerGas: GWEI,
    coinbase: Buffer.from(DEV_COINBASE.slice(2), 'hex'),
    alloc,
  };
}

/** Left-pads to 32 bytes; a longer value is a programming error in a hand-built Genesis. */
function toWord(bytes: Buffer, what: string): Buffer {
  if (bytes.length > 32) throw new GenesisError(`${what}: longer than 32 bytes`);
  if (bytes.length === 32) return bytes;
  const out = Buffer.alloc(32);
  bytes.copy(out, 32 - bytes.length);
  return out;
}

/**
 * The genesis state as flat key → value entries (lib/state/keys.ts), in alloc order: one account
 * entry per non-empty account (codeHash = keccak256(code)), one code entry per contract and one
 * entry per non-zero storage slot. An empty account (EIP-161: no nonce, balance or code) is
 * absent, and so is any storage listed under it.
 */
export function genesisStateEntries(genesis: Genesis): Map<StateKey, Buffer> {
  const entries = new Map<StateKey, Buffer>();
  for (const account of genesis.alloc) {
    const code = account.code ?? Buffer.alloc(0);
    const codeHash = code.length === 0 ? EMPTY_CODE_HASH : Buffer.from(keccak256(code));
    const value = { nonce: account.nonce, balance: account.balance, codeHash };
    if (isEmptyAccount(value)) continue;
    entries.set(accountKey(account.address), encodeAccount(value));
    if (code.length > 0) entries.set(codeKey(codeHash), Buffer.from(code));
    for (const [slot, slotValue] of account.storage ?? []) {
      const storedValue = toWord(slotValue, `storage value of 0x${account.address.toString('hex')}`);
      if (storedValue.every((byte) => byte === 0)) continue;
      entries.set(storageKey(account.address, toWord(slot, 'storage slot')), storedValue);
    }
  }
  return entries;
}
