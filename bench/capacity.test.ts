import { describe, expect, it } from 'vitest';
import { projectCapacity } from './capacity.js';
import type { ServiceUsage } from './resources.js';

describe('projectCapacity', () => {
  it('counts work a service reports apart with the stage it belongs to, so it sets no ceiling where it would not run', () => {
    const usage: ServiceUsage[] = [
      { name: 'scheduler', source: 'health', cpuSeconds: 4, healthDeltas: { chosenSerialMs: 3_000, txs: 1_000 } },
      { name: 'executor-1', source: 'health', cpuSeconds: 1 },
      { name: 'state', source: 'health', cpuSeconds: 2.5, healthDeltas: { rootThreadMs: 1_000 } },
    ];
    const p = projectCapacity(usage, 1_000, 100_000)!;
    const us = (stage: string): number | undefined => p.stages.find((s) => s.stage === stage)?.cpuUsPerTx;
    expect(us('scheduler')).toBeCloseTo(1_000);
    expect(us('executor')).toBeCloseTo(4_000);
    expect(us('state')).toBeCloseTo(1_500);
    expect(us('state-root')).toBeCloseTo(1_000);
    // Without the move, the scheduler (4,000 µs/tx) would set the ceiling; now the state writer's own thread does.
    expect(p.ceilingStage).toBe('state');
    expect(p.ceilingTps).toBeCloseTo(1e6 / 1_500);
    expect(p.moved.map((m) => [m.from, m.to, Math.round(m.cpuUsPerTx)])).toEqual([['scheduler', 'executor', 3_000], ['state', 'state-root', 1_000]]);
    // A service without the fields moves nothing.
    const plain = projectCapacity(usage.map(({ healthDeltas: _, ...u }) => u), 1_000, 100_000)!;
    expect(plain.moved).toEqual([]);
    expect(plain.ceilingStage).toBe('scheduler');
  });
});
