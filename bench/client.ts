// The benchmark's view of a cluster, through its public interfaces only: the gRPC API
// (SubmitTransactions, GetReceipts, GetBlock, StreamBlocks) and JSON-RPC batches for state reads.
import { credentials, Metadata, type ClientReadableStream } from '@grpc/grpc-js';
import {
  LanesClient, type GetBlockResponse, type ReceiptResult, type SubmitResult,
} from '../gen/lanes/v1/api.js';
import type { BlockHeader } from '../gen/lanes/v1/types.js';

const GRPC_DEADLINE_MS = 30_000;
/** Hashes per GetReceipts call and requests per JSON-RPC batch (ingress bounds pending calls). */
export const RECEIPTS_PER_CALL = 1_000;
export const RPC_BATCH_MAX = 50;
/** A batch answered "busy" is retried this many times, with a doubling backoff from 100 ms. */
export const RPC_BUSY_RETRIES = 8;

export class BenchRpcError extends Error {
  constructor(message: string, readonly details?: unknown) {
    super(message);
    this.name = 'BenchRpcError';
  }
}

export interface RpcCall {
  method: string;
  params: unknown[];
}

export class ClusterClient {
  private readonly grpc: LanesClient;

  constructor(readonly grpcAddress: string, readonly rpcUrl: string) {
    this.grpc = new LanesClient(grpcAddress, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    });
  }

  private deadline(): Date {
    return new Date(Date.now() + GRPC_DEADLINE_MS);
  }

  submit(rawTxs: Buffer[]): Promise<SubmitResult[]> {
    return new Promise((resolve, reject) => {
      this.grpc.submitTransactions({ rawTxs }, new Metadata(), { deadline: this.deadline() }, (err, res) => (err ? reject(err) : resolve(res.results)));
    });
  }

  async receipts(hashes: Buffer[]): Promise<ReceiptResult[]> {
    const out: ReceiptResult[] = [];
    for (let i = 0; i < hashes.length; i += RECEIPTS_PER_CALL) {
      const chunk = hashes.slice(i, i + RECEIPTS_PER_CALL);
      const res = await new Promise<ReceiptResult[]>((resolve, reject) => {
        this.grpc.getReceipts({ txHashes: chunk }, new Metadata(), { deadline: this.deadline() }, (err, r) => (err ? reject(err) : resolve(r.results)));
      });
      out.push(...res);
    }
    return out;
  }

  block(number: bigint | 'latest'): Promise<GetBlockResponse> {
    return new Promise((resolve, reject) => {
      this.grpc.getBlock(
        { number: number === 'latest' ? 0n : number, hash: Buffer.alloc(0), latest: number === 'latest' },
        new Metadata(), { deadline: this.deadline() },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  }

  streamBlocks(fromHeight: bigint): ClientReadableStream<BlockHeader> {
    return this.grpc.streamBlocks({ fromHeight });
  }

  /** JSON-RPC calls in batches of RPC_BATCH_MAX; results in order; an error answer throws. */
  async rpcBatch(calls: RpcCall[]): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let i = 0; i < calls.length; i += RPC_BATCH_MAX) {
      const chunk = calls.slice(i, i + RPC_BATCH_MAX);
      for (let attempt = 0; ; attempt++) {
        try {
          out.push(...await this.rpcChunk(chunk));
          break;
        } catch (err) {
          if (!(err instanceof BenchRpcError) || !/busy/i.test(err.message) || attempt >= RPC_BUSY_RETRIES) throw err;
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
    }
    return out;
  }

  private async rpcChunk(chunk: RpcCall[]): Promise<unknown[]> {
    const out: unknown[] = [];
    const body = chunk.map((c, k) => ({ jsonrpc: '2.0', id: k, method: c.method, params: c.params }));
    const res = await fetch(this.rpcUrl, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok) throw new BenchRpcError(`JSON-RPC ${this.rpcUrl}: HTTP ${res.status}`);
    const answers = (await res.json()) as Array<{ id: number; result?: unknown; error?: { code: number; message: string } }>;
    if (!Array.isArray(answers)) throw new BenchRpcError('JSON-RPC: batch answered with a non-array', answers);
    const byId = new Map(answers.map((a) => [a.id, a]));
    for (let k = 0; k < chunk.length; k++) {
      const a = byId.get(k);
      if (a === undefined) throw new BenchRpcError(`JSON-RPC: no answer to ${chunk[k]!.method}`);
      if (a.error !== undefined) throw new BenchRpcError(`JSON-RPC ${chunk[k]!.method}: ${a.error.message}`, a.error);
      out.push(a.result);
    }
    return out;
  }

  close(): void {
    this.grpc.close();
  }
}
