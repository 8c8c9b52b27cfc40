#!/usr/bin/env node
// `npm start`: install what is missing (npm packages, nats-server), build, then start a local
// cluster and run the demo. Plain JavaScript so it runs before anything is installed or built.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`${cmd} ${args.join(' ')} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
};
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`]).status === 0;

if (!fs.existsSync(path.join(root, 'node_modules'))) run('npm', ['ci']);
if (!has('nats-server')) {
  if (process.getuid?.() === 0) {
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'nats-server']);
  } else {
    process.stderr.write('nats-server is missing: install it (sudo apt-get install -y nats-server) or set NATS_SERVER_BIN\n');
    process.exit(1);
  }
}
run('npm', ['run', '--silent', 'build']);
// The demo runs unless --no-demo; every other option goes to `lanes start`.
const args = process.argv.slice(2).filter((a) => a !== '--no-demo');
if (!process.argv.includes('--no-demo') && !args.includes('--demo')) args.push('--demo');
const r = spawnSync(process.execPath, [path.join(root, 'dist/cli/lanes.js'), 'start', ...args], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 0);
