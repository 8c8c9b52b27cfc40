// Pinning a thread by its kernel id: the id is the thread's own, the pin holds, and putting it back
// restores the CPUs it had.
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { threadPlacement } from './resources.js';
import { currentThreadId, pinCpuOption, pinThread, setThreadCpus, threadCpus } from './threadAffinity.js';

/** A worker thread that reports its kernel id and stays alive until terminated. */
async function idleThread(): Promise<{ worker: Worker; tid: number }> {
  const worker = new Worker(
    "const fs = require('node:fs'); const { parentPort } = require('node:worker_threads'); parentPort.postMessage(Number(fs.readlinkSync('/proc/thread-self').split('/').pop())); parentPort.on('message', () => {});",
    { eval: true },
  );
  const tid = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, tid };
}

describe('thread affinity', () => {
  it('names the calling thread by its kernel id: the process id on the main thread', () => {
    expect(currentThreadId()).toBe(process.pid);
  });

  it('pins another thread to one CPU and puts its CPUs back', async () => {
    const { worker, tid } = await idleThread();
    try {
      expect(tid).not.toBe(process.pid);
      expect(fs.existsSync(`/proc/${process.pid}/task/${tid}`)).toBe(true);
      const before = threadCpus(tid);
      const restore = pinThread(tid, 0);
      expect(threadCpus(tid)).toBe('0');
      // Woken on its pinned CPU, the thread reports it there (bench:engine --verbose shows this per block).
      worker.postMessage('wake');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(threadPlacement(process.pid, tid)?.cpu).toBe(0);
      expect(threadCpus(process.pid)).toBe(before); // only that thread
      restore();
      expect(threadCpus(tid)).toBe(before);
    } finally {
      await worker.terminate();
    }
  });

  it('tells where a thread last ran and how often it moved, and nothing for a thread that is gone', () => {
    const here = threadPlacement(process.pid, currentThreadId())!;
    expect(here.cpu).toBeGreaterThanOrEqual(0);
    expect(here.cpu).toBeLessThan(os.cpus().length);
    expect(here.migrations).toBeGreaterThanOrEqual(-1);
    expect(threadPlacement(process.pid, 0x7ffffff0)).toBeUndefined();
  });

  it('refuses a CPU the machine does not have, with what taskset said', () => {
    expect(() => setThreadCpus(process.pid, '4095')).toThrow(/^taskset -c -p 4095 \d+ failed: /);
  });

  it('reads --pin-cpu as a CPU of this machine, or off', () => {
    expect(pinCpuOption('0')).toBe(0);
    expect(pinCpuOption('off')).toBeNull();
    expect(() => pinCpuOption(String(os.cpus().length))).toThrow(/^--pin-cpu must be off or a CPU from 0 to /);
    expect(() => pinCpuOption('one')).toThrow(/^--pin-cpu must be off/);
    expect(() => pinCpuOption('')).toThrow(/^--pin-cpu must be off/);
  });
});
