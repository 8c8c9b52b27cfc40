// An in-memory IngressBackend for tests of the RPC and gRPC layers: accounts, blocks with their
// transactions and receipts, logs and canned eth_call answers, plus counters of round trips.
import type {
  BlockCommitted, BlockRequest, BlockResponse, CallRequest, CallResponse, ConflictReportResponse, HeadResponse, LogsRequest, LogsResponse, TxLookup,
} from '../../gen/lanes/v1/bus.js';
import type { BlockHeader, Receipt, StateEntry, Tx } from '../../gen/lanes/v1/types.js';
import { keyFromBytes } from '../../lib/state/keys.js';
import type { BlockCommittedListener, IngressBackend } from './backend.js';

export interface StoredBlock {
  header: BlockHeader;
  txs: Tx[];
  receipts: Receipt[];
}

export class InMemoryBackend implements IngressBackend {
  readonly state = new Map<string, Buffer>();
  readonly blocks: StoredBlock[] = [];
  callResponse: CallResponse = { success: true, returnData: Buffer.alloc(0), gasUsed: 21_000n, error: '', errorCode: 0 };
  readStateCalls = 0;
  private readonly listeners = new Set<BlockCommittedListener>();

  async readState(keys: Buffer[], height: bigint): Promise<{ height: bigint; entries: StateEntry[] }> {
    this.readStateCalls++;
    return {
      height: height === 0n ? BigInt(Math.max(0, this.blocks.length - 1)) : height,
      entries: keys.map((key) => {
        const value = this.state.get(keyFromBytes(key));
        return value === undefined ? { key, value: Buffer.alloc(0), absent: true } : { key, value, absent: false };
      }),
    };
  }

  async head(): Promise<HeadResponse> {
    const last = this.blocks[this.blocks.length - 1];
    return { height: last?.header.number ?? 0n, header: last?.header, lastTxStreamSeq: 0n };
  }

  async block(req: BlockRequest): Promise<BlockResponse> {
    const found = req.hash.length > 0
      ? this.blocks.find((b) => b.header.hash.equals(req.hash))
      : req.latest ? this.blocks[this.blocks.length - 1] : this.blocks.find((b) => b.header.number === req.number);
    return found === undefined ? { found: false, header: undefined, txs: [] } : { found: true, header: found.header, txs: found.txs };
  }

  async lookupTxs(hashes: Buffer[]): Promise<TxLookup[]> {
    return hashes.map((hash) => {
      for (const b of this.blocks) {
        const i = b.txs.findIndex((tx) => tx.hash.equals(hash));
        if (i >= 0) {
          return { found: true, tx: b.txs[i], receipt: b.receipts[i], blockNumber: b.header.number, blockHash: b.header.hash, rejection: undefined };
        }
      }
      return { found: false, tx: undefined, receipt: undefined, blockNumber: 0n, blockHash: Buffer.alloc(0), rejection: undefined };
    });
  }

  async logs(req: LogsRequest): Promise<LogsResponse> {
    const out: LogsResponse = { logs: [], error: '' };
    for (const b of this.blocks) {
      if (req.blockHash.length > 0 ? !b.header.hash.equals(req.blockHash) : b.header.number < req.fromBlock || b.header.number > req.toBlock) continue;
      b.receipts.forEach((r, txIndex) => r.logs.forEach((log, i) => {
        if (req.addresses.length > 0 && !req.addresses.some((a) => a.equals(log.address))) return;
        out.logs.push({ log, blockNumber: b.header.number, blockHash: b.header.hash, txHash: r.txHash, txIndex, logIndex: r.firstLogIndex + i });
      }));
    }
    return out;
  }

  async call(_req: CallRequest): Promise<CallResponse> {
    return this.callResponse;
  }

  async conflictReport(_height: bigint): Promise<ConflictReportResponse> {
    return { found: false, json: '' };
  }

  onBlockCommitted(listener: BlockCommittedListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  commit(block: StoredBlock): void {
    this.blocks.push(block);
    const event: BlockCommitted = { header: block.header, txHashes: block.txs.map((t) => t.hash), rejections: [] };
    for (const listener of this.listeners) listener(event);
  }
}
