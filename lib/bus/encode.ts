// Encoding protobuf messages through one reused writer. ts-proto's `X.encode(message)` starts a
// new BinaryWriter each time, whose buffer starts at 128 bytes and doubles (a new zeroed array
// and a copy each time) until the message fits: a 730-byte TxLookup took ≈ 8 µs that way against
// ≈ 1.5 µs written into a writer already grown, and a 237 KB read response ≈ 330 µs against
// ≈ 255. The state service encodes three such small messages per committed tx (its lookup, its
// log, the tx), and every bus request and reply goes through here.
//
// `finish()` returns a copy of the bytes written and resets the writer, so what a caller gets
// shares nothing with the next encode. JavaScript runs each call to completion and ts-proto's
// encode calls no user code, so one writer per thread cannot be used by two encodes at once.
import { BinaryWriter } from '@bufbuild/protobuf/wire';

/** The part of a ts-proto message type this needs. */
export interface MessageEncoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/**
 * After a message longer than this (a large commit or read response) the writer is dropped rather
 * than kept, so the one kept between encodes holds less than twice this.
 */
export const MAX_RETAINED_BYTES = 1 << 20;

let shared = new BinaryWriter();

/** `message`'s encoding, in a Buffer of its own (a view over the writer's fresh copy, not a second copy). */
export function encodeMessage<T>(codec: MessageEncoder<T>, message: T): Buffer {
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(message, shared).finish();
  } catch (err) {
    // Halfway through a message: its bytes and forks are still in the writer.
    shared = new BinaryWriter();
    throw err;
  }
  if (bytes.length > MAX_RETAINED_BYTES) shared = new BinaryWriter();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
