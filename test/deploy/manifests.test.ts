// Every overlay in deploy/ renders with `kubectl kustomize`, every object validates against the
// Kubernetes schemas (kubernetes-models; KEDA's for ScaledObject), and every workload meets the
// policy the issue asks for: resources, probes on /healthz, a restricted security context,
// graceful termination, disruption budgets, network policies, executor autoscaling.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from '../../lib/nodeFlags.js';
import { podTemplates, renderOverlay, repoRoot, type K8sObject } from './render.js';

const OVERLAYS = ['deploy/base', 'deploy/overlays/dev', 'deploy/overlays/prod'] as const;

/** The image's ENTRYPOINT (Containerfile): a pod that sets `command` to add Node flags must keep it. */
const IMAGE_ENTRYPOINT = ((): [string, string] => {
  const line = fs.readFileSync(path.join(repoRoot, 'Containerfile'), 'utf8').split('\n').find((l) => l.startsWith('ENTRYPOINT '));
  const parsed = JSON.parse(line?.slice('ENTRYPOINT '.length) ?? 'null') as string[] | null;
  if (parsed?.length !== 2) throw new Error(`Containerfile: expected ENTRYPOINT ["node", "script"], got ${line}`);
  return [parsed[0]!, parsed[1]!];
})();
const rendered = new Map<string, K8sObject[]>(OVERLAYS.map((dir) => [dir, renderOverlay(dir)]));
const objectsOf = (dir: string): K8sObject[] => rendered.get(dir)!;

async function modelFor(o: K8sObject): Promise<new (data: unknown) => { validate(): void }> {
  const pkg = o.apiVersion.startsWith('keda.sh/') ? '@kubernetes-models/keda' : 'kubernetes-models';
  const mod = await import(`${pkg}/${o.apiVersion}/${o.kind}`) as Record<string, new (data: unknown) => { validate(): void }>;
  return mod[o.kind]!;
}

