// The backend conformance suite against the embedded lmdb store: with its default read cache,
// with a one-entry cache (every read evicts), and with none (every read from the store).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeBackendConformance } from './backendConformance.js';
import { LmdbStateBackend } from './lmdbBackend.js';

for (const [label, cacheMaxEntries] of [['lmdb', undefined], ['lmdb, one-entry read cache', 1], ['lmdb, no read cache', 0]] as const) {
  let dir = '';
  const open = (): LmdbStateBackend => new LmdbStateBackend({ path: dir, noSync: true, ...(cacheMaxEntries === undefined ? {} : { cacheMaxEntries }) });
  describeBackendConformance(label, {
    sharedStore: false,
    create: async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'lanes-conformance-'));
      return open();
    },
    reopen: async () => open(),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
    stateVersions: async (backend) => (backend as LmdbStateBackend).stateVersionCount(),
  });
}
