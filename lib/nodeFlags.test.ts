// The services' Node flags start a real Node: a flag Node or V8 refuses stops the service at
// start (NODE_OPTIONS, for one, refuses --initial-old-space-size; the manifests pass the flags on
// the command line, test/deploy/manifests.test.ts).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS, serviceNodeFlags } from './nodeFlags.js';

describe('SERVICE_NODE_FLAGS', () => {
  it.each(Object.keys(SERVICE_NODE_FLAGS))('%s: Node starts with them on its command line', (service) => {
    const flags = serviceNodeFlags(service);
    const out = execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write(JSON.stringify({ gc: typeof globalThis.gc, flags: process.execArgv }))'], { encoding: 'utf8' });
    const seen = JSON.parse(out) as { gc: string; flags: string[] };
    expect(seen.flags.slice(0, flags.length)).toEqual(flags);
    expect(seen.gc).toBe(flags.includes('--expose-gc') ? 'function' : 'undefined');
  });
});
