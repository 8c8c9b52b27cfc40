// The demo workload `lanes start` runs: ETH transfers and an OpenZeppelin ERC-20 deployed and
// used by ordinary ethers v6 code through the JSON-RPC endpoint, with a short report.
import { Contract, ContractFactory, JsonRpcProvider, Wallet, formatEther, parseEther, type TransactionReceipt } from 'ethers';
import { DEV_ACCOUNTS } from '../lib/chain/genesis.js';
import { erc20Artifact } from '../lib/contracts.js';

export interface DemoReport {
  chainId: bigint;
  txs: number;
  blocks: number;
  firstBlock: number;
  lastBlock: number;
  seconds: number;
  tps: number;
  token: string;
  failed: number;
}

export interface DemoOptions {
  rpcUrl: string;
  transfersPerAccount: number;
  accounts: number;
  print: (line: string) => void;
}

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { print } = options;
  const provider = new JsonRpcProvider(options.rpcUrl, undefined, { staticNetwork: true, batchMaxCount: 1, polling: true, pollingInterval: 100 });
  try {
    const network = await provider.getNetwork();
    print(`chain id ${network.chainId}, head block ${await provider.getBlockNumber()}`);
    const wallets = DEV_ACCOUNTS.slice(0, options.accounts).map((a) => new Wallet(a.privateKey, provider));
    const deployer = wallets[0]!;

    const artifact = erc20Artifact();
    const factory = new ContractFactory(artifact.abi as never, artifact.bytecode, deployer);
    const token = await factory.deploy('Lanes Demo Token', 'LDT', parseEther('1000000'), deployer.address);
    await token.waitForDeployment();
    const tokenAddress = await token.getAddress();
    print(`deployed ERC-20 at ${tokenAddress}`);

    // Fund every wallet with tokens so the transfer phase has independent senders.
    const erc20 = new Contract(tokenAddress, artifact.abi as never, deployer);
    const fundTxs = [];
    let deployerNonce = await provider.getTransactionCount(deployer.address, 'pending');
    for (const w of wallets.slice(1)) {
      fundTxs.push(await erc20.getFunction('transfer')(w.address, parseEther('1000'), { nonce: deployerNonce++, gasLimit: 100_000n }));
    }
    await Promise.all(fundTxs.map((t) => t.wait()));

    // Sign everything first, then send: the timed part measures the cluster, not the signer.
    const feeData = await provider.getFeeData();
    const chainId = network.chainId;
    const signed: string[] = [];
    for (const [i, w] of wallets.entries()) {
      let nonce = await provider.getTransactionCount(w.address, 'pending');
      const peer = wallets[(i + 1) % wallets.length]!;
      const tokenIface = erc20.interface;
      for (let k = 0; k < options.transfersPerAccount; k++) {
        const erc20Tx = k % 2 === 1;
        signed.push(await w.signTransaction({
          type: 2, chainId, nonce: nonce++,
          to: erc20Tx ? tokenAddress : peer.address,
          value: erc20Tx ? 0n : parseEther('0.001'),
          data: erc20Tx ? tokenIface.encodeFunctionData('transfer', [peer.address, 1000n]) : '0x',
          gasLimit: erc20Tx ? 100_000n : 21_000n,
          maxFeePerGas: feeData.maxFeePerGas ?? 2_000_000_000n,
          maxPriorityFeePerGas: feeData.maxPriorityFeePerGas ?? 1_000_000_000n,
        }));
      }
    }
    print(`signed ${signed.length} transactions (ETH and ERC-20 transfers from ${wallets.length} accounts); sending`);
    const started = Date.now();
    const sent = await Promise.all(signed.map((raw) => provider.broadcastTransaction(raw)));
    const receipts = (await Promise.all(sent.map((t) => t.wait(1, 60_000)))) as TransactionReceipt[];
    const seconds = (Date.now() - started) / 1000;
    const blocks = new Set(receipts.map((r) => r.blockNumber));
    const failed = receipts.filter((r) => r.status !== 1).length;
    const first = Math.min(...blocks);
    const last = Math.max(...blocks);
    for (const n of [...blocks].sort((a, b) => a - b)) {
      const block = await provider.getBlock(n);
      if (block !== null) print(`  block ${n}: ${block.transactions.length} txs, gas used ${block.gasUsed}, hash ${block.hash?.slice(0, 18)}…`);
    }
    const sample = receipts[1]!;
    print(`sample receipt: tx ${sample.hash.slice(0, 18)}… status ${sample.status} gasUsed ${sample.gasUsed} logs ${sample.logs.length}`);
    const balance = await erc20.getFunction('balanceOf')(wallets[1]!.address) as bigint;
    print(`token balance of ${wallets[1]!.address}: ${formatEther(balance)} LDT`);
    const tps = receipts.length / seconds;
    print(`${receipts.length} txs in ${blocks.size} blocks (${first}..${last}) in ${seconds.toFixed(2)} s: ${tps.toFixed(0)} tx/s submit→receipt, ${failed} failed`);
    return { chainId, txs: receipts.length, blocks: blocks.size, firstBlock: first, lastBlock: last, seconds, tps, token: tokenAddress, failed };
  } finally {
    provider.destroy();
  }
}
