import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('cuts parallel blocks into a head per executor and 2 tails each, 20 % of the block, by default', () => {
    const { scheduler } = loadConfig({});
    expect([scheduler.maxPartitions, scheduler.tailsPerExecutor, scheduler.tailShare]).toEqual([16, 2, 0.2]);
    expect(loadConfig({ LANES_TAILS_PER_EXECUTOR: '0', LANES_TAIL_PERCENT: '50' }).scheduler).toMatchObject({ tailsPerExecutor: 0, tailShare: 0.5 });
  });

  it('queues one tail at an executor behind the partition it runs by default; 0 sends one request at a time', () => {
    expect(loadConfig({}).scheduler.queueAhead).toBe(1);
    expect(loadConfig({ LANES_EXEC_QUEUE_AHEAD: '0' }).scheduler.queueAhead).toBe(0);
  });

  it('refuses settings the engine cannot honour, naming the variable', () => {
    expect(() => loadConfig({ LANES_TAIL_PERCENT: '100' })).toThrow(/LANES_TAIL_PERCENT must be at most 90/);
    expect(() => loadConfig({ LANES_MAX_PARTITIONS: '65' })).toThrow(/LANES_MAX_PARTITIONS must be at most 64/);
    expect(() => loadConfig({ LANES_EXEC_QUEUE_AHEAD: '5' })).toThrow(/LANES_EXEC_QUEUE_AHEAD must be at most 4/);
    expect(() => loadConfig({ LANES_TAILS_PER_EXECUTOR: '1.5' })).toThrow(/LANES_TAILS_PER_EXECUTOR must be a non-negative integer/);
    expect(() => loadConfig({ LANES_WARMUP_TXS: '100001' })).toThrow(/LANES_WARMUP_TXS must be at most 100000/);
  });

  it('warms the JIT on 4,000 txs for at most 20 s by default; 0 turns it off', () => {
    expect(loadConfig({}).warmUp).toEqual({ txs: 4000, maxMs: 20_000 });
    expect(loadConfig({ LANES_WARMUP_TXS: '0' }).warmUp.txs).toBe(0);
  });

  it('keeps every state version only when asked, and one copy of each stream unless told more', () => {
    const defaults = loadConfig({});
    expect([defaults.state.retainBlocks, defaults.streamReplicas]).toEqual([10_000, 1]);
    const set = loadConfig({ LANES_STATE_RETAIN_BLOCKS: '0', LANES_STREAM_REPLICAS: '3' });
    expect([set.state.retainBlocks, set.streamReplicas]).toEqual([0, 3]);
    expect(() => loadConfig({ LANES_STREAM_REPLICAS: '0' })).toThrow(/LANES_STREAM_REPLICAS must be at least 1/);
    expect(() => loadConfig({ LANES_STREAM_REPLICAS: '7' })).toThrow(/LANES_STREAM_REPLICAS must be at most 5/);
  });

  it('has state readers only where they can share the writer\'s store', () => {
    expect(loadConfig({}).state.role).toBe('writer');
    expect(loadConfig({ LANES_STATE_BACKEND: 'fdb', LANES_STATE_ROLE: 'reader' }).state.role).toBe('reader');
    expect(() => loadConfig({ LANES_STATE_ROLE: 'reader' })).toThrow(/LANES_STATE_ROLE=reader needs LANES_STATE_BACKEND=fdb/);
    expect(() => loadConfig({ LANES_STATE_ROLE: 'follower' })).toThrow(/LANES_STATE_ROLE must be writer or reader/);
  });
});
