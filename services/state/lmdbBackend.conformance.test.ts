// The backend conformance suite against the embedded lmdb store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeBackendConformance } from './backendConformance.js';
import { LmdbStateBackend } from './lmdbBackend.js';

let dir = '';
describeBackendConformance('lmdb', {
  sharedStore: false,
  create: async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'lanes-conformance-'));
    return new LmdbStateBackend({ path: dir, noSync: true });
  },
  reopen: async () => new LmdbStateBackend({ path: dir, noSync: true }),
  destroy: async () => rmSync(dir, { recursive: true, force: true }),
  stateVersions: async (backend) => (backend as LmdbStateBackend).stateVersionCount(),
});
