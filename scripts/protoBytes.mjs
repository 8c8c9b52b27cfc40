#!/usr/bin/env node
// Run by `npm run gen` after `buf generate`: makes the generated protobuf code read `bytes` fields
// through lib/bus/protoBytes.ts (one shared empty Buffer for empty fields; views instead of copies
// inside withViews). ts-proto has no option for either. Fails when the generated code no longer
// has the shape this rewrites, so a ts-proto upgrade cannot silently undo it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const helper = path.join(root, 'lib/bus/protoBytes.js');
const READ = 'Buffer.from(reader.bytes())';
const EMPTY = 'Buffer.alloc(0)';
const READER_IMPORT = 'import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";\n';

function* tsFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(p);
    else if (entry.name.endsWith('.ts')) yield p;
  }
}

let rewritten = 0;
for (const file of tsFiles(path.join(root, 'gen'))) {
  let text = fs.readFileSync(file, 'utf8');
  if (!text.includes('reader.bytes()') && !text.includes(EMPTY)) continue;
  if (text.includes('readBytes(reader)')) continue; // already rewritten
  if (!text.includes(READER_IMPORT)) throw new Error(`${file}: no "${READER_IMPORT.trim()}" line to add the import after`);
  text = text.replaceAll(READ, 'readBytes(reader)').replaceAll(EMPTY, 'EMPTY_BYTES');
  if (text.includes('reader.bytes()')) throw new Error(`${file}: a bytes read that is not "${READ}"`);
  let spec = path.relative(path.dirname(file), helper).split(path.sep).join('/');
  if (!spec.startsWith('.')) spec = `./${spec}`;
  text = text.replace(READER_IMPORT, `${READER_IMPORT}import { EMPTY_BYTES, readBytes } from "${spec}";\n`);
  fs.writeFileSync(file, text);
  rewritten++;
}
if (rewritten === 0 && ![...tsFiles(path.join(root, 'gen'))].some((f) => fs.readFileSync(f, 'utf8').includes('readBytes(reader)'))) {
  throw new Error('protoBytes: no generated file reads bytes fields; has the generator changed?');
}
