// Which CPUs a thread may run on, by its kernel thread id, through util-linux's `taskset` (Node
// has no call for it). The benchmarks that compare two serial paths run both on one CPU: on
// these 2-vCPU hosts one vCPU at times runs the same serial code 1.4-1.6× slower than the
// other, for minutes at a time (a pinned transfer run: 47 against 32 µs per tx), so two threads
// left to the kernel's placement compare the CPUs they landed on as much as their code. An
// A/A pair (the baseline against itself, two threads, alternated block by block) read 0.73-1.07×
// unpinned and 0.98-1.01× with both threads on one CPU (bench/README.md, session 30).
//
// Affinity is per thread, and a thread or process started later inherits its creator's: a caller
// that pins the thread which spawns child processes restores it before spawning them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** The kernel's id of the calling thread (the process id on the main thread). */
export function currentThreadId(): number {
  // /proc/thread-self links to <pid>/task/<tid>.
  const link = fs.readlinkSync('/proc/thread-self');
  const tid = Number(link.split('/').pop());
  if (!Number.isInteger(tid) || tid <= 0) throw new Error(`cannot read this thread's id from /proc/thread-self (${link})`);
  return tid;
}

function taskset(args: string[]): string {
  try {
    return execFileSync('taskset', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('taskset (util-linux) is not installed: it pins the compared threads to one CPU; pass --pin-cpu off to run without');
    throw new Error(`taskset ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** The CPUs thread `tid` may run on, as a list taskset reads back (e.g. "0,1"). */
export function threadCpus(tid: number): string {
  // "pid 123's current affinity list: 0,1"
  const out = taskset(['-c', '-p', String(tid)]).trim();
  const list = out.slice(out.lastIndexOf(':') + 1).trim();
  if (!/^[0-9,-]+$/.test(list)) throw new Error(`unexpected taskset output: ${out}`);
  return list;
}

/** Lets thread `tid` run on `cpus` only (a taskset list: "0", "0,1", "0-3"). */
export function setThreadCpus(tid: number, cpus: string): void {
  taskset(['-c', '-p', cpus, String(tid)]);
}

/** Pins thread `tid` to `cpu`; returns what puts its CPUs back as they were. */
export function pinThread(tid: number, cpu: number): () => void {
  const before = threadCpus(tid);
  setThreadCpus(tid, String(cpu));
  return () => setThreadCpus(tid, before);
}

/** A benchmark's --pin-cpu: a CPU of this machine, or off (null). */
export function pinCpuOption(value: string): number | null {
  if (value === 'off') return null;
  const cpu = Number(value);
  if (value.trim() === '' || !Number.isInteger(cpu) || cpu < 0 || cpu >= os.cpus().length) {
    throw new Error(`--pin-cpu must be off or a CPU from 0 to ${os.cpus().length - 1}, got ${value}`);
  }
  return cpu;
}
