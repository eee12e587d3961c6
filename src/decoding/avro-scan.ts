import { isUtf8 } from 'node:buffer';
import avro, { type Type } from 'avsc';
import { GatewayError } from '../errors';

// A bounded walk over one Avro binary datum, run before avsc decodes it. avsc trusts the
// lengths and counts it reads (`new Array(2 ** 40)` from a 10-byte body), so every length
// and block count is checked here against the bytes that remain before anything is
// allocated. Once a datum has scanned, `type.decode` over the same bytes is safe: it reads
// exactly what the scan accepted. The walk allocates nothing on the success path; each
// Type's walk is compiled once and cached.
// Spec: https://avro.apache.org/docs/1.11.1/specification/#binary-encoding

/** Records nested deeper than this are refused: recursive schemas would overflow the stack. */
export const MAX_RECORD_DEPTH = 64;
/** Array items that take no bytes (nulls, empty records) per request; bytes bound all others. */
export const MAX_FREE_VALUES = 1_000_000;

/** Counts the values that the body's size does not bound, across one request. */
export interface ValueBudget {
  values: number;
  readonly maxValues: number;
}

export function createValueBudget(maxValues = MAX_FREE_VALUES): ValueBudget {
  return { values: 0, maxValues };
}

/**
 * Walks one datum of `type` in `buf[pos, end)` and returns the offset after it; throws
 * GatewayError MALFORMED_BODY (PROTOTYPE_POISONING for a `__proto__` map key) naming the
 * byte offset and what is wrong.
 */
export function scanDatum(type: Type, buf: Buffer, pos: number, end: number, budget: ValueBudget): number {
  const walk = walkOf(type);
  const s = state;
  s.buf = buf;
  s.pos = pos;
  s.end = end;
  s.depth = 0;
  s.budget = budget;
  try {
    walk(s);
    return s.pos;
  } finally {
    s.buf = EMPTY; // do not keep the request's body alive
  }
}

/** One Avro long at `pos` (as in an Object Container File's block header), bounded like any datum's. */
export function readLongAt(buf: Buffer, pos: number, end: number, what: string): { value: number; next: number } {
  const s = state;
  s.buf = buf;
  s.pos = pos;
  s.end = end;
  try {
    const value = readLong(s, what);
    return { value, next: s.pos };
  } finally {
    s.buf = EMPTY;
  }
}

interface ScanState {
  buf: Buffer;
  pos: number;
  end: number;
  depth: number;
  budget: ValueBudget;
}

type Walk = (s: ScanState) => void;

const EMPTY = Buffer.alloc(0);
// One state for every scan: scans are synchronous and never nest, so none is allocated per datum.
const state: ScanState = { buf: EMPTY, pos: 0, end: 0, depth: 0, budget: createValueBudget() };

function fail(at: number, message: string): GatewayError {
  return new GatewayError('MALFORMED_BODY', `byte ${at}: ${message}`);
}

// --- varints ---

function readLong(s: ScanState, what: string): number {
  const pos = s.pos;
  if (pos < s.end) {
    const b = s.buf[pos];
    if (b < 0x80) {
      s.pos = pos + 1;
      return (b >>> 1) ^ -(b & 1);
    }
  }
  return readLongSlow(s, what);
}

// Zigzag varint of at most 10 bytes. The low 28 bits use integer arithmetic, the rest floats,
// exact while the value fits in 53 bits. The limits are avsc's: beyond |n| = 2^53 - 2 it
// throws "potential precision loss", and below -2^52 it returns the wrong sign (its float
// sum loses the zigzag sign bit), so those are refused here rather than misread.
function readLongSlow(s: ScanState, what: string): number {
  const { buf, end } = s;
  const at = s.pos;
  let pos = at;
  let lo = 0;
  let shift = 0;
  let b = 0;
  do {
    if (pos >= end) throw fail(at, `${what}: the varint runs past the end of the data`);
    b = buf[pos++];
    lo |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80 && shift < 28);
  if (!(b & 0x80)) {
    s.pos = pos;
    return (lo >>> 1) ^ -(lo & 1);
  }
  let hi = 0; // bits 28 and up
  let scale = 1;
  let length = 4;
  do {
    if (length === 10) throw fail(at, `${what}: the varint is longer than 10 bytes`);
    if (pos >= end) throw fail(at, `${what}: the varint runs past the end of the data`);
    b = buf[pos++];
    hi += (b & 0x7f) * scale;
    scale *= 128;
    length++;
  } while (b & 0x80);
  // The unsigned varint is lo + hi * 2^28; half of it is exact even where the whole is not.
  const half = (lo >>> 1) + hi * 2 ** 27;
  const value = lo & 1 ? -half - 1 : half;
  if (hi > 0x3ffffff || (hi === 0x3ffffff && lo > 0xffffffc)) {
    throw fail(at, `${what} ${value} is outside the safe integer range (±2^53), which the gateway's numbers cannot hold`);
  }
  if (lo & 1 && hi >= 2 ** 25) throw fail(at, `${what} ${value} is below -2^52, which the Avro decoder would read with the wrong sign`);
  s.pos = pos;
  return value;
}

