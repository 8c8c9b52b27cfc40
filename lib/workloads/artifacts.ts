// The compiled contracts the workloads deploy, loaded from the artifacts npm packages ship:
// OpenZeppelin 4.9 presets and Uniswap V2 (core: factory and pair; periphery: router).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface WorkloadArtifact {
  name: string;
  /** Creation bytecode. */
  bytecode: Buffer;
}

function load(spec: string, name: string): WorkloadArtifact {
  const json = require(spec) as { bytecode?: unknown };
  const hex = typeof json.bytecode === 'string' ? json.bytecode.replace(/^0x/, '') : '';
  if (hex === '' || !/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`artifact ${spec} has no creation bytecode`);
  return { name, bytecode: Buffer.from(hex, 'hex') };
}

export const artifacts = {
  erc20: (): WorkloadArtifact => load('@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json', 'ERC20PresetFixedSupply'),
  erc721: (): WorkloadArtifact => load('@openzeppelin/contracts/build/contracts/ERC721PresetMinterPauserAutoId.json', 'ERC721PresetMinterPauserAutoId'),
  uniswapFactory: (): WorkloadArtifact => load('@uniswap/v2-core/build/UniswapV2Factory.json', 'UniswapV2Factory'),
  uniswapRouter: (): WorkloadArtifact => load('@uniswap/v2-periphery/build/UniswapV2Router02.json', 'UniswapV2Router02'),
};
