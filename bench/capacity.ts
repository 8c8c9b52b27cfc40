// Capacity projection: from the CPU each stage spent per committed transaction in a measured
// round, how many cores each service needs for a target rate, which stages scale out by adding
// replicas, and the ceiling that the ones that cannot set.
//
// Assumptions (printed with every projection): cost per tx stays what it was in the measured round
// (same workload and contention; no gain from bigger batches, no loss from more coordination);
// work spreads evenly over replicas of a scale-out stage; a stage that cannot scale out runs its hot
// loop on one core (one Node process); network, disk and NATS server capacity are not limits.
import type { ServiceUsage } from './resources.js';

export type Stage = 'ingress' | 'consensus' | 'scheduler' | 'executor' | 'state' | 'state-root' | 'nats' | 'other';

export const STAGE_SCALING: Record<Stage, { scalesOut: boolean; why: string }> = {
  ingress: { scalesOut: true, why: 'stateless front: decode, sender recovery, admission; add replicas behind a load balancer (sticky by sender keeps pending nonces local)' },
  executor: { scalesOut: true, why: 'stateless EVM workers; the scheduler spreads a block over them' },
  consensus: { scalesOut: false, why: 'ordering: one sequencer (or one BFT leader) orders every batch digest' },
  scheduler: { scalesOut: false, why: 'one per chain: plans, validates and assembles every block in order' },
  state: { scalesOut: false, why: 'commit: one writer applies every block write-set in order (reads could be served by replicas)' },
  'state-root': { scalesOut: true, why: 'the state writer\'s root hashing on worker threads (LANES_STATE_ROOT_THREADS): more threads on more cores of its machine' },
  nats: { scalesOut: false, why: 'each JetStream stream has one leader that stores every batch and block' },
  other: { scalesOut: true, why: 'unclassified' },
};

export function stageOf(serviceName: string): Stage {
  const base = serviceName.replace(/-\d+$/, '');
  return (['ingress', 'consensus', 'scheduler', 'executor', 'state', 'nats'] as const).find((s) => s === base) ?? 'other';
}

export interface StageProjection {
  stage: Stage;
  cpuUsPerTx: number;
  coresForTarget: number;
  scalesOut: boolean;
  /** tx/s one core of this stage sustains; the chain's ceiling if it cannot scale out. */
  ceilingTpsPerCore: number;
  why: string;
}

/**
 * Work a service reports apart in its /healthz (ms, grown over the round) that belongs to another
 * stage than the process it ran in: counted there, so a stage's ceiling is not set by work that
 * would leave it on a cluster.
 */
export const MOVED_WORK: ReadonlyArray<{ service: string; field: string; to: Stage; what: string }> = [
  {
    service: 'scheduler', field: 'chosenSerialMs', to: 'executor',
    what: 'blocks the mode chooser ran in the scheduler because parallel had been slower on this host: EVM work executors do where parallel pays',
  },
  { service: 'state', field: 'rootThreadMs', to: 'state-root', what: 'state root hashing on the state writer\'s worker threads' },
];

export interface MovedWork {
  from: Stage;
  to: Stage;
  cpuUsPerTx: number;
  what: string;
}

export interface CapacityProjection {
  targetTps: number;
  committedTxs: number;
  stages: StageProjection[];
  totalCores: number;
  /** min ceiling over stages that cannot scale out, and which stage sets it. */
  ceilingTps: number;
  ceilingStage: Stage | null;
  /** Work counted with another stage than the process that did it (MOVED_WORK). */
  moved: MovedWork[];
  assumptions: string[];
}

export const ASSUMPTIONS = [
  'per-tx CPU cost of each stage stays as measured (same workload, contention, batch sizes)',
  'scale-out stages (ingress, executor) spread work evenly over replicas',
  'ordering, scheduling, commit and the stream leader each run on one core (one Node/NATS process), so 1e6 / (their µs per tx) is a hard ceiling',
  'network, disk and coordination overheads of a bigger cluster are not modelled',
  'CPU measured on this machine; faster cores scale all numbers down',
];

export function projectCapacity(usage: readonly ServiceUsage[], committedTxs: number, targetTps: number): CapacityProjection | null {
  if (committedTxs <= 0) return null;
  const cpuByStage = new Map<Stage, number>();
  for (const u of usage) {
    if (u.cpuSeconds === undefined) continue;
    const stage = stageOf(u.name);
    cpuByStage.set(stage, (cpuByStage.get(stage) ?? 0) + u.cpuSeconds);
  }
  if (cpuByStage.size === 0) return null;
  const moved: MovedWork[] = [];
  for (const m of MOVED_WORK) {
    const from = stageOf(m.service);
    const have = cpuByStage.get(from);
    const ms = usage.find((u) => u.name === m.service)?.healthDeltas?.[m.field];
    if (have === undefined || ms === undefined || !(ms > 0)) continue;
    const seconds = Math.min(have, ms / 1000);
    cpuByStage.set(from, have - seconds);
    cpuByStage.set(m.to, (cpuByStage.get(m.to) ?? 0) + seconds);
    moved.push({ from, to: m.to, cpuUsPerTx: (seconds * 1e6) / committedTxs, what: m.what });
  }
  const stages: StageProjection[] = [...cpuByStage].map(([stage, cpuSeconds]) => {
    const cpuUsPerTx = (cpuSeconds * 1e6) / committedTxs;
    return {
      stage, cpuUsPerTx, coresForTarget: (targetTps * cpuUsPerTx) / 1e6, scalesOut: STAGE_SCALING[stage].scalesOut,
      ceilingTpsPerCore: cpuUsPerTx > 0 ? 1e6 / cpuUsPerTx : Infinity, why: STAGE_SCALING[stage].why,
    };
  }).sort((a, b) => b.cpuUsPerTx - a.cpuUsPerTx);
  let ceilingTps = Infinity;
  let ceilingStage: Stage | null = null;
  for (const s of stages) if (!s.scalesOut && s.ceilingTpsPerCore < ceilingTps) { ceilingTps = s.ceilingTpsPerCore; ceilingStage = s.stage; }
  return { targetTps, committedTxs, stages, totalCores: stages.reduce((t, s) => t + s.coresForTarget, 0), ceilingTps, ceilingStage, moved, assumptions: ASSUMPTIONS };
}