// --- walks of each type ---

const walkNull: Walk = () => {};

const walkBoolean: Walk = (s) => {
  if (s.pos >= s.end) throw fail(s.pos, 'boolean: past the end of the data');
  const b = s.buf[s.pos];
  if (b > 1) throw fail(s.pos, `boolean byte ${b} is neither 0 nor 1`);
  s.pos++;
};

const walkInt: Walk = (s) => {
  const at = s.pos;
  const n = readLong(s, 'int');
  if (n > 0x7fffffff || n < -0x80000000) throw fail(at, `int ${n} is outside the 32-bit range`);
};

const walkLong: Walk = (s) => {
  readLong(s, 'long');
};

// A float or double with every exponent bit set is NaN or ±Infinity, which JSON cannot carry.
const walkFloat: Walk = (s) => {
  const at = s.pos;
  if (s.end - at < 4) throw fail(at, `float needs 4 bytes, ${s.end - at} left`);
  const buf = s.buf;
  if ((buf[at + 3] & 0x7f) === 0x7f && buf[at + 2] & 0x80) throw fail(at, 'float is NaN or Infinity, which JSON cannot carry');
  s.pos = at + 4;
};

const walkDouble: Walk = (s) => {
  const at = s.pos;
  if (s.end - at < 8) throw fail(at, `double needs 8 bytes, ${s.end - at} left`);
  const buf = s.buf;
  if ((buf[at + 7] & 0x7f) === 0x7f && (buf[at + 6] & 0xf0) === 0xf0) throw fail(at, 'double is NaN or Infinity, which JSON cannot carry');
  s.pos = at + 8;
};

/** Reads a string, bytes or map key length and checks it against the bytes left. */
function readLength(s: ScanState, what: string): number {
  const at = s.pos;
  const len = readLong(s, what);
  if (len < 0) throw fail(at, `${what} ${len} is negative`);
  if (len > s.end - s.pos) throw fail(at, `${what} ${len} exceeds the ${s.end - s.pos} bytes left`);
  return len;
}

const walkBytes: Walk = (s) => {
  const len = readLength(s, 'bytes length'); // read first: `s.pos += f()` would add to the old s.pos
  s.pos += len;
};

// Most strings (ids, names) are short ASCII: a JS loop is cheaper than the native check
// (about 100 ns a call) up to about this length.
const NATIVE_UTF8_FROM = 128;

function checkUtf8(s: ScanState, start: number, stop: number, what: string): void {
  const buf = s.buf;
  let i = start;
  if (stop - start < NATIVE_UTF8_FROM) while (i < stop && buf[i] < 0x80) i++;
  if (i < stop && !isUtf8(buf.subarray(i, stop))) throw fail(start, `${what} is not valid UTF-8`);
}

const walkString: Walk = (s) => {
  const len = readLength(s, 'string length');
  const start = s.pos;
  checkUtf8(s, start, start + len, 'string');
  s.pos = start + len;
};

// avsc builds maps with `obj[key] = value`: a `__proto__` key would set the map's prototype.
// `constructor` is refused too, as in every other body the gateway reads.
const FORBIDDEN_KEYS = [Buffer.from('__proto__'), Buffer.from('constructor')];

function walkMapKey(s: ScanState): void {
  const at = s.pos;
  const len = readLength(s, 'map key length');
  const start = s.pos;
  for (const word of FORBIDDEN_KEYS) {
    if (len === word.length && isWord(s.buf, start, word)) {
      throw new GatewayError('PROTOTYPE_POISONING', `byte ${at}: map key "${word}" is not allowed`);
    }
  }
  checkUtf8(s, start, start + len, 'map key');
  s.pos = start + len;
}

function isWord(buf: Buffer, start: number, word: Buffer): boolean {
  for (let i = 0; i < word.length; i++) if (buf[start + i] !== word[i]) return false;
  return true;
}

function fixedWalk(size: number): Walk {
  return (s) => {
    if (size > s.end - s.pos) throw fail(s.pos, `fixed of ${size} bytes exceeds the ${s.end - s.pos} bytes left`);
    s.pos += size;
  };
}

function enumWalk(name: string, count: number): Walk {
  const what = `enum ${name} index`;
  return (s) => {
    const at = s.pos;
    const index = readLong(s, what);
    if (index < 0 || index >= count) throw fail(at, `${what} ${index} is outside 0..${count - 1}`);
  };
}

function unionWalk(branches: Type[]): Walk {
  const branchWalks = branches.map(walkOf);
  return (s) => {
    const at = s.pos;
    const index = readLong(s, 'union branch');
    if (index < 0 || index >= branchWalks.length) throw fail(at, `union branch ${index} is outside 0..${branchWalks.length - 1}`);
    branchWalks[index](s);
  };
}

