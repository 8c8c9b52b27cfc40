// Compiled contracts Lanes uses in its demo, tests and benchmarks, loaded from the artifacts
// that npm packages ship (no compiler needed at run time).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface ContractArtifact {
  contractName: string;
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
}

function load(spec: string): ContractArtifact {
  const json = require(spec) as ContractArtifact;
  if (typeof json.bytecode !== 'string' || !json.bytecode.startsWith('0x')) throw new Error(`artifact ${spec} has no bytecode`);
  return json;
}

/** OpenZeppelin 4.9 ERC-20 with a fixed supply minted to `owner` (name, symbol, supply, owner). */
export function erc20Artifact(): ContractArtifact {
  return load('@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json');
}
