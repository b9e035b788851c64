import { randomFillSync } from 'node:crypto';

/** Random bytes for 256 ids, refilled from the system's CSPRNG when used up. */
const POOL_BYTES = 16 * 256;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;
/** The 36 characters of the id being built. */
const text = Buffer.allocUnsafe(36);
/** Byte value → its two lowercase hex digits, as character codes. */
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX[2 * i] = h.charCodeAt(0);
  HEX[2 * i + 1] = h.charCodeAt(1);
}

/**
 * A random (version 4) UUID in its usual lowercase 36-character form, as `crypto.randomUUID()`
 * gives, built as one flat string. `randomUUID()` joins 20 pieces into a chain of strings that is
 * flattened again when the id is hashed: about 0.7 KB allocated per id, on every message sent
 * without an id.
 */
export function newId(): string {
  if (used === POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const b = used;
  used += 16;
  pool[b + 6] = (pool[b + 6]! & 0x0f) | 0x40;
  pool[b + 8] = (pool[b + 8]! & 0x3f) | 0x80;
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[o++] = 0x2d;
    const v = pool[b + i]! * 2;
    text[o++] = HEX[v]!;
    text[o++] = HEX[v + 1]!;
  }
  return text.toString('latin1', 0, 36);
}
