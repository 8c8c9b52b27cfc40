// Smoke test of the image and the dev overlay under `podman kube play`: builds the image
// (scripts/image.sh), renders deploy/overlays/dev, adapts it to what kube play runs (Deployments,
// ConfigMaps and PVCs; no Services, so NATS is reached by pod name; no published ports, pods are
// reached on their network addresses), waits for every pod's /healthz, checks JSON-RPC and a signed
// transfer, then replaces the executor Deployment with 3 replicas and checks in each new
// executor's own /metrics that it executed transactions of parallel blocks. Everything it
// created is removed afterwards, pass or fail. Skips, saying why, where podman cannot run
// containers; LANES_PODMAN_SMOKE=0 skips it on purpose.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Wallet, parseEther, type BaseWallet } from 'ethers';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ACCOUNTS } from '../../lib/chain/genesis.js';
import { renderOverlay, repoRoot, type K8sObject } from '../deploy/render.js';

const PREFIX = 'lanes-smoke';
const IMAGE = `localhost/lanes:${PREFIX}`;
const NETWORK = PREFIX;
const EXECUTORS_AFTER = 3;
const SENDERS = 80; // one tx each per round: the parallel engine splits such a block
const env = { ...process.env, CONTAINERS_CONF: process.env['CONTAINERS_CONF'] ?? path.join(repoRoot, 'containers', 'containers.conf') };

function podman(args: string[], timeoutMs = 120_000): string {
  return execFileSync('podman', args, { env, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
}

/** Why podman cannot run containers here, or null when it can. */
function podmanUnavailable(): string | null {
  if (process.env['LANES_PODMAN_SMOKE'] === '0') return 'LANES_PODMAN_SMOKE=0';
  const info = spawnSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { env, encoding: 'utf8', timeout: 30_000 });
  if (info.error !== undefined) return `podman not installed (${info.error.message}); .ci/run installs it`;
  if (info.status !== 0) return `podman info failed: ${info.stderr.trim().split('\n').pop()}`;
  // The image just built, asked for its usage (exit 2): proves a container can start at all.
  const run = spawnSync('podman', ['run', '--rm', '--network', 'none', IMAGE, '--help'], { env, encoding: 'utf8', timeout: 60_000 });
  return run.status === 2 ? null : `podman cannot run a container here: ${(run.stderr || run.stdout).trim().split('\n').pop()}`;
}

/** The dev overlay as kube play runs it. */
function smokeRendering(executors: number): K8sObject[] {
  const kept = renderOverlay('deploy/overlays/dev').filter((o) => ['ConfigMap', 'Deployment', 'PersistentVolumeClaim'].includes(o.kind));
  for (const o of kept) {
    delete o.metadata.namespace;
    if (o.kind === 'PersistentVolumeClaim') o.metadata.name = `${PREFIX}-${o.metadata.name}`;
    if (o.kind === 'ConfigMap' && o.metadata.name.startsWith('lanes-config')) {
      // No Service DNS under kube play: pods find each other by pod name (<deployment>-pod-<i>).
      o.data = { ...o.data, LANES_NATS_URL: 'nats://nats-pod-0:4222', LANES_MIN_PARALLEL_TXS: '16' };
    }
    if (o.kind !== 'Deployment') continue;
    if (o.metadata.name === 'executor') o.spec.replicas = executors;
    const pod = o.spec.template.spec;
    for (const v of pod.volumes ?? []) {
      if (v.persistentVolumeClaim !== undefined) v.persistentVolumeClaim.claimName = `${PREFIX}-${v.persistentVolumeClaim.claimName}`;
    }
    for (const c of pod.containers) {
      c.image = IMAGE;
      // kube play publishes every containerPort on the host: replicas would collide. Use pod addresses.
      const ports = new Map<string, number>((c.ports ?? []).map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
      delete c.ports;
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const get = c[probe]?.httpGet;
        if (typeof get?.port === 'string') get.port = ports.get(get.port);
      }
    }
  }
  return kept;
}

function writeYaml(objects: K8sObject[], file: string): string {
  fs.writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  return file;
}

function address(container: string): string {
  return podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`, container]).trim();
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

async function metric(url: string, name: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (last: ${last.message})` : ''}`);
}

let rpcId = 0;
async function rpc(url: string, calls: Array<{ method: string; params: unknown[] }>): Promise<unknown[]> {
  const body = calls.map((c) => ({ jsonrpc: '2.0', id: ++rpcId, ...c }));
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const out = (await res.json()) as Array<{ id: number; result?: unknown; error?: { message: string } }>;
  out.sort((a, b) => a.id - b.id);
  for (const r of out) if (r.error !== undefined) throw new Error(`rpc: ${r.error.message}`);
  return out.map((r) => r.result);
}

async function transfers(url: string, from: BaseWallet[], to: (i: number) => string, value: bigint): Promise<string[]> {
  const nonces = (await rpc(url, from.map((w) => ({ method: 'eth_getTransactionCount', params: [w.address, 'pending'] })))) as string[];
  const raw = await Promise.all(from.map((w, i) => w.signTransaction({
    type: 2, chainId: 31337n, nonce: Number(nonces[i]), to: to(i), value, gasLimit: 21_000n,
    maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
  })));
  return (await rpc(url, raw.map((tx) => ({ method: 'eth_sendRawTransaction', params: [tx] })))) as string[];
}

async function committed(url: string, hashes: string[]): Promise<void> {
  await until(`${hashes.length} receipts`, 60_000, async () => {
    const receipts = (await rpc(url, hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })))) as Array<{ status: string } | null>;
    if (receipts.some((r) => r === null)) return undefined;
    expect(receipts.every((r) => r!.status === '0x1')).toBe(true);
    return true;
  });
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-`));
let skipReason: string | null = null;
let playedFiles: string[] = [];

