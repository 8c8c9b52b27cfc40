// How the generated protobuf code reads `bytes` fields (scripts/protoBytes.mjs rewrites it to
// call these after `buf generate`). As ts-proto emits it, every bytes field of every decoded
// message cost three typed arrays and a copy: the default `Buffer.alloc(0)` of the message's
// base object, the reader's subarray, and `Buffer.from` of that into a new Buffer. A TxResult has
// eight such fields and an ERC-20 transfer's log five more.
//
// Now an empty field is one shared empty Buffer, and a non-empty one is still a copy, except
// inside `withViews(codec)`'s decode, where it is a view into the message's bytes. A view pins
// the whole message (a NATS read of up to 64 KB) for as long as it lives, so views are for the
// messages whose decoded fields die with the block they belong to: an ExecRequest in an executor,
// an ExecResponse in the scheduler (whose write-sets are unpacked into copies before any cache
// keeps a value: lib/exec/packedSets.ts). A message's bytes must then not change while its views
// live; NATS hands each message's data over once and never writes to it again.
//
// Counted (`bench:instructions --partition`, ERC-20 at 10,000 accounts: the executor's path for a
// partition, with the scheduler's decoding of its answer): 1,138.9k → 1,130.8k instructions per
// tx, against the baseline's 941k.
import type { BinaryReader } from '@bufbuild/protobuf/wire';
import type { Codec } from './nats.js';

/** The value of every empty bytes field: zero bytes long, so nothing can write into it. */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/** Decodes in progress that want views (withViews); decoding is synchronous, so a counter suffices. */
let viewDepth = 0;

/** The generated code's read of a bytes field: see the file comment. */
export function readBytes(reader: BinaryReader): Buffer {
  const bytes = reader.bytes();
  if (bytes.length === 0) return EMPTY_BYTES;
  if (viewDepth === 0) return Buffer.from(bytes);
  // A reader over a Buffer already hands out Buffers (subarray keeps the subclass).
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `codec` whose decode leaves non-empty bytes fields as views into the input (see the file comment). */
export function withViews<T>(codec: Codec<T>): Codec<T> {
  return {
    encode: (message, writer) => codec.encode(message, writer),
    decode: (input) => {
      viewDepth++;
      try {
        return codec.decode(input);
      } finally {
        viewDepth--;
      }
    },
  };
}
