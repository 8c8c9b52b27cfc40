// Worker threads run compiled JavaScript. A module that starts one finds the file either beside
// itself (it runs from dist/) or, when it runs from its TypeScript source (vitest), at the same
// place under dist/, which the test command builds first.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const THIS_FILE = fileURLToPath(import.meta.url);
/** The repository: this file is lib/compiledModule.ts in it, or dist/lib/compiledModule.js. */
const REPO_ROOT = path.resolve(path.dirname(THIS_FILE), THIS_FILE.endsWith('.js') ? '../..' : '..');

/**
 * The compiled file of module `name` (without extension) in the directory of the module at
 * `moduleUrl` (its import.meta.url): the caller itself when `name` is its own.
 */
export function compiledModule(moduleUrl: string, name: string): string {
  const here = fileURLToPath(moduleUrl);
  const dir = path.dirname(here);
  if (here.endsWith('.js')) return path.join(dir, `${name}.js`);
  return path.join(REPO_ROOT, 'dist', path.relative(REPO_ROOT, dir), `${name}.js`);
}