function teardown(): void {
  // Pods first (kube play names them <deployment>-pod-<i>), then volumes and the network.
  const pods = spawnSync('podman', ['pod', 'ps', '-q', '--filter', `label=app.kubernetes.io/part-of=lanes`], { env, encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  const byName = ['state', 'consensus', 'scheduler', 'executor', 'ingress', 'nats'].flatMap((n) => Array.from({ length: EXECUTORS_AFTER }, (_, i) => `${n}-pod-${i}`));
  spawnSync('podman', ['pod', 'rm', '-f', '-t', '3', '--ignore', ...new Set([...pods, ...byName])], { env, timeout: 120_000 });
  const volumes = spawnSync('podman', ['volume', 'ls', '-q'], { env, encoding: 'utf8' }).stdout.trim().split('\n')
    .filter((v) => v.startsWith(`${PREFIX}-`) || /^(lanes-config|nats-config)-[a-z0-9]+$/.test(v) || v === 'tmp');
  if (volumes.length > 0) spawnSync('podman', ['volume', 'rm', '-f', ...volumes], { env, timeout: 60_000 });
  spawnSync('podman', ['network', 'rm', '-f', NETWORK], { env, timeout: 60_000 });
  playedFiles = [];
}

describe('image and dev overlay under podman kube play', () => {
  beforeAll(() => {
    const build = spawnSync('bash', [path.join(repoRoot, 'scripts', 'image.sh'), IMAGE], {
      env: { ...env, LANES_IMAGE_SKIP_BUILD: '1' }, encoding: 'utf8', timeout: 240_000,
    });
    if (build.error !== undefined || build.status !== 0) {
      const why = build.error?.message ?? (build.stderr || build.stdout).trim().split('\n').pop() ?? '';
      skipReason = /podman not found|podman: command not found|ENOENT/.test(why) ? `podman not installed (${why})` : null;
      if (skipReason === null) throw new Error(`image build failed: ${why}`);
    } else {
      skipReason = podmanUnavailable();
    }
    if (skipReason !== null) {
      console.warn(`podman smoke test skipped: ${skipReason}`);
      return;
    }
    teardown(); // leftovers of an interrupted run
    podman(['network', 'create', NETWORK]);
  }, 300_000);

  afterAll(() => {
    if (skipReason === null) teardown();
    fs.rmSync(workDir, { recursive: true, force: true });
  }, 180_000);

  it('runs every service healthy, answers JSON-RPC, commits a transfer, and new executors take work', async (ctx) => {
    if (skipReason !== null) ctx.skip();
    const file = writeYaml(smokeRendering(1), path.join(workDir, 'dev.yaml'));
    playedFiles.push(file);
    podman(['kube', 'play', '--network', NETWORK, file], 180_000);

    const health = (name: string): string => `http://${address(`${name}-pod-0-${name}`)}:9090`;
    for (const name of ['state', 'consensus', 'scheduler', 'executor', 'ingress']) {
      await until(`${name} healthy`, 90_000, async () => ((await getJson(`${health(name)}/healthz`)) as { ok: boolean }).ok || undefined);
    }
    const url = `http://${address('ingress-pod-0-ingress')}:8545`;
    expect(await rpc(url, [{ method: 'eth_chainId', params: [] }])).toEqual(['0x7a69']);

    // A signed transfer commits.
    const dev = DEV_ACCOUNTS.map((a) => new Wallet(a.privateKey));
    const fresh = Array.from({ length: SENDERS }, () => Wallet.createRandom());
    const [first] = await transfers(url, [dev[0]!], () => fresh[0]!.address, parseEther('1'));
    await committed(url, [first!]);
    // Fund the other fresh senders, one tx per dev account per block.
    for (let k = 1; k < SENDERS; k += dev.length) {
      const batch = fresh.slice(k, k + dev.length);
      await committed(url, await transfers(url, dev.slice(0, batch.length), (i) => batch[i]!.address, parseEther('1')));
    }

    // Three executors instead of one: the Deployment is replayed with 3 replicas.
    // kube play cannot rescale a played Deployment in place: the old pod leaves (SIGTERM, so it
    // hands back its work as in a scale-down), and the Deployment is played with 3 replicas.
    const scaled = writeYaml(smokeRendering(EXECUTORS_AFTER).filter((o) => o.kind === 'ConfigMap' || (o.kind === 'Deployment' && o.metadata.name === 'executor')), path.join(workDir, 'executors.yaml'));
    podman(['pod', 'rm', '-f', '-t', '20', 'executor-pod-0'], 60_000);
    podman(['kube', 'play', '--network', NETWORK, scaled], 180_000);
    const executors = Array.from({ length: EXECUTORS_AFTER }, (_, i) => `executor-pod-${i}-executor`);
    for (const c of executors) await until(`${c} healthy`, 90_000, async () => ((await getJson(`http://${address(c)}:9090/healthz`)) as { ok: boolean }).ok || undefined);
    await until('scheduler sees 3 executors', 30_000, async () => (await metric(`${health('scheduler')}/metrics`, 'lanes_scheduler_executors')) >= EXECUTORS_AFTER || undefined);

    // Blocks of SENDERS independent transfers until every new executor reports executed txs.
    const executed = async (): Promise<number[]> => Promise.all(executors.map(async (c) => metric(`http://${address(c)}:9090/metrics`, 'lanes_executor_txs_total')));
    for (let round = 0; round < 5 && (await executed()).some((n) => n === 0); round++) {
      await committed(url, await transfers(url, fresh, () => Wallet.createRandom().address, 1000n));
    }
    expect((await executed()).every((n) => n > 0), `lanes_executor_txs_total per executor: ${(await executed()).join(', ')}`).toBe(true);
    expect(await metric(`${health('scheduler')}/metrics`, 'lanes_scheduler_parallel_blocks_total')).toBeGreaterThan(0);
    expect(await metric(`${health('state')}/metrics`, 'lanes_txs_committed_total')).toBeGreaterThanOrEqual(1 + SENDERS);
  }, 300_000);
});
