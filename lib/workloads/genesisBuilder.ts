// Builds a workload's genesis by running its setup (contract creations, pool creation and
// liquidity) through the serial reference executor, then snapshotting the resulting state as
// genesis alloc — code, storage, nonces — plus per-account storage written directly (storage.ts).
// The cluster therefore starts with everything deployed: a benchmark has no deploy phase, and
// contract addresses and immutables come from real constructors, not hand-filled bytecode.
import { keccak256 } from '../crypto/keccak.js';
import { DEV_COINBASE, genesisStateEntries, type Genesis, type GenesisAccount } from '../chain/genesis.js';
import { ReferenceExecutor, type BlockEnv } from '../evm/index.js';
import { decodeAccount, keyAddress, keyKind, keySlot, keyToBytes, KEY_ACCOUNT, KEY_CODE, KEY_STORAGE, EMPTY_CODE_HASH } from '../state/keys.js';
import { signEip1559, type BenchAccount } from './signer.js';

export const GENESIS_TIMESTAMP_SEC = 1_700_000_000n;
export const GENESIS_GAS_LIMIT = 500_000_000n;
export const GENESIS_BASE_FEE_WEI = 1_000_000_000n;
const SETUP_GAS_LIMIT = 15_000_000n;

/** Raised when a setup step fails: a contract did not deploy, or a storage layout is wrong. */
export class WorkloadSetupError extends Error {
  constructor(message: string) {
    super(`workload setup: ${message}`);
    this.name = 'WorkloadSetupError';
  }
}

export class GenesisBuilder {
  private nonce = 0n;
  private readonly extraStorage = new Map<string, Map<string, Buffer>>();
  private readonly extraBalances = new Map<string, bigint>();

  private constructor(
    /** The setup's state; read it with callOn(). */
    readonly reference: ReferenceExecutor,
    private readonly deployer: BenchAccount,
    readonly chainId: bigint,
  ) {}

  static async create(chainId: bigint, deployer: BenchAccount, deployerBalanceWei: bigint): Promise<GenesisBuilder> {
    const reference = await ReferenceExecutor.create({
      chainId,
      genesis: genesisStateEntries(baseGenesis(chainId, [{ address: deployer.address, balance: deployerBalanceWei, nonce: 0n }])),
    });
    return new GenesisBuilder(reference, deployer, chainId);
  }

  get deployerAddress(): Buffer {
    return this.deployer.address;
  }

  env(): BlockEnv {
    return {
      chainId: this.chainId, number: 0n, timestampSec: GENESIS_TIMESTAMP_SEC, coinbase: Buffer.from(DEV_COINBASE.slice(2), 'hex'),
      gasLimit: GENESIS_GAS_LIMIT, baseFeePerGas: GENESIS_BASE_FEE_WEI, prevRandao: Buffer.alloc(32),
    };
  }

  /** Sends one setup transaction from the deployer; returns the created address for a creation. */
  async send(to: Buffer | null, data: Uint8Array, what: string): Promise<Buffer | null> {
    const tx = signEip1559({
      chainId: this.chainId, nonce: this.nonce++, maxPriorityFeePerGas: 0n, maxFeePerGas: GENESIS_BASE_FEE_WEI,
      gasLimit: SETUP_GAS_LIMIT, to, value: 0n, data,
    }, this.deployer);
    const [outcome] = await this.reference.executeBlock(this.env(), [tx]);
    if (outcome === undefined || outcome.status !== 'success') {
      throw new WorkloadSetupError(`${what} failed: ${outcome?.status ?? 'no outcome'} ${outcome?.error ?? ''}`);
    }
    return outcome.contractAddress;
  }

  async deploy(bytecode: Buffer, ctorArgs: Uint8Array, what: string): Promise<Buffer> {
    const address = await this.send(null, Buffer.concat([bytecode, ctorArgs]), `deploy ${what}`);
    if (address === null) throw new WorkloadSetupError(`deploy ${what}: no contract address`);
    return address;
  }

  /** Storage written into genesis after the setup transactions (overrides what they wrote). */
  setStorage(address: Buffer, slot: Buffer, value: Buffer): void {
    const key = address.toString('hex');
    let slots = this.extraStorage.get(key);
    if (slots === undefined) this.extraStorage.set(key, slots = new Map());
    slots.set(slot.toString('hex'), value);
  }

  fund(address: Buffer, balanceWei: bigint): void {
    this.extraBalances.set(address.toString('hex'), balanceWei);
  }

