// A FoundationDB for tests: the one FDB_CLUSTER_FILE names (.ci/run starts it), or else a
// private one-process database started from ../shared/fdb for this test file; otherwise a reason
// to skip. libfdb_c is found through LD_LIBRARY_PATH, which the dynamic loader reads at process
// start: `npm test` points it at ../shared/fdb/lib when that folder exists.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../../cli/cluster.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_FDB_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'fdb');

export interface TestFdb {
  clusterFile: string;
  /** LD_LIBRARY_PATH to give child processes. */
  libraryPath: string;
  /** Stops the database if this helper started it. */
  stop(): Promise<void>;
}

export type TestFdbOrSkip = { fdb: TestFdb; skip: null } | { fdb: null; skip: string };

/** A key prefix no other test run uses. */
export function uniquePrefix(what: string): string {
  return `lanes-test-${what}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function testFdb(): Promise<TestFdbOrSkip> {
  const envFile = process.env['FDB_CLUSTER_FILE'] ?? '';
  const startLocal = path.join(SHARED_FDB_DIR, 'start-local');
  if (envFile === '' && !fs.existsSync(startLocal)) {
    return { fdb: null, skip: `no FoundationDB: FDB_CLUSTER_FILE is unset and ${SHARED_FDB_DIR} does not exist` };
  }
  try {
    await import('foundationdb');
  } catch (err) {
    return {
      fdb: null,
      skip: `the foundationdb client cannot load libfdb_c (${err instanceof Error ? err.message : String(err)}); ` +
        `run with LD_LIBRARY_PATH=${path.join(SHARED_FDB_DIR, 'lib')} (npm test and .ci/run set it)`,
    };
  }
  const libraryPath = process.env['LD_LIBRARY_PATH'] ?? '';
  if (envFile !== '') return { fdb: { clusterFile: envFile, libraryPath, stop: async () => undefined }, skip: null };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-fdb-test-'));
  const port = await freePort();
  const { stdout } = await promisify(execFile)(startLocal, [dir, String(port)], { timeout: 90_000 });
  const clusterFile = stdout.trim().split('\n').at(-1)!;
  return {
    skip: null,
    fdb: {
      clusterFile, libraryPath,
      stop: async () => {
        const pid = Number(fs.readFileSync(path.join(dir, 'fdbserver.pid'), 'utf8'));
        try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}
