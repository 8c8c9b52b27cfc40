// Small byte helpers shared across modules.

/** Byte equality of two short arrays, in JS: cheaper than Buffer#equals's native call for 20 or 32 bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
