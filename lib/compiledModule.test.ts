// The compiled file of a module found from its TypeScript source and from its compiled copy alike.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compiledModule } from './compiledModule.js';

describe('compiledModule', () => {
  it('maps a module run from its TypeScript source to its copy under dist/, and a compiled one to its sibling', () => {
    const fromSource = compiledModule(pathToFileURL(path.resolve('lib/state/rootHashers.ts')).href, 'rootWorker');
    expect(fromSource).toBe(path.resolve('dist/lib/state/rootWorker.js'));
    expect(fs.existsSync(fromSource)).toBe(true);
    expect(compiledModule(pathToFileURL(path.resolve('dist/bench/engine/serialPair.js')).href, 'serialPair')).toBe(path.resolve('dist/bench/engine/serialPair.js'));
  });
});
