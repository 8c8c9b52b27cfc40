// Replays the blocks a cluster committed through the serial reference executor, reading them
// through the public JSON-RPC only, and compares roots. Used by the end-to-end tests.
import { JsonRpcProvider, Transaction, keccak256, type TransactionResponse } from 'ethers';
import { devGenesis, genesisStateEntries, type Genesis } from '../../lib/chain/genesis.js';
import { ReferenceExecutor } from '../../lib/evm/index.js';

export interface ReplayedBlock {
  number: number;
  clusterRoot: string;
  referenceRoot: string;
  txs: number;
  clusterReceipts: Array<{ status: number | null; gasUsed: bigint; logs: number }>;
  referenceReceipts: Array<{ status: number; gasUsed: bigint; logs: number }>;
}

/** The signed bytes of a transaction as returned by eth_getBlockByNumber(n, true). */
export function rawOf(tx: TransactionResponse): string {
  const rebuilt = Transaction.from({
    type: tx.type, chainId: tx.chainId, nonce: tx.nonce, to: tx.to, data: tx.data, value: tx.value, gasLimit: tx.gasLimit,
    ...(tx.type === 2 ? { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas } : { gasPrice: tx.gasPrice }),
    ...(tx.type !== 0 ? { accessList: tx.accessList ?? [] } : {}),
    signature: tx.signature,
  });
  const raw = rebuilt.serialized;
  if (keccak256(raw) !== tx.hash) throw new Error(`rebuilt tx ${tx.hash} hashes to ${keccak256(raw)}: block formatting lost a field`);
  return raw;
}

export async function replayThroughReference(provider: JsonRpcProvider, upTo: number, genesis: Genesis = devGenesis()): Promise<ReplayedBlock[]> {
  const reference = await ReferenceExecutor.create({ chainId: genesis.chainId, genesis: genesisStateEntries(genesis) });
  const genesisBlock = await provider.getBlock(0);
  if (genesisBlock === null) throw new Error('no genesis block');
  const out: ReplayedBlock[] = [];
  const hashes = new Map<bigint, Uint8Array>([[0n, Buffer.from(genesisBlock.hash!.slice(2), 'hex')]]);
  for (let n = 1; n <= upTo; n++) {
    const block = await provider.getBlock(n, true);
    if (block === null) throw new Error(`block ${n} missing`);
    const txs = block.prefetchedTransactions.map((tx) => ({
      raw: Buffer.from(rawOf(tx).slice(2), 'hex'), hash: Buffer.from(tx.hash.slice(2), 'hex'), sender: Buffer.from(tx.from.slice(2), 'hex'),
    }));
    const raw = await provider.send('eth_getBlockByNumber', ['0x' + n.toString(16), false]) as { mixHash: string };
    const outcomes = await reference.executeBlock({
      chainId: genesis.chainId, number: BigInt(n), timestampSec: BigInt(block.timestamp), coinbase: Buffer.from(block.miner.slice(2), 'hex'),
      gasLimit: block.gasLimit, baseFeePerGas: block.baseFeePerGas ?? 0n, prevRandao: Buffer.from(raw.mixHash.slice(2), 'hex'),
      blockHashes: new Map(hashes),
    }, txs);
    hashes.set(BigInt(n), Buffer.from(block.hash!.slice(2), 'hex'));
    const receipts = await Promise.all(block.prefetchedTransactions.map((tx) => provider.getTransactionReceipt(tx.hash)));
    out.push({
      number: n,
      clusterRoot: block.stateRoot!,
      referenceRoot: '0x' + reference.stateRoot().toString('hex'),
      txs: txs.length,
      clusterReceipts: receipts.map((r) => ({ status: r!.status, gasUsed: r!.gasUsed, logs: r!.logs.length })),
      referenceReceipts: outcomes.filter((o) => o.status !== 'invalid').map((o) => ({ status: o.status === 'success' ? 1 : 0, gasUsed: o.gasUsed, logs: o.logs.length })),
    });
  }
  return out;
}
