// Hand-rolled ABI encoding for the few calls the workloads make: static arguments only (plus the
// router's two-token path), so encoding costs a few concatenations per transaction.
import { keccak256 } from '../crypto/keccak.js';
import { word } from './storage.js';

export function selector(signature: string): Buffer {
  return Buffer.from(keccak256(Buffer.from(signature, 'utf8'))).subarray(0, 4);
}

const addressWord = (address: Uint8Array): Buffer => Buffer.concat([Buffer.alloc(12), address]);

type Arg = bigint | Uint8Array;
const encodeArg = (arg: Arg): Buffer => (typeof arg === 'bigint' ? word(arg) : arg.length === 20 ? addressWord(arg) : Buffer.from(arg));

/** selector ‖ static arguments (bigint → uint256, 20 bytes → address, 32 bytes as is). */
export function encodeCall(sel: Buffer, ...args: Arg[]): Buffer {
  return Buffer.concat([sel, ...args.map(encodeArg)]);
}

export const SEL = {
  transfer: selector('transfer(address,uint256)'),
  balanceOf: selector('balanceOf(address)'),
  allowance: selector('allowance(address,address)'),
  totalSupply: selector('totalSupply()'),
  hasRole: selector('hasRole(bytes32,address)'),
  mint: selector('mint(address)'),
  createPair: selector('createPair(address,address)'),
  getPair: selector('getPair(address,address)'),
  getReserves: selector('getReserves()'),
  swapExactTokensForTokens: selector('swapExactTokensForTokens(uint256,uint256,address[],address,uint256)'),
};

/** Router02.swapExactTokensForTokens(amountIn, amountOutMin, [tokenIn, tokenOut], to, deadline). */
export function encodeSwapExactTokensForTokens(amountIn: bigint, amountOutMin: bigint, tokenIn: Uint8Array, tokenOut: Uint8Array, to: Uint8Array, deadline: bigint): Buffer {
  return Buffer.concat([
    SEL.swapExactTokensForTokens, word(amountIn), word(amountOutMin), word(0xa0n), addressWord(to), word(deadline),
    word(2n), addressWord(tokenIn), addressWord(tokenOut),
  ]);
}

/** Word `index` of ABI return data as an unsigned integer. */
export function decodeWord(data: Uint8Array, index = 0): bigint {
  const start = index * 32;
  if (data.length < start + 32) throw new Error(`decodeWord: return data has ${data.length} bytes, word ${index} needs ${start + 32}`);
  return BigInt('0x' + Buffer.from(data.subarray(start, start + 32)).toString('hex'));
}

export function decodeAddress(data: Uint8Array): Buffer {
  if (data.length < 32) throw new Error('decodeAddress: short return data');
  return Buffer.from(data.subarray(12, 32));
}
