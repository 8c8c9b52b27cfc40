// Storage slots of Solidity mappings in the contracts the workloads use, so per-account state
// (token balances, allowances, minter roles) can be written straight into genesis instead of
// sending one setup transaction per account. Each layout is checked by an eth_call after the
// genesis is built (genesisBuilder.ts), so a wrong slot fails at generation, not in a run.
import { keccak256 } from '../crypto/keccak.js';

export function word(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}

function padAddress(address: Uint8Array): Buffer {
  if (address.length !== 20) throw new Error(`padAddress: expected 20 bytes, got ${address.length}`);
  return Buffer.concat([Buffer.alloc(12), address]);
}

/** Slot of `mapping(address => …)` at `slot`, for key `address`. */
export function addressMappingSlot(address: Uint8Array, slot: Buffer): Buffer {
  return Buffer.from(keccak256(Buffer.concat([padAddress(address), slot])));
}

/** Slot of `mapping(bytes32 => …)` at `slot`, for key `key`. */
export function bytes32MappingSlot(key: Uint8Array, slot: Buffer): Buffer {
  if (key.length !== 32) throw new Error('bytes32MappingSlot: key must be 32 bytes');
  return Buffer.from(keccak256(Buffer.concat([key, slot])));
}

/** OpenZeppelin 4.9 ERC20: _balances at slot 0, _allowances at 1, _totalSupply at 2. */
export const ozErc20 = {
  balanceSlot: (holder: Uint8Array): Buffer => addressMappingSlot(holder, word(0n)),
  allowanceSlot: (owner: Uint8Array, spender: Uint8Array): Buffer => addressMappingSlot(spender, addressMappingSlot(owner, word(1n))),
};

/** OpenZeppelin 4.9 AccessControl: _roles at slot 0; RoleData.members is the struct's first field. */
export const ozAccessControl = {
  memberSlot: (role: Uint8Array, account: Uint8Array): Buffer => addressMappingSlot(account, bytes32MappingSlot(role, word(0n))),
};

export const MINTER_ROLE = Buffer.from(keccak256(Buffer.from('MINTER_ROLE', 'utf8')));
