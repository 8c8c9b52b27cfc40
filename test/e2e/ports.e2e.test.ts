// A port the cluster picked is free when picked, not when a service binds it a moment later
// (another process's outgoing connection may take it): such a service starts again elsewhere.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startCluster, type RunningCluster } from '../../cli/cluster.js';

describe('ports taken between picking and binding', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-ports-'));
  // Holds the port; the health checks that reach it before the service gave up are hung up on.
  const holder = net.createServer((socket) => socket.destroy());
  let cluster: RunningCluster | undefined;

  let full: RunningCluster | undefined;

  afterAll(async () => {
    await cluster?.stop();
    await full?.stop();
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('a service whose health port was taken starts again on another one', async () => {
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as net.AddressInfo).port;
    // The first port picked is NATS's, the second the state service's health port.
    let picks = 0;
    const pickPort = async (): Promise<number> => (++picks === 2 ? taken : freePort());
    cluster = await startCluster({ dataDir, executors: 1, executionOnly: true, pickPort });
    const state = cluster.services.find((s) => s.name === 'state')!;
    expect(state.healthPort).not.toBe(taken);
    const log = fs.readFileSync(state.logFile, 'utf8');
    expect(log).toContain('EADDRINUSE');
    expect(log).toContain(`"port":${taken}`);
    // Its log goes on in the same file; the running process's lines begin after the first one's.
    expect(state.logFrom).toBeGreaterThan(0);
    expect(log.slice(0, state.logFrom)).toContain('EADDRINUSE');
    expect(fs.readFileSync(state.logFile).subarray(state.logFrom).toString('utf8')).not.toContain('EADDRINUSE');
    expect((await fetch(`http://127.0.0.1:${state.healthPort}/healthz`)).status).toBe(200);
    // The running process is the one the cluster tracks, and stop() ends it.
    expect(state.child.exitCode).toBeNull();
  });

  it("ingress whose gRPC port was taken starts again, and the cluster reports the ports it runs on", async () => {
    const taken = (holder.address() as net.AddressInfo).port;
    // Picks: NATS, the health ports of state, executor-1, consensus, scheduler and ingress, then
    // ingress's RPC port, then its gRPC port (grpc-js reports a clash in its own words).
    let picks = 0;
    const pickPort = async (): Promise<number> => (++picks === 8 ? taken : freePort());
    full = await startCluster({ dataDir: path.join(dataDir, 'full'), executors: 1, pickPort });
    const ingress = full.services.find((s) => s.name === 'ingress')!;
    const log = fs.readFileSync(ingress.logFile, 'utf8');
    expect(log).toContain('No address added');
    expect(log).toContain(`127.0.0.1:${taken}`);
    expect(full.grpcAddress).not.toBe(`127.0.0.1:${taken}`);
    const res = await fetch(full.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) });
    expect(((await res.json()) as { result: string }).result).toBe('0x7a69');
  });
});
