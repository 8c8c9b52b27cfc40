// The services' Node flags start a real Node: a flag Node or V8 refuses stops the service at
// start (NODE_OPTIONS, for one, refuses --initial-old-space-size; the manifests pass the flags on
// the command line, test/deploy/manifests.test.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS, serviceNodeFlags } from './nodeFlags.js';

describe('SERVICE_NODE_FLAGS', () => {
  it.each(Object.keys(SERVICE_NODE_FLAGS))('%s: Node starts with them on its command line', (service) => {
    const flags = serviceNodeFlags(service);
    const script = "const newSpace = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;"
      + 'process.stdout.write(JSON.stringify({ gc: typeof globalThis.gc, flags: process.execArgv, newSpace }))';
    const out = execFileSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
    const seen = JSON.parse(out) as { gc: string; flags: string[]; newSpace: number };
    expect(seen.flags.slice(0, flags.length)).toEqual(flags);
    expect(seen.gc).toBe(flags.includes('--expose-gc') ? 'function' : 'undefined');
    // A fixed young generation is one V8 took at start, not a ceiling it grows towards.
    const min = flags.find((f) => f.startsWith('--min-semi-space-size='));
    if (min !== undefined) expect(seen.newSpace).toBeGreaterThanOrEqual(Number(min.split('=')[1]) * 2 ** 20);
    else expect(seen.newSpace).toBeLessThan(16 * 2 ** 20);
  });
});

describe('bench:engine', () => {
  it('runs its process, which plays the scheduler, with the scheduler\'s flags', () => {
    const scripts = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    const args = scripts['bench:engine']!.split('&&').at(-1)!.trim().split(/\s+/);
    expect(args[0]).toBe('node');
    for (const flag of serviceNodeFlags('scheduler')) expect(args).toContain(flag);
  });
});
