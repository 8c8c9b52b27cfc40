// The public gRPC API (proto/lanes/v1/api.proto, service Lanes) on @grpc/grpc-js: batch submit,
// receipts, blocks and a server stream of committed headers. Same admission and backend as
// JSON-RPC; message sizes are capped by the server options.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/log.js';
import { LanesService, type LanesServer, type ReceiptResult } from '../../gen/lanes/v1/api.js';
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import type { IngressBackend } from './backend.js';
import type { ChainView } from './chainView.js';
import type { TxSubmitter } from './submit.js';

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  /** Raw transactions in one SubmitTransactions call. */
  maxSubmitTxs: number;
  /** Hashes in one GetReceipts call. */
  maxReceiptHashes: number;
  /** Stored headers one StreamBlocks may replay before it follows new ones. */
  maxReplayBlocks: number;
  /** Headers a stream may have queued for a slow client before it is cancelled. */
  maxStreamQueue: number;
}

export interface GrpcServer {
  port: number;
  close(): Promise<void>;
}

export interface GrpcDeps {
  backend: IngressBackend;
  chain: ChainView;
  submitter: TxSubmitter;
}

function fail(code: grpc.status, details: string): Partial<grpc.StatusObject> {
  return { code, details };
}

function internal(err: unknown, log: Logger, what: string): Partial<grpc.StatusObject> {
  log.warn({ err }, `grpc ${what} failed`);
  return fail(grpc.status.UNAVAILABLE, `${what} failed: ${(err as Error).message}`);
}

export function lanesServiceImpl(deps: GrpcDeps, options: GrpcServerOptions, log: Logger): LanesServer {
  return {
    submitTransactions(call, callback) {
      const raws = call.request.rawTxs;
      if (raws.length > options.maxSubmitTxs) {
        callback(fail(grpc.status.RESOURCE_EXHAUSTED, `at most ${options.maxSubmitTxs} transactions per call`));
        return;
      }
      deps.submitter.submit(raws).then(
        (outcomes) => callback(null, {
          results: outcomes.map((o) => ({
            txHash: o.hash ?? Buffer.alloc(0),
            accepted: o.error === undefined,
            errorCode: o.error?.code ?? 0,
            errorMessage: o.error?.message ?? '',
          })),
        }),
        (err: unknown) => callback(internal(err, log, 'submit')),
      );
    },

    getReceipts(call, callback) {
      const hashes = call.request.txHashes;
      if (hashes.length > options.maxReceiptHashes) {
        callback(fail(grpc.status.RESOURCE_EXHAUSTED, `at most ${options.maxReceiptHashes} hashes per call`));
        return;
      }
      if (hashes.length === 0) { callback(null, { results: [] }); return; }
      deps.backend.lookupTxs(hashes).then(
        (lookups) => callback(null, {
          results: lookups.map((l, i): ReceiptResult => ({
            txHash: hashes[i]!,
            found: l.found,
            receipt: l.receipt,
            blockNumber: l.blockNumber,
            blockHash: l.blockHash,
            rejection: l.rejection,
          })),
        }),
        (err: unknown) => callback(internal(err, log, 'receipts lookup')),
      );
    },

    getBlock(call, callback) {
      const { number, hash, latest } = call.request;
      deps.backend.block({ number, hash, latest }).then(
        (res) => callback(null, { found: res.found, header: res.header, txHashes: res.txs.map((tx) => tx.hash) }),
        (err: unknown) => callback(internal(err, log, 'block lookup')),
      );
    },

    streamBlocks(call) {
      void streamBlocks(call, deps, options, log);
    },

    getConflictReport(call, callback) {
      deps.backend.conflictReport(call.request.height).then(
        (res) => callback(null, { found: res.found, reportJson: res.json }),
        (err: unknown) => callback(internal(err, log, 'conflict report')),
      );
    },
  };
}

/**
 * Replays stored headers from `fromHeight` (bounded by maxReplayBlocks), then follows commits.
 * Live headers that arrive during the replay are queued and sent after it, without duplicates.
 */
async function streamBlocks(
  call: grpc.ServerWritableStream<{ fromHeight: bigint }, BlockHeader>,
  deps: GrpcDeps, options: GrpcServerOptions, log: Logger,
): Promise<void> {
  let nextHeight = 0n; // 0 = any (live only)
  let replaying = call.request.fromHeight > 0n;
  const queued: BlockHeader[] = [];
  let ended = false;
  let blocked = false; // the last write returned false: wait for 'drain' before writing more
  const end = (status?: Partial<grpc.StatusObject>): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    if (status !== undefined) call.destroy(Object.assign(new Error(status.details), status));
    else call.end();
  };
  const send = (header: BlockHeader): void => {
    if (nextHeight !== 0n && header.number < nextHeight) return;
    nextHeight = header.number + 1n;
    if (!call.write(header)) blocked = true;
  };
  const unsubscribe = deps.backend.onBlockCommitted((event) => {
    if (ended || event.header === undefined) return;
    if (replaying || blocked) {
      if (queued.length >= options.maxStreamQueue) {
        end(fail(grpc.status.RESOURCE_EXHAUSTED, 'stream consumer too slow: header queue full'));
        return;
      }
      queued.push(event.header);
      if (!replaying) drainQueue();
      return;
    }
    send(event.header);
  });
  const drainQueue = (): void => {
    while (queued.length > 0 && !ended && !blocked) send(queued.shift()!);
  };
  call.on('cancelled', () => end());
  call.on('error', () => end());
  call.on('drain', () => {
    blocked = false;
    if (!replaying) drainQueue();
  });

  if (!replaying) return;
  try {
    const head = await deps.chain.latest();
    const headNumber = head?.number ?? 0n;
    const from = call.request.fromHeight;
    if (headNumber >= from && headNumber - from + 1n > BigInt(options.maxReplayBlocks)) {
      end(fail(grpc.status.OUT_OF_RANGE, `replay of ${headNumber - from + 1n} blocks exceeds ${options.maxReplayBlocks}`));
      return;
    }
    for (let n = from; n <= headNumber && !ended; n++) {
      const header = deps.chain.recentHeader(n) ?? (await deps.backend.block({ number: n, hash: Buffer.alloc(0), latest: false })).header;
      if (header === undefined) break;
      send(header);
      if (blocked) await new Promise<void>((resolve) => call.once('drain', resolve).once('close', resolve));
    }
  } catch (err) {
    log.warn({ err }, 'StreamBlocks replay failed');
    end(fail(grpc.status.UNAVAILABLE, `replay failed: ${(err as Error).message}`));
    return;
  }
  replaying = false;
  drainQueue();
}

export async function startGrpcServer(deps: GrpcDeps, options: GrpcServerOptions, log: Logger): Promise<GrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
  });
  server.addService(LanesService, lanesServiceImpl(deps, options, log));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(err); else resolve(bound);
    });
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, 5_000);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    }),
  };
}
