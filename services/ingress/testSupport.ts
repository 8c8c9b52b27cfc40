// Builds the ingress RPC stack around an in-memory backend and a recording batch publisher, and
// signs dev-chain transactions, for the tests of this folder.
import { Wallet } from 'ethers';
import { chainCommon } from '../../lib/chain/common.js';
import { decodeTransaction, type DecodedTx } from '../../lib/chain/decode.js';
import { DEV_ACCOUNTS, devGenesis } from '../../lib/chain/genesis.js';
import { createLogger } from '../../lib/log.js';
import { accountKey, EMPTY_CODE_HASH, encodeAccount } from '../../lib/state/keys.js';
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import { Batcher, type BatchPublisher } from './batcher.js';
import { ChainView } from './chainView.js';
import type { MethodContext } from './methods.js';
import { PendingTxs } from './pending.js';
import { startRpcServer, type RpcServer, type RpcServerOptions } from './rpc.js';
import { TxSubmitter } from './submit.js';
import type { InMemoryBackend } from './testBackend.js';

export const genesis = devGenesis();
export const common = chainCommon(genesis.chainId);
export const silentLog = createLogger('ingress-test', 'silent');

export class RecordingPublisher implements BatchPublisher {
  readonly published: Array<{ payload: Uint8Array; msgId: string }> = [];
  failWith: Error | undefined;
  async publish(payload: Uint8Array, msgId: string): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    this.published.push({ payload, msgId });
  }
}

export function fund(backend: InMemoryBackend, address: string, balance: bigint, nonce = 0n): void {
  const addr = Buffer.from(address.slice(2), 'hex');
  backend.state.set(accountKey(addr), encodeAccount({ nonce, balance, codeHash: EMPTY_CODE_HASH }));
}

export async function signTransfer(account: number, nonce: number, valueWei = 1n): Promise<{ raw: Buffer; decoded: DecodedTx }> {
  const wallet = new Wallet(DEV_ACCOUNTS[account]!.privateKey);
  const hex = await wallet.signTransaction({
    type: 2, chainId: genesis.chainId, nonce, to: DEV_ACCOUNTS[19]!.address, value: valueWei, gasLimit: 21_000n,
    maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
  });
  const raw = Buffer.from(hex.slice(2), 'hex');
  return { raw, decoded: decodeTransaction(raw, common) };
}

export interface TestRpc {
  server: RpcServer;
  url: string;
  ctx: MethodContext;
  publisher: RecordingPublisher;
  batcher: Batcher;
  close(): Promise<void>;
}

export async function startTestRpc(backend: InMemoryBackend, overrides: Partial<RpcServerOptions> = {}): Promise<TestRpc> {
  const publisher = new RecordingPublisher();
  const batcher = new Batcher(publisher, { ingressId: 'test', batchMaxTxs: 100, batchMaxBytes: 1 << 20, batchMaxWaitMs: 2, maxPendingTxs: 1000 });
  const pending = new PendingTxs(1000);
  const chain = new ChainView(backend, { recentHeaders: 16, genesisBaseFeePerGas: genesis.baseFeePerGas, headMaxAgeMs: 0 });
  const submitter = new TxSubmitter(backend, batcher, pending, {
    common,
    limits: () => ({ chainId: genesis.chainId, maxTxBytes: 128 * 1024, blockGasLimit: genesis.gasLimit, nonceWindow: 16, baseFeePerGas: chain.baseFeePerGas() }),
  }, silentLog);
  const ctx: MethodContext = {
    backend, chain, submitter, pending, common, chainId: genesis.chainId, clientVersion: 'lanes/test',
    limits: { maxLogsRange: 100, maxLogs: 100, maxFeeHistoryBlocks: 64, maxRewardPercentiles: 10 },
  };
  const server = await startRpcServer(ctx, {
    host: '127.0.0.1', port: 0, maxRequestBytes: 64 * 1024, maxBatchRequests: 20, maxWsConnections: 2,
    maxWsSubscriptions: 4, maxWsBufferedBytes: 1 << 20, ...overrides,
  }, silentLog);
  const unsubscribe = backend.onBlockCommitted((event) => {
    pending.onBlockCommitted(event);
    if (event.header !== undefined) { chain.observe(event.header); server.publishNewHead(event.header); }
  });
  return {
    server, url: `http://127.0.0.1:${server.port}`, ctx, publisher, batcher,
    close: async () => { unsubscribe(); await batcher.close(); await server.close(100); },
  };
}

/** A committed header with recognisable filler bytes (1 gwei base fee, 500M gas limit). */
export function header(number: bigint): BlockHeader {
  return {
    number, hash: Buffer.alloc(32, Number(number % 250n) + 1), parentHash: Buffer.alloc(32, Number(number % 250n)),
    stateRoot: Buffer.alloc(32, 3), transactionsRoot: Buffer.alloc(32, 4), receiptsRoot: Buffer.alloc(32, 5),
    logsBloom: Buffer.alloc(256), gasUsed: 0n, gasLimit: 500_000_000n, timestamp: 1_700_000_000n + number,
    baseFeePerGas: Buffer.from([0x3b, 0x9a, 0xca, 0x00]), coinbase: Buffer.alloc(20, 9), mixHash: Buffer.alloc(32),
    txCount: 0, orderedDigest: Buffer.alloc(32, 7),
  };
}
