// The gRPC service against an in-memory backend: batch submit with per-tx results, and
// StreamBlocks replaying stored headers before following new ones.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { LanesClient } from '../../gen/lanes/v1/api.js';
import type { BlockHeader } from '../../gen/lanes/v1/types.js';
import { startGrpcServer, type GrpcServer } from './grpc.js';
import { InMemoryBackend } from './testBackend.js';
import { fund, header, signTransfer, silentLog, startTestRpc, type TestRpc } from './testSupport.js';

describe('gRPC Lanes service', () => {
  let backend: InMemoryBackend;
  let rpc: TestRpc;
  let server: GrpcServer;
  let client: LanesClient;
  beforeAll(async () => {
    backend = new InMemoryBackend();
    for (let n = 0n; n <= 3n; n++) backend.commit({ header: header(n), txs: [], receipts: [] });
    rpc = await startTestRpc(backend);
    server = await startGrpcServer({ backend, chain: rpc.ctx.chain, submitter: rpc.ctx.submitter }, {
      host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 20, maxSubmitTxs: 10, maxReceiptHashes: 10, maxReplayBlocks: 100, maxStreamQueue: 10,
    }, silentLog);
    client = new LanesClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => { client.close(); await server.close(); await rpc.close(); });

  it('submits a batch and reports each transaction', async () => {
    fund(backend, DEV_ACCOUNTS[0]!.address, 10n ** 18n);
    const ok = await signTransfer(0, 0);
    const poor = await signTransfer(5, 0);
    const res = await new Promise<import('../../gen/lanes/v1/api.js').SubmitTransactionsResponse>((resolve, reject) =>
      client.submitTransactions({ rawTxs: [ok.raw, poor.raw, Buffer.from('00', 'hex')] }, (err, r) => (err ? reject(err) : resolve(r))));
    expect(res.results[0]).toMatchObject({ accepted: true, txHash: ok.decoded.hash });
    expect(res.results[1]).toMatchObject({ accepted: false, errorCode: -32000 });
    expect(res.results[1]!.errorMessage).toMatch(/^insufficient funds/);
    expect(res.results[2]).toMatchObject({ accepted: false });
  });

  it('replays stored headers from from_height, then streams new ones', async () => {
    const stream = client.streamBlocks({ fromHeight: 2n });
    const seen: bigint[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on('data', (h: BlockHeader) => {
        seen.push(h.number);
        if (h.number === 3n) backend.commit({ header: header(4n), txs: [], receipts: [] });
        if (h.number === 4n) resolve();
      });
    });
    stream.on('error', () => {});
    await done;
    stream.cancel();
    expect(seen).toEqual([2n, 3n, 4n]);
  });
});