function recordWalk(type: Type): Walk {
  const fields: Walk[] = [];
  const walk: Walk = (s) => {
    if (++s.depth > MAX_RECORD_DEPTH) throw fail(s.pos, `records nested deeper than ${MAX_RECORD_DEPTH}`);
    for (let i = 0; i < fields.length; i++) fields[i](s);
    s.depth--;
  };
  // Registered before its fields compile, so a field that refers back to this record finds it.
  walks.set(type, walk);
  for (const field of (type as avro.types.RecordType).fields) fields.push(walkOf(field.type));
  return walk;
}

/**
 * Arrays and maps come in blocks: a count, then that many items; a negative count is
 * followed by the block's byte size. A count is refused when its items cannot fit in the
 * bytes left; items that can take no bytes are charged to the request's value budget.
 */
function blocksWalk(kind: 'array' | 'map', itemType: Type): Walk {
  const isMap = kind === 'map';
  // The least bytes one item takes; 0 for nulls and empty records.
  const minItem = (isMap ? 1 : 0) + minEncodedSize(itemType, new Set());
  const countWhat = `${kind} block count`;
  const sizeWhat = `${kind} block size`;
  // A recursive item type loops back through a record, which registers itself before compiling.
  const walkItem = walkOf(itemType);
  return (s) => {
    for (;;) {
      const at = s.pos;
      let n = readLong(s, countWhat);
      if (n === 0) return;
      let sizeAt = -1;
      let size = 0;
      if (n < 0) {
        n = -n;
        sizeAt = s.pos;
        size = readLong(s, sizeWhat);
        if (size < 0) throw fail(sizeAt, `${kind} block size ${size} is negative`);
        if (size > s.end - s.pos) throw fail(sizeAt, `${kind} block size ${size} exceeds the ${s.end - s.pos} bytes left`);
      }
      const left = s.end - s.pos;
      if (minItem === 0) {
        const budget = s.budget;
        if ((budget.values += n) > budget.maxValues) {
          throw fail(at, `${kind} block of ${n} items that take no bytes passes the limit of ${budget.maxValues} such values per request`);
        }
      } else if (n * minItem > left) {
        throw fail(at, `${kind} block count ${n} exceeds the ${left} bytes left (an item takes at least ${minItem})`);
      }
      const start = s.pos;
      for (let i = 0; i < n; i++) {
        if (isMap) walkMapKey(s);
        walkItem(s);
      }
      // avsc skips such a block by its size (reading through a resolver): it must be exact.
      if (sizeAt !== -1 && s.pos - start !== size) {
        throw fail(sizeAt, `${kind} block size ${size} does not match its items, which take ${s.pos - start} bytes`);
      }
    }
  };
}

/** The fewest bytes a value of `type` can take; a lower bound, 0 where a record loops back to itself. */
function minEncodedSize(type: Type, visiting: Set<Type>): number {
  if (avro.Type.isType(type, 'logical')) return minEncodedSize((type as avro.types.LogicalType).underlyingType, visiting);
  switch (type.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return (type as avro.types.FixedType).size;
    case 'record':
    case 'error': {
      if (visiting.has(type)) return 0;
      visiting.add(type);
      let sum = 0;
      for (const field of (type as avro.types.RecordType).fields) sum += minEncodedSize(field.type, visiting);
      visiting.delete(type);
      return sum;
    }
    default:
      if (avro.Type.isType(type, 'union')) {
        return 1 + Math.min(...(type as avro.types.UnwrappedUnionType).types.map((t) => minEncodedSize(t, visiting)));
      }
      // boolean, int, long, string, bytes, enum, array and map take at least one byte.
      return 1;
  }
}

const walks = new WeakMap<Type, Walk>();

function walkOf(type: Type): Walk {
  let walk = walks.get(type);
  if (!walk) {
    walk = compile(type);
    walks.set(type, walk);
  }
  return walk;
}

function compile(type: Type): Walk {
  if (avro.Type.isType(type, 'logical')) return walkOf((type as avro.types.LogicalType).underlyingType);
  if (avro.Type.isType(type, 'union')) return unionWalk((type as avro.types.UnwrappedUnionType).types);
  switch (type.typeName) {
    case 'null':
      return walkNull;
    case 'boolean':
      return walkBoolean;
    case 'int':
      return walkInt;
    case 'long':
      return walkLong;
    case 'float':
      return walkFloat;
    case 'double':
      return walkDouble;
    case 'bytes':
      return walkBytes;
    case 'string':
      return walkString;
    case 'fixed':
      return fixedWalk((type as avro.types.FixedType).size);
    case 'enum':
      return enumWalk(type.name ?? '', (type as avro.types.EnumType).symbols.length);
    case 'array':
      return blocksWalk('array', (type as avro.types.ArrayType).itemsType);
    case 'map':
      return blocksWalk('map', (type as avro.types.MapType).valuesType);
    case 'record':
    case 'error':
      return recordWalk(type);
    default:
      throw new Error(`cannot scan Avro type ${type.typeName}`);
  }
}
