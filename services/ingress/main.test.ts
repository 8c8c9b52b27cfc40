// startIngress in-process against a real nats-server (no state service running): it starts,
// serves what needs no cluster, reports cluster failures as JSON-RPC errors, and stops cleanly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.js';
import { startNatsServer, type NatsServerHandle } from '../../test/support/natsServer.js';
import { startIngress, type IngressHandle } from './main.js';
import { silentLog } from './testSupport.js';

describe('startIngress', () => {
  let nats: NatsServerHandle;
  let ingress: IngressHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
    const config = loadConfig({ LANES_NATS_URL: nats.url, LANES_RPC_PORT: '0', LANES_GRPC_PORT: '0', LANES_REQUEST_TIMEOUT_MS: '200' });
    ingress = await startIngress(config, silentLog);
  });
  afterAll(async () => { await ingress.stop(); await nats.stop(); });

  it('binds its ports and answers', async () => {
    expect(ingress.rpcPort).toBeGreaterThan(0);
    expect(ingress.grpcPort).toBeGreaterThan(0);
    const post = async (method: string): Promise<unknown> => (await fetch(`http://127.0.0.1:${ingress.rpcPort}`, {
      method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
    })).json();
    expect(await post('eth_chainId')).toEqual({ jsonrpc: '2.0', id: 1, result: '0x7a69' });
    expect(await post('eth_blockNumber')).toMatchObject({ error: { code: -32000, message: expect.stringMatching(/cluster unavailable/) } });
    const health = await fetch(`http://127.0.0.1:${ingress.healthPort}/healthz`);
    expect(health.status).toBe(200);
  });
});