describe.each(OVERLAYS)('%s', (dir) => {
  it('renders and every object validates against its schema', async () => {
    const objects = objectsOf(dir);
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      const Model = await modelFor(o);
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it('services start with the Node flags the local launcher gives them (lib/nodeFlags.ts), on the image entrypoint\'s command line', () => {
    const checked = new Set<string>(); // services (prod runs state twice: the writer and its readers)
    for (const { workload, pod } of podTemplates(objectsOf(dir))) {
      const containers = pod.containers as Array<{ command?: string[]; args?: string[]; env?: Array<{ name: string; value?: string }> }>;
      const c = containers.find((x) => SERVICE_NODE_FLAGS[x.args?.[0] ?? ''] !== undefined);
      if (c === undefined) continue;
      const [node, script] = IMAGE_ENTRYPOINT;
      expect(c.command, `${workload.kind}/${workload.metadata.name} command`).toEqual([node, ...SERVICE_NODE_FLAGS[c.args![0]!]!, script]);
      // NODE_OPTIONS refuses some V8 flags (--initial-old-space-size), and the process then does not start.
      expect((c.env ?? []).find((e) => e.name === 'NODE_OPTIONS'), `${workload.kind}/${workload.metadata.name} NODE_OPTIONS`).toBeUndefined();
      checked.add(c.args![0]!);
    }
    expect(checked.size).toBe(Object.keys(SERVICE_NODE_FLAGS).length);
  });

  it('every container has requests and limits, probes on the health endpoint and a restricted context', () => {
    const templates = podTemplates(objectsOf(dir));
    expect(templates.length).toBeGreaterThanOrEqual(5);
    for (const { workload, pod } of templates) {
      const where = `${workload.kind}/${workload.metadata.name}`;
      expect(pod.securityContext?.runAsNonRoot, where).toBe(true);
      expect(pod.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken, where).toBe(false);
      expect(pod.terminationGracePeriodSeconds, where).toBeGreaterThanOrEqual(30);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const at = `${where} container ${c.name}`;
        for (const kind of ['requests', 'limits']) {
          expect(c.resources?.[kind]?.cpu, `${at} ${kind}.cpu`).toBeDefined();
          expect(c.resources?.[kind]?.memory, `${at} ${kind}.memory`).toBeDefined();
        }
        expect(c.securityContext?.allowPrivilegeEscalation, at).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, at).toBe(true);
        expect(c.securityContext?.capabilities?.drop, at).toContain('ALL');
        expect(c.securityContext?.privileged ?? false, at).toBe(false);
      }
      for (const c of pod.containers) {
        for (const probe of ['readinessProbe', 'livenessProbe']) {
          expect(c[probe]?.httpGet?.path, `${where} ${c.name} ${probe}`).toMatch(/^\/healthz/);
        }
      }
    }
  });

  it('Lanes services run the one image with the service as argument and a unique instance id', () => {
    const services = ['state', 'consensus', 'scheduler', 'executor', 'ingress'];
    const byName = new Map(podTemplates(objectsOf(dir)).map((t) => [t.workload.metadata.name, t.pod]));
    const images = new Set<string>();
    for (const name of services) {
      const c = byName.get(name)?.containers[0];
      expect(c?.args, name).toEqual([name]);
      images.add(c.image);
      expect(c.env.find((e: { name: string }) => e.name === 'LANES_INSTANCE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    }
    expect(images.size).toBe(1);
  });

  it('denies traffic by default and allows the pipeline: NATS, clients to ingress, scrapes, DNS', () => {
    const policies = objectsOf(dir).filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
    expect(policies).toEqual(expect.arrayContaining(['default-deny', 'allow-dns', 'lanes-to-nats', 'nats-from-lanes', 'ingress-from-clients', 'metrics-from-prometheus']));
    const deny = objectsOf(dir).find((o) => o.metadata.name === 'default-deny')!;
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('has a disruption budget for every workload that runs more than one pod', () => {
    const objects = objectsOf(dir);
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    for (const { workload } of podTemplates(objects)) {
      const scalable = (workload.spec.replicas ?? 1) > 1 || ['executor', 'ingress'].includes(workload.metadata.name);
      if (!scalable) continue;
      const labels = workload.spec.template.metadata.labels as Record<string, string>;
      const covered = budgets.some((b) => Object.entries(b.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v));
      expect(covered, workload.metadata.name).toBe(true);
    }
  });
});

describe('schema validation', () => {
  it('catches a broken object (the validator is really in the loop)', async () => {
    const deployment = structuredClone(objectsOf('deploy/overlays/dev').find((o) => o.kind === 'Deployment')!);
    deployment.spec.replicas = 'three';
    const Model = await modelFor(deployment);
    expect(() => new Model(deployment).validate()).toThrow();
  });
});

describe('overlays', () => {
  const find = (dir: string, kind: string, name: string): K8sObject | undefined =>
    objectsOf(dir).find((o) => o.kind === kind && o.metadata.name === name);
  const config = (dir: string): Record<string, string> => objectsOf(dir).find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('lanes-config'))!.data!;

  it('dev: one replica of everything, embedded state on a volume, one NATS pod, no autoscaler', () => {
    for (const { workload } of podTemplates(objectsOf('deploy/overlays/dev'))) expect(workload.spec.replicas, workload.metadata.name).toBe(1);
    expect(config('deploy/overlays/dev')['LANES_STATE_BACKEND'] ?? 'lmdb').toBe('lmdb');
    expect(find('deploy/overlays/dev', 'PersistentVolumeClaim', 'state-data')).toBeDefined();
    expect(find('deploy/overlays/dev', 'Deployment', 'nats')).toBeDefined();
    expect(objectsOf('deploy/overlays/dev').some((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'StatefulSet')).toBe(false);
  });

  it('prod: 3-node NATS, FoundationDB state from a cluster file, ingress behind a Service, executors scaled by KEDA', () => {
    const dir = 'deploy/overlays/prod';
    const nats = find(dir, 'StatefulSet', 'nats')!;
    expect(nats.spec.replicas).toBe(3);
    expect(objectsOf(dir).find((o) => o.metadata.name.startsWith('nats-config'))!.data!['nats.conf']).toContain('routes');
    expect(config(dir)['LANES_STATE_BACKEND']).toBe('fdb');
    expect(config(dir)['FDB_CLUSTER_FILE']).toBe('/var/fdb/fdb.cluster');
    expect(config(dir)['LANES_STREAM_REPLICAS']).toBe('3'); // the streams survive one NATS server's loss
    const reader = find(dir, 'Deployment', 'state-reader')!;
    expect(reader.spec.replicas).toBe(2);
    expect(reader.spec.template.spec.containers[0].args).toEqual(['state']);
    expect(reader.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'LANES_STATE_ROLE')?.value).toBe('reader');
    // Writer and readers alike reach FoundationDB and NATS, and are scraped.
    for (const policy of ['state-to-foundationdb', 'lanes-to-nats', 'metrics-from-prometheus']) {
      const selector = find(dir, 'NetworkPolicy', policy)!.spec.podSelector.matchLabels as Record<string, string>;
      for (const name of ['state', 'state-reader']) {
        const labels = find(dir, 'Deployment', name)!.spec.template.metadata.labels as Record<string, string>;
        expect(Object.entries(selector).every(([k, v]) => labels[k] === v), `${policy} selects ${name}`).toBe(true);
      }
    }
    expect(find(dir, 'PersistentVolumeClaim', 'state-data')).toBeUndefined();
    const state = find(dir, 'Deployment', 'state')!.spec.template.spec;
    expect(state.volumes.find((v: { name: string }) => v.name === 'fdb-cluster').configMap.name).toMatch(/^fdb-cluster/);
    expect(find(dir, 'Deployment', 'consensus')!.spec.replicas).toBe(1); // one active sequencer today
    expect(find(dir, 'Service', 'ingress')!.spec.ports.map((p: { port: number }) => p.port)).toEqual([8545, 50051]);
    expect(find(dir, 'HorizontalPodAutoscaler', 'executor')).toBeUndefined();
    const scaled = find(dir, 'ScaledObject', 'executor')!;
    expect(scaled.spec.scaleTargetRef.name).toBe('executor');
    expect(scaled.spec.triggers.map((t: { type: string }) => t.type)).toEqual(['cpu', 'prometheus']);
    expect(scaled.spec.triggers[1].metadata.query).toContain('lanes_blocks_lag');
  });

  it('base: executors scale on CPU', () => {
    const hpa = find('deploy/base', 'HorizontalPodAutoscaler', 'executor')!;
    expect(hpa.spec.scaleTargetRef.name).toBe('executor');
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
  });
});

describe('Grafana dashboard', () => {
  it('only queries series the services export', () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(repoRoot, 'deploy/grafana/lanes-dashboard.json'), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const sources = ['ingress', 'consensus', 'scheduler', 'executor', 'state'].map((s) => fs.readFileSync(path.join(repoRoot, 'services', s, 'main.ts'), 'utf8')).join('\n');
    const names = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\blanes_[a-z_]+/g) ?? [])));
    expect(names.size).toBeGreaterThan(15);
    for (const name of names) expect(sources, name).toContain(`'${name.replace(/_(bucket|sum|count)$/, '')}'`);
  });
});
