// CPU and memory of each service. Preferred source: the service's own accounting in its /healthz
// JSON (fields cpuUserUs, cpuSystemUs, rssBytes, maxRssBytes, if the service reports them).
// Today's services do not, so for a local cluster the bench falls back to the kernel's accounting
// of the child processes (/proc/<pid>/stat utime+stime, /proc/<pid>/status VmHWM/VmRSS), and
// labels the numbers 'proc'. Remote clusters without those fields show n/a.
import fs from 'node:fs';

export interface ServiceEndpoint {
  name: string;
  /** e.g. http://127.0.0.1:4001/healthz; absent for processes without a health port (nats). */
  healthUrl?: string;
  pid?: number;
}

export interface ResourceSample {
  name: string;
  source: 'health' | 'proc' | 'n/a';
  cpuSeconds?: number;
  rssBytes?: number;
  maxRssBytes?: number;
  health?: Record<string, unknown>;
}

const CLOCK_TICKS_PER_SEC = 100; // Linux USER_HZ on every common build (getconf CLK_TCK)

/**
 * The fields of a /proc/.../stat line after the command name (which may contain spaces), or
 * undefined when the process is gone. Index i here is field i + 3 of the whole line.
 */
function statFields(file: string): string[] | undefined {
  try {
    const stat = fs.readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime (fields 14 and 15) in seconds. */
const cpuSecondsOf = (fields: string[]): number => (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;

/** utime + stime of a process in seconds, from /proc/<pid>/stat; undefined when gone. */
export function procCpuSeconds(pid: number): number | undefined {
  const fields = statFields(`/proc/${pid}/stat`);
  return fields === undefined ? undefined : cpuSecondsOf(fields);
}

/** Minor page faults of a process so far (minflt, field 10; ≈ 11 µs each on a firecracker VM); undefined when gone. */
export function procMinorFaults(pid: number): number | undefined {
  const fields = statFields(`/proc/${pid}/stat`);
  return fields === undefined ? undefined : Number(fields[7]);
}

/** The thread ids of a process (/proc/<pid>/task); undefined when it is gone. */
function threadIds(pid: number): string[] | undefined {
  try {
    return fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a process's main thread and of all its other threads (V8's compiler and GC
 * helpers, libuv's pool), from /proc/<pid>/task/<tid>/stat; undefined when gone.
 */
export function procThreadCpuSeconds(pid: number): { main: number; helpers: number } | undefined {
  const tids = threadIds(pid);
  if (tids === undefined) return undefined;
  let main = 0;
  let helpers = 0;
  for (const tid of tids) {
    const fields = statFields(`/proc/${pid}/task/${tid}/stat`);
    if (fields === undefined) continue; // a thread that ended meanwhile
    if (Number(tid) === pid) main += cpuSecondsOf(fields);
    else helpers += cpuSecondsOf(fields);
  }
  return { main, helpers };
}

/** A thread's (or threads' summed) time on a CPU and time runnable but waiting for one, and its timeslices. */
export interface SchedTimes {
  runMs: number;
  /** Time on the run queue: runnable, while other threads had the CPUs. */
  waitMs: number;
  slices: number;
}

const noTimes = (): SchedTimes => ({ runMs: 0, waitMs: 0, slices: 0 });

/**
 * Scheduler times of a process's main thread and of its other threads summed, from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds, where /proc/<pid>/stat counts 10 ms ticks);
 * undefined when gone or without schedstats.
 */
export function procSchedTimes(pid: number): { main: SchedTimes; helpers: SchedTimes } | undefined {
  const tids = threadIds(pid);
  if (tids === undefined) return undefined;
  const main = noTimes();
  const helpers = noTimes();
  for (const tid of tids) {
    let fields: number[];
    try {
      fields = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    } catch {
      continue; // a thread that ended meanwhile
    }
    if (fields.length < 3 || fields.some((f) => !Number.isFinite(f))) return undefined;
    const into = Number(tid) === pid ? main : helpers;
    into.runMs += fields[0]! / 1e6;
    into.waitMs += fields[1]! / 1e6;
    into.slices += fields[2]!;
  }
  return { main, helpers };
}

/** `after` less `before`, field by field. */
export function schedDelta(before: SchedTimes, after: SchedTimes): SchedTimes {
  return { runMs: after.runMs - before.runMs, waitMs: after.waitMs - before.waitMs, slices: after.slices - before.slices };
}

/** Seconds all CPUs of the host have spent idle (idle + iowait of /proc/stat's first line) since boot; undefined without /proc. */
export function hostIdleSeconds(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    return (Number(fields[4]) + Number(fields[5])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}

export function procMemory(pid: number): { rssBytes?: number; maxRssBytes?: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number | undefined => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return m === null ? undefined : Number(m[1]) * 1024;
    };
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return { ...(rss !== undefined ? { rssBytes: rss } : {}), ...(hwm !== undefined ? { maxRssBytes: hwm } : {}) };
  } catch {
    return {};
  }
}

async function fetchHealth(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export async function sampleResources(endpoints: readonly ServiceEndpoint[]): Promise<ResourceSample[]> {
  return Promise.all(endpoints.map(async (e): Promise<ResourceSample> => {
    const health = e.healthUrl === undefined ? undefined : await fetchHealth(e.healthUrl);
    const user = num(health?.['cpuUserUs']);
    const system = num(health?.['cpuSystemUs']);
    if (health !== undefined && user !== undefined && system !== undefined) {
      const rss = num(health['rssBytes']);
      const maxRss = num(health['maxRssBytes']);
      return { name: e.name, source: 'health', cpuSeconds: (user + system) / 1e6, ...(rss !== undefined ? { rssBytes: rss } : {}), ...(maxRss !== undefined ? { maxRssBytes: maxRss } : {}), health };
    }
    if (e.pid !== undefined) {
      const cpu = procCpuSeconds(e.pid);
      if (cpu !== undefined) return { name: e.name, source: 'proc', cpuSeconds: cpu, ...procMemory(e.pid), ...(health !== undefined ? { health } : {}) };
    }
    return { name: e.name, source: 'n/a', ...(health !== undefined ? { health } : {}) };
  }));
}

export interface ServiceUsage {
  name: string;
  source: ResourceSample['source'];
  cpuSeconds?: number;
  peakRssBytes?: number;
  /** How much each numeric field of the service's /healthz grew (counters such as the scheduler's chosenSerialMs). */
  healthDeltas?: Record<string, number>;
}

/** CPU seconds spent between two samples, and the peak RSS at the end. */
export function usageBetween(before: readonly ResourceSample[], after: readonly ResourceSample[]): ServiceUsage[] {
  return after.map((a) => {
    const b = before.find((x) => x.name === a.name);
    const cpu = a.cpuSeconds !== undefined && b?.cpuSeconds !== undefined ? Math.max(0, a.cpuSeconds - b.cpuSeconds) : undefined;
    const peak = a.maxRssBytes ?? a.rssBytes;
    const healthDeltas: Record<string, number> = {};
    for (const [field, value] of Object.entries(a.health ?? {})) {
      const was = num(b?.health?.[field]);
      if (num(value) !== undefined && was !== undefined) healthDeltas[field] = (value as number) - was;
    }
    return {
      name: a.name, source: a.source, ...(cpu !== undefined ? { cpuSeconds: cpu } : {}), ...(peak !== undefined ? { peakRssBytes: peak } : {}),
      ...(Object.keys(healthDeltas).length > 0 ? { healthDeltas } : {}),
    };
  });
}

/** Re-executions / executions and / txs from the scheduler's health counters, when it reports them. */
export function reexecutionBetween(before: readonly ResourceSample[], after: readonly ResourceSample[]): { reexecutions: number; executions: number; txs: number } | undefined {
  const b = before.find((s) => s.name === 'scheduler')?.health;
  const a = after.find((s) => s.name === 'scheduler')?.health;
  const delta = (field: string): number | undefined => {
    const x = num(a?.[field]);
    const y = num(b?.[field]);
    return x === undefined || y === undefined ? undefined : x - y;
  };
  const reexecutions = delta('reexecutions');
  const executions = delta('executions');
  const txs = delta('txs');
  if (reexecutions === undefined || txs === undefined) return undefined;
  return { reexecutions, executions: executions ?? txs, txs };
}

/** Where a thread last ran and how often it has moved between CPUs (the kernel's count). */
export interface ThreadPlacement {
  cpu: number;
  migrations: number;
}

/**
 * The CPU thread `tid` of process `pid` last ran on (/proc/…/stat field 39) and its migrations so
 * far (se.nr_migrations in /proc/…/sched, -1 where the kernel does not show it); undefined when
 * the thread is gone.
 */
export function threadPlacement(pid: number, tid: number): ThreadPlacement | undefined {
  const fields = statFields(`/proc/${pid}/task/${tid}/stat`);
  if (fields === undefined) return undefined;
  let migrations = -1;
  try {
    const line = fs.readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8').split('\n').find((l) => l.startsWith('se.nr_migrations'));
    if (line !== undefined) migrations = Number(line.slice(line.indexOf(':') + 1).trim());
  } catch {
    // no sched file: migrations unknown
  }
  return { cpu: Number(fields[36]), migrations };
}
