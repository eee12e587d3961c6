import { randomFillSync } from 'node:crypto';

// UUIDv7 (RFC 9562 §5.7): 48 bits of Unix ms, version 7, 74 random bits. Made here rather
// than with the uuid package because that one refills a 256-byte random pool every 16 ids —
// a getrandom call per 16 events, an eighth of the pipeline's time in a profile. This pool
// holds 1,024 ids' worth.

const POOL_IDS = 1024;
const pool = Buffer.allocUnsafe(POOL_IDS * 10);
let poolOffset = pool.length;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The millisecond of the last id and its counter: ids made in one process sort by creation. */
let lastMs = -1;
let sequence = 0;
/**
 * A clock this far behind the last id's millisecond (the counter ran ahead of it, or NTP
 * stepped it back a little) is taken as the last id's; further back, as it is (an explicit
 * time, e.g. in tests).
 */
const MAX_CLOCK_LAG_MS = 10_000;

export function uuidv7(now = Date.now()): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const r = poolOffset;
  poolOffset += 10;
  // 12 bits after the version hold a per-millisecond counter (RFC 9562 §6.2, method 1),
  // started at a random value below 2,048, so ids stay monotonic within a millisecond. When it
  // runs out, the id borrows the next millisecond (§6.2: the timestamp may run ahead).
  if (now <= lastMs && lastMs - now < MAX_CLOCK_LAG_MS) {
    if (sequence < 0xfff) {
      sequence++;
    } else {
      lastMs++;
      sequence = ((pool[r] & 0x07) << 8) | pool[r + 1];
    }
    now = lastMs;
  } else {
    lastMs = now;
    sequence = ((pool[r] & 0x07) << 8) | pool[r + 1];
  }
  const high = Math.floor(now / 0x10000);
  const low = now % 0x10000;
  return (
    HEX[(high >>> 24) & 0xff] +
    HEX[(high >>> 16) & 0xff] +
    HEX[(high >>> 8) & 0xff] +
    HEX[high & 0xff] +
    '-' +
    HEX[low >>> 8] +
    HEX[low & 0xff] +
    '-' +
    HEX[0x70 | (sequence >>> 8)] +
    HEX[sequence & 0xff] +
    '-' +
    HEX[0x80 | (pool[r + 2] & 0x3f)] +
    HEX[pool[r + 3]] +
    '-' +
    HEX[pool[r + 4]] +
    HEX[pool[r + 5]] +
    HEX[pool[r + 6]] +
    HEX[pool[r + 7]] +
    HEX[pool[r + 8]] +
    HEX[pool[r + 9]]
  );
}
