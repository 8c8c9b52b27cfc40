// The chain rules Lanes executes under: Ethereum mainnet rules at the Cancun hardfork with the
// cluster's own chain id. Cancun (not Prague) because Prague's system contracts (EIP-2935,
// EIP-7002/7251) need per-block system calls that a transaction-level executor does not run.
import { createCustomCommon, Hardfork, Mainnet, type Common } from '@ethereumjs/common';
import { keccak256 } from '../crypto/keccak.js';

export const LANES_HARDFORK = Hardfork.Cancun;

const commons = new Map<bigint, Common>();

/** One shared Common per chain id (Common is read-only once built, and costly to build). */
export function chainCommon(chainId: bigint): Common {
  let common = commons.get(chainId);
  if (common === undefined) {
    common = createCustomCommon({ chainId: Number(chainId), name: 'lanes' }, Mainnet, {
      hardfork: LANES_HARDFORK,
      // The EVM's KECCAK256 opcode and receipt blooms: WebAssembly instead of pure JS (crypto/keccak.ts).
      customCrypto: { keccak256 },
    });
    commons.set(chainId, common);
  }
  return common;
}