  /** The genesis: the setup's resulting state plus the direct storage and balances. */
  build(): Genesis {
    const accounts = new Map<string, SnapshotAccount>();
    const code = new Map<string, Buffer>();
    const storage = new Map<string, Map<string, Buffer>>();
    for (const [key, value] of this.reference.entries()) {
      const kind = keyKind(key);
      if (kind === KEY_ACCOUNT) {
        const account = decodeAccount(value);
        const address = keyAddress(key).toString('hex');
        const codeHash = Buffer.from(account.codeHash);
        accounts.set(address, {
          address: Buffer.from(address, 'hex'), balance: account.balance, nonce: account.nonce,
          ...(codeHash.equals(EMPTY_CODE_HASH) ? {} : { codeHashHex: codeHash.toString('hex') }),
        });
      } else if (kind === KEY_CODE) {
        code.set(keyToBytes(key).subarray(1).toString('hex'), value);
      } else if (kind === KEY_STORAGE) {
        const address = keyAddress(key).toString('hex');
        let slots = storage.get(address);
        if (slots === undefined) storage.set(address, slots = new Map());
        slots.set(keySlot(key).toString('hex'), value);
      }
    }
    for (const [address, slots] of this.extraStorage) {
      let existing = storage.get(address);
      if (existing === undefined) storage.set(address, existing = new Map());
      for (const [slot, value] of slots) existing.set(slot, value);
    }
    for (const [address, balance] of this.extraBalances) {
      const account = accounts.get(address) ?? { address: Buffer.from(address, 'hex'), balance: 0n, nonce: 0n };
      account.balance = balance;
      accounts.set(address, account);
    }
    const alloc: GenesisAccount[] = [];
    for (const [address, account] of accounts) {
      const hash = account.codeHashHex;
      const entry: GenesisAccount = { address: account.address, balance: account.balance, nonce: account.nonce };
      if (hash !== undefined) {
        const bytes = code.get(hash);
        if (bytes === undefined) throw new WorkloadSetupError(`code ${hash} of 0x${address} missing from the setup state`);
        entry.code = bytes;
      }
      const slots = storage.get(address);
      if (slots !== undefined) {
        entry.storage = [...slots].filter(([, v]) => v.some((b) => b !== 0))
          .map(([slot, value]): [Buffer, Buffer] => [Buffer.from(slot, 'hex'), value])
          .sort((a, b) => Buffer.compare(a[0], b[0]));
      }
      alloc.push(entry);
    }
    alloc.sort((a, b) => Buffer.compare(a.address, b.address));
    return baseGenesis(this.chainId, alloc);
  }
}

interface SnapshotAccount {
  address: Buffer;
  balance: bigint;
  nonce: bigint;
  codeHashHex?: string;
}

export function baseGenesis(chainId: bigint, alloc: GenesisAccount[]): Genesis {
  return {
    chainId, timestamp: GENESIS_TIMESTAMP_SEC, gasLimit: GENESIS_GAS_LIMIT, baseFeePerGas: GENESIS_BASE_FEE_WEI,
    coinbase: Buffer.from(DEV_COINBASE.slice(2), 'hex'), alloc,
  };
}

/** eth_call against a genesis (used to check storage layouts after building). */
export async function callAtGenesis(genesis: Genesis, to: Buffer, data: Uint8Array): Promise<Buffer> {
  const reference = await ReferenceExecutor.create({ chainId: genesis.chainId, genesis: genesisStateEntries(genesis) });
  return callOn(reference, genesis.chainId, to, data);
}

export async function callOn(reference: ReferenceExecutor, chainId: bigint, to: Buffer, data: Uint8Array): Promise<Buffer> {
  const env: BlockEnv = {
    chainId, number: 0n, timestampSec: GENESIS_TIMESTAMP_SEC, coinbase: Buffer.from(DEV_COINBASE.slice(2), 'hex'),
    gasLimit: GENESIS_GAS_LIMIT, baseFeePerGas: GENESIS_BASE_FEE_WEI, prevRandao: Buffer.alloc(32),
  };
  const result = await reference.txExecutor.call({ to, data }, env, reference.stateSource);
  if (!result.success) throw new WorkloadSetupError(`eth_call to 0x${to.toString('hex')} failed: ${result.error ?? 'reverted'}`);
  return result.returnData;
}

export const keccak = (bytes: Uint8Array): Buffer => Buffer.from(keccak256(bytes));
