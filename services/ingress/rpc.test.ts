// JSON-RPC framing, limits and admission against the real HTTP/WebSocket server, with an
// in-memory backend behind it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { TxBatch } from '../../gen/lanes/v1/bus.js';
import { InMemoryBackend } from './testBackend.js';
import { fund, header, signTransfer, startTestRpc, type TestRpc } from './testSupport.js';

async function post(url: string, body: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

const call = (method: string, params: unknown[] = [], id: unknown = 1): string => JSON.stringify({ jsonrpc: '2.0', id, method, params });

describe('JSON-RPC framing', () => {
  let backend: InMemoryBackend;
  let rpc: TestRpc;
  beforeEach(async () => {
    backend = new InMemoryBackend();
    rpc = await startTestRpc(backend);
  });
  afterEach(async () => { await rpc.close(); });

  it('answers -32700 to broken JSON', async () => {
    const { status, json } = await post(rpc.url, '{"jsonrpc":"2.0",');
    expect(status).toBe(200);
    expect(json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('answers -32600 to invalid requests and empty batches', async () => {
    expect((await post(rpc.url, '{"jsonrpc":"2.0","id":7}')).json).toMatchObject({ id: 7, error: { code: -32600 } });
    expect((await post(rpc.url, '{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}')).json).toMatchObject({ error: { code: -32600 } });
    expect((await post(rpc.url, '42')).json).toMatchObject({ id: null, error: { code: -32600 } });
    expect((await post(rpc.url, '[]')).json).toMatchObject({ id: null, error: { code: -32600 } });
    expect((await post(rpc.url, '{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}')).json).toMatchObject({ error: { code: -32600 } });
  });

  it('answers -32601 to unknown methods', async () => {
    expect((await post(rpc.url, call('eth_nope'))).json).toMatchObject({ id: 1, error: { code: -32601 } });
    expect((await post(rpc.url, call('eth_subscribe', ['newHeads']))).json).toMatchObject({ error: { code: -32601 } });
  });

  it('answers -32602 to bad hex and wrong arity', async () => {
    expect((await post(rpc.url, call('eth_getBalance', ['0x123', 'latest']))).json).toMatchObject({ error: { code: -32602 } });
    expect((await post(rpc.url, call('eth_getBalance', ['0xzz00000000000000000000000000000000000000']))).json).toMatchObject({ error: { code: -32602 } });
    expect((await post(rpc.url, call('eth_chainId', [1]))).json).toMatchObject({ error: { code: -32602 } });
    expect((await post(rpc.url, call('eth_getTransactionReceipt', []))).json).toMatchObject({ error: { code: -32602 } });
    expect((await post(rpc.url, call('eth_getBlockByNumber', ['0xnothex', false]))).json).toMatchObject({ error: { code: -32602 } });
    expect((await post(rpc.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: { a: 1 } }))).json).toMatchObject({ error: { code: -32602 } });
    expect((await post(rpc.url, call('eth_sendRawTransaction', ['0x1']))).json).toMatchObject({ error: { code: -32602 } });
  });

  it('refuses an oversized body with HTTP 413 and a JSON-RPC error', async () => {
    const { status, json } = await post(rpc.url, call('eth_sendRawTransaction', ['0x' + 'ab'.repeat(40 * 1024)]));
    expect(status).toBe(413);
    expect(json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32005 } });
    // The server is still there.
    expect((await post(rpc.url, call('eth_chainId'))).json).toMatchObject({ result: '0x7a69' });
  });

  it('refuses a batch above maxBatchRequests and answers batches in order', async () => {
    const tooMany = '[' + Array.from({ length: 21 }, (_, i) => call('eth_chainId', [], i)).join(',') + ']';
    expect((await post(rpc.url, tooMany)).json).toMatchObject({ id: null, error: { code: -32005 } });
    const batch = `[${call('eth_chainId', [], 1)},${call('eth_nope', [], 2)},{"jsonrpc":"2.0","method":"eth_chainId"},${call('net_version', [], 'x')}]`;
    const { json } = await post(rpc.url, batch);
    expect(json).toEqual([
      { jsonrpc: '2.0', id: 1, result: '0x7a69' },
      { jsonrpc: '2.0', id: 2, error: expect.objectContaining({ code: -32601 }) },
      { jsonrpc: '2.0', id: 'x', result: '31337' },
    ]);
  });

  it('answers a lone notification with no content', async () => {
    const { status, json } = await post(rpc.url, '{"jsonrpc":"2.0","method":"eth_chainId"}');
    expect(status).toBe(204);
    expect(json).toBeUndefined();
  });

  it('admits a raw transaction once its batch is stored, and rejects its duplicate', async () => {
    fund(backend, DEV_ACCOUNTS[0]!.address, 10n ** 18n);
    const tx = await signTransfer(0, 0);
    const raw = '0x' + tx.raw.toString('hex');
    const first = await post(rpc.url, call('eth_sendRawTransaction', [raw]));
    expect(first.json).toEqual({ jsonrpc: '2.0', id: 1, result: '0x' + tx.decoded.hash.toString('hex') });
    expect(rpc.publisher.published).toHaveLength(1);
    const batch = TxBatch.decode(rpc.publisher.published[0]!.payload);
    expect(batch.txs[0]!.hash.equals(tx.decoded.hash)).toBe(true);
    expect(batch.txs[0]!.sender.equals(tx.decoded.sender)).toBe(true);

    expect((await post(rpc.url, call('eth_sendRawTransaction', [raw]))).json).toMatchObject({ error: { code: -32000, message: 'already known' } });
    const count = await post(rpc.url, call('eth_getTransactionCount', [DEV_ACCOUNTS[0]!.address, 'pending']));
    expect(count.json).toMatchObject({ result: '0x1' });
    const committedCount = await post(rpc.url, call('eth_getTransactionCount', [DEV_ACCOUNTS[0]!.address, 'latest']));
    expect(committedCount.json).toMatchObject({ result: '0x0' });
    const pendingTx = await post(rpc.url, call('eth_getTransactionByHash', ['0x' + tx.decoded.hash.toString('hex')]));
    expect(pendingTx.json).toMatchObject({ result: { blockHash: null, nonce: '0x0', from: DEV_ACCOUNTS[0]!.address.toLowerCase() } });
  });

  it('rejects with geth messages', async () => {
    const tx = await signTransfer(1, 0);
    const res = await post(rpc.url, call('eth_sendRawTransaction', ['0x' + tx.raw.toString('hex')]));
    expect(res.json).toMatchObject({ error: { code: -32000, message: expect.stringMatching(/^insufficient funds for gas \* price \+ value/) } });
    const garbage = await post(rpc.url, call('eth_sendRawTransaction', ['0x02c0']));
    expect(garbage.json).toMatchObject({ error: { code: -32000 } });
  });

  it('reads the accounts of a batch of transactions in one state read', async () => {
    const txs = await Promise.all([0, 1, 2].map(async (i) => {
      fund(backend, DEV_ACCOUNTS[i]!.address, 10n ** 18n);
      return signTransfer(i, 0);
    }));
    backend.readStateCalls = 0;
    const batch = '[' + txs.map((t, i) => call('eth_sendRawTransaction', ['0x' + t.raw.toString('hex')], i)).join(',') + ']';
    const { json } = await post(rpc.url, batch);
    expect((json as Array<{ result: string }>).map((r) => r.result)).toEqual(txs.map((t) => '0x' + t.decoded.hash.toString('hex')));
    expect(backend.readStateCalls).toBe(1);
    expect(rpc.publisher.published).toHaveLength(1);
  });

  it('fails every transaction of a batch whose publish failed', async () => {
    fund(backend, DEV_ACCOUNTS[0]!.address, 10n ** 18n);
    rpc.publisher.failWith = new Error('stream down');
    const tx = await signTransfer(0, 0);
    const res = await post(rpc.url, call('eth_sendRawTransaction', ['0x' + tx.raw.toString('hex')]));
    expect(res.json).toMatchObject({ error: { code: -32000, message: expect.stringContaining('stream down') } });
    // Not remembered as pending: the same transaction may be sent again.
    rpc.publisher.failWith = undefined;
    expect((await post(rpc.url, call('eth_sendRawTransaction', ['0x' + tx.raw.toString('hex')]))).json).toMatchObject({ result: expect.any(String) });
  });

  it('maps a reverted eth_call to code 3 with the revert data', async () => {
    const reason = Buffer.from('08c379a0' + '0'.repeat(62) + '20' + '0'.repeat(63) + '4' + Buffer.from('nope').toString('hex').padEnd(64, '0'), 'hex');
    backend.callResponse = { success: false, returnData: reason, gasUsed: 0n, error: 'execution reverted: nope', errorCode: 3 };
    const res = await post(rpc.url, call('eth_call', [{ to: DEV_ACCOUNTS[1]!.address, data: '0x' }, 'latest']));
    expect(res.json).toMatchObject({ error: { code: 3, message: 'execution reverted: nope', data: '0x' + reason.toString('hex') } });
  });

  it('streams newHeads over WebSocket and enforces the message size and connection limits', async () => {
    const url = rpc.url.replace('http', 'ws');
    const ws = new WebSocket(url);
    await new Promise((resolve) => ws.once('open', resolve));
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    ws.send(call('eth_subscribe', ['newHeads']));
    await waitFor(() => messages.length === 1);
    const subscription = (messages[0] as { result: string }).result;
    backend.commit({ header: header(5n), txs: [], receipts: [] });
    await waitFor(() => messages.length === 2);
    expect(messages[1]).toMatchObject({ method: 'eth_subscription', params: { subscription, result: { number: '0x5' } } });

    const ws2 = new WebSocket(url);
    await new Promise((resolve) => ws2.once('open', resolve));
    const ws3 = new WebSocket(url);
    const refused = await new Promise<string>((resolve) => { ws3.once('error', (err) => resolve(err.message)); ws3.once('open', () => resolve('open')); });
    expect(refused).toMatch(/503/);

    const closed = new Promise<number>((resolve) => ws2.once('close', (code) => resolve(code)));
    ws2.on('error', () => {});
    ws2.send('x'.repeat(70 * 1024));
    expect(await closed).toBe(1009);
    ws.close();
    expect((await post(rpc.url, call('eth_chainId'))).json).toMatchObject({ result: '0x7a69' });
  });
});

async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
