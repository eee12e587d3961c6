import { join } from 'node:path';
import avro from 'avsc';
import t from 'tap';
import { decodeAvroDatums } from '../../src/decoding/avro-datums';
import { createValueBudget, MAX_RECORD_DEPTH, scanDatum } from '../../src/decoding/avro-scan';
import { GatewayError } from '../../src/errors';
import { loadTopicsTree, type TopicVersion } from '../../src/topics/registry';
import { cat, double, long, plain, str } from './avro-bytes';

const TOPICS_DIR = join(__dirname, '..', '..', '..', 'topics');
const { topics } = loadTopicsTree(TOPICS_DIR);
const orderPlaced = topics.find((topic) => topic.name === 'order-placed')!.versions.get(1)!;

const orders = [
  { orderId: 'o-1', customerId: 'c-1', placedAt: 1_700_000_000_000, totalCents: 4200, currency: 'EUR', couponCode: null, items: [{ sku: 'A', quantity: 2, unitPriceCents: 2100 }] },
  { orderId: 'o-2 — ünïcødé 🛒', customerId: 'c-2', placedAt: -1, totalCents: 2 ** 53 - 2, currency: 'GBP', couponCode: 'SAVE10', items: [] },
  { orderId: 'o-3', customerId: '', placedAt: 0, totalCents: -(2 ** 52), currency: 'USD', couponCode: '', items: Array.from({ length: 50 }, (_, i) => ({ sku: `s${i}`, quantity: -i, unitPriceCents: i * 1e9 })) },
];

/** orderId, customerId, placedAt, totalCents, currency EUR, couponCode null: all an order needs before its items. */
const orderHead = cat(str('o'), str('c'), long(1), long(2), long(0), long(0));

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

const decode = (body: Buffer, version: TopicVersion = orderPlaced, maxEvents = 10_000) => decodeAvroDatums(body, version, { maxEvents });
const refuse = (body: Buffer, version?: TopicVersion, maxEvents?: number) => refusal(() => decode(body, version, maxEvents));

/** A TopicVersion stand-in for an inline schema: the datum decoder only reads `type` and `version`. */
function versionOf(schema: unknown, opts?: Partial<avro.ForSchemaOptions>): TopicVersion {
  return { version: 1, type: avro.Type.forSchema(schema as avro.Schema, opts) } as TopicVersion;
}

t.test('valid datums of order-placed v1 decode equal to what was written', async (t) => {
  const body = cat(...orders.map((o) => orderPlaced.type.toBuffer(o)));
  t.same(plain(decode(body)), orders);
});

t.test('the scan ends where avsc ends, for random values of every type', async (t) => {
  const rich = avro.Type.forSchema({
    type: 'record',
    name: 'Rich',
    fields: [
      { name: 'b', type: 'boolean' },
      { name: 'i', type: 'int' },
      { name: 'l', type: 'long' },
      { name: 'f', type: 'float' },
      { name: 'd', type: 'double' },
      { name: 'bytes', type: 'bytes' },
      { name: 's', type: 'string' },
      { name: 'fx', type: { type: 'fixed', name: 'F', size: 3 } },
      { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] } },
      { name: 'm', type: { type: 'map', values: { type: 'array', items: ['null', 'int', 'string'] } } },
      { name: 'nested', type: { type: 'array', items: { type: 'record', name: 'N', fields: [{ name: 'n', type: 'null' }, { name: 'x', type: ['null', 'F'] }] } } },
    ],
  });
  for (const type of [rich, orderPlaced.type]) {
    for (let i = 0; i < 300; i++) {
      const buf = type.toBuffer(type.random());
      t.equal(scanDatum(type, buf, 0, buf.length, createValueBudget()), buf.length);
    }
  }
});

t.test('mangled datums are refused as malformed, never with another error', async (t) => {
  const valid = cat(...orders.map((o) => orderPlaced.type.toBuffer(o)));
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 3000; i++) {
    const body = Buffer.from(valid.subarray(0, 1 + Math.floor(random() * valid.length)));
    for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
    try {
      decode(body);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      if (err.code !== 'MALFORMED_BODY') t.fail(`unexpected ${err.code}: ${err.message}`);
    }
  }
});

t.test('array block counts are checked against the bytes left before anything is allocated', async (t) => {
  const huge = refuse(cat(orderHead, long(2n ** 62n), str('sku')));
  t.equal(huge.code, 'MALFORMED_BODY');
  t.match(huge.message, /^Avro datum 0 at byte 0: cannot decode with v1 \(byte 8: array block count 4611686018427\d+ is outside the safe integer range/);

  const big = refuse(cat(orderHead, long(2n ** 50n), str('sku'), long(1), long(1)));
  t.equal(big.code, 'MALFORMED_BODY');
  t.match(big.message, /byte 8: array block count 1125899906842624 exceeds the 6 bytes left \(an item takes at least 3\)/);
});

t.test('items that take no bytes are bounded by the value budget', async (t) => {
  const nulls = versionOf({ type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'array', items: 'null' } }] });
  const empties = versionOf({ type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'array', items: { type: 'record', name: 'E', fields: [] } } }] });
  for (const version of [nulls, empties]) {
    const huge = refuse(cat(long(2n ** 62n), long(0)), version);
    t.equal(huge.code, 'MALFORMED_BODY');
    t.match(huge.message, /array block count \d+ is outside the safe integer range/);
    const many = refuse(cat(long(2n ** 52n), long(0)), version);
    t.equal(many.code, 'MALFORMED_BODY');
    t.match(many.message, /byte 0: array block of 4503599627370496 items that take no bytes passes the limit of 1000000 such values per request/);
  }
  // The budget spans the request: 10 such items pass, the 11th does not.
  const budget = createValueBudget(10);
  const ten = cat(long(10), long(0));
  t.equal(scanDatum(nulls.type, ten, 0, ten.length, budget), 2);
  t.match(refusal(() => scanDatum(nulls.type, cat(long(1), long(0)), 0, 2, budget)).message, /limit of 10 such values/);
  t.same(decode(cat(long(3), long(0)), nulls), [{ a: [null, null, null] }]);
});

t.test('string and bytes lengths are checked against the bytes left', async (t) => {
  const err = refuse(cat(long(2n ** 40n), Buffer.from('abc')));
  t.equal(err.code, 'MALFORMED_BODY');
  t.match(err.message, /byte 0: string length 1099511627776 exceeds the 3 bytes left/);
  t.match(refuse(cat(long(-5), Buffer.from('abc'))).message, /byte 0: string length -5 is negative/);
  const bytes = versionOf({ type: 'record', name: 'R', fields: [{ name: 'b', type: 'bytes' }] });
  t.match(refuse(long(2n ** 40n), bytes).message, /bytes length 1099511627776 exceeds the 0 bytes left/);
  const fixed = versionOf({ type: 'record', name: 'R', fields: [{ name: 'f', type: { type: 'fixed', name: 'F', size: 16 } }] });
  t.match(refuse(Buffer.alloc(15), fixed).message, /byte 0: fixed of 16 bytes exceeds the 15 bytes left/);
});

t.test('a negative block count must give a byte size that fits and matches its items', async (t) => {
  const huge = refuse(cat(orderHead, long(-1), long(2n ** 40n), str('sku'), long(1), long(1), long(0)));
  t.equal(huge.code, 'MALFORMED_BODY');
  t.match(huge.message, /byte 9: array block size 1099511627776 exceeds the 7 bytes left/);

  const item = cat(str('sku'), long(1), long(1));
  t.match(refuse(cat(orderHead, long(-1), long(item.length + 1), item, long(0), long(0))).message, /array block size 7 does not match its items, which take 6 bytes/);
  // A well-formed negative block reads as any other.
  t.match(decode(cat(orderHead, long(-1), long(item.length), item, long(0)))[0], { orderId: 'o', items: [{ sku: 'sku', quantity: 1, unitPriceCents: 1 }] });
});

t.test('union branches and enum indexes must be in range', async (t) => {
  const union = refuse(cat(str('o'), str('c'), long(1), long(2), long(0), long(5), long(0)));
  t.equal(union.code, 'MALFORMED_BODY');
  t.match(union.message, /byte 7: union branch 5 is outside 0\.\.1/);
  t.match(refuse(cat(str('o'), str('c'), long(1), long(2), long(0), long(-1), long(0))).message, /union branch -1 is outside 0\.\.1/);
  const en = refuse(cat(str('o'), str('c'), long(1), long(2), long(3), long(0), long(0)));
  t.equal(en.code, 'MALFORMED_BODY');
  t.match(en.message, /byte 6: enum shop\.Currency index 3 is outside 0\.\.2/);
});

t.test('varints: at most 10 bytes, within the safe integer range; ints within 32 bits', async (t) => {
  const eleven = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  const long11 = refuse(cat(str('o'), str('c'), long(1), eleven, long(0), long(0), long(0)));
  t.equal(long11.code, 'MALFORMED_BODY');
  t.match(long11.message, /byte 5: long: the varint is longer than 10 bytes/);
  t.match(refuse(cat(str('o'), str('c'), long(2n ** 53n), long(2), long(0), long(0), long(0))).message, /byte 4: long 9007199254740992 is outside the safe integer range/);
  t.match(refuse(cat(str('o'), str('c'), long(1), Buffer.from([0x80, 0x80]))).message, /long: the varint runs past the end of the data/);
  t.match(refuse(cat(orderHead, long(1), str('s'), long(2n ** 31n), long(1), long(0))).message, /int 2147483648 is outside the 32-bit range/);
  // avsc reads longs below -2^52 with the wrong sign: refused rather than misread.
  t.match(refuse(cat(str('o'), str('c'), long(-(2n ** 52n) - 1n))).message, /byte 4: long -4503599627370497 is below -2\^52, which the Avro decoder would read with the wrong sign/);
  // The widest longs avsc reads exactly still pass.
  const widest = cat(str('o'), str('c'), long(2n ** 53n - 2n), long(-(2n ** 52n)), long(0), long(0), long(0));
  t.match(decode(widest), [{ placedAt: 2 ** 53 - 2, totalCents: -(2 ** 52) }]);
});

t.test('a long the scan accepts is one avsc reads exactly', async (t) => {
  const type = avro.Type.forSchema('long');
  let seed = 7n;
  const random64 = () => ((seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n) - 2n ** 63n) >> BigInt(Number(seed % 64n));
  const edges = [0n, -1n, 2n ** 52n, -(2n ** 52n), -(2n ** 52n) - 1n, 2n ** 53n - 2n, 2n ** 53n - 1n, -(2n ** 53n) + 2n, 2n ** 63n - 1n, -(2n ** 63n)];
  let accepted = 0;
  for (const v of [...edges, ...Array.from({ length: 5000 }, random64)]) {
    const buf = long(v);
    let end: number;
    try {
      end = scanDatum(type, buf, 0, buf.length, createValueBudget());
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      continue;
    }
    accepted++;
    if (end !== buf.length || type.fromBuffer(buf) !== Number(v)) t.fail(`${v} scanned but avsc reads ${type.fromBuffer(buf)}`);
  }
  t.ok(accepted > 1000, `${accepted} of the sample were in range`);
});

t.test('NaN and Infinity are refused: JSON destinations cannot carry them', async (t) => {
  const version = versionOf({ type: 'record', name: 'R', fields: [{ name: 'd', type: 'double' }, { name: 'f', type: 'float' }] });
  const float = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return b;
  };
  for (const bad of [NaN, Infinity, -Infinity]) {
    const err = refuse(cat(double(bad), float(1)), version);
    t.equal(err.code, 'MALFORMED_BODY');
    t.match(err.message, /byte 0: double is NaN or Infinity, which JSON cannot carry/);
    t.match(refuse(cat(double(1), float(bad)), version).message, /byte 8: float is NaN or Infinity/);
  }
  t.same(decode(cat(double(-1.5e308), float(0.25)), version), [{ d: -1.5e308, f: 0.25 }]);
});

t.test('strings and map keys must be valid UTF-8', async (t) => {
  for (const bad of [Buffer.from([0x61, 0xff]), Buffer.from([0xed, 0xa0, 0x80]) /* a lone surrogate */, Buffer.from([0xe2, 0x82])]) {
    const err = refuse(cat(str(bad), str('c'), long(1), long(2), long(0), long(0), long(0)));
    t.equal(err.code, 'MALFORMED_BODY');
    t.match(err.message, /byte 1: string is not valid UTF-8/);
  }
  const map = versionOf({ type: 'record', name: 'R', fields: [{ name: 'm', type: { type: 'map', values: 'int' } }] });
  t.match(refuse(cat(long(1), str(Buffer.from([0xc0, 0x80])), long(1), long(0)), map).message, /map key is not valid UTF-8/);
});

t.test('map counts are bounded and __proto__ / constructor keys refused', async (t) => {
  const map = versionOf({ type: 'record', name: 'R', fields: [{ name: 'm', type: { type: 'map', values: 'null' } }] });
  const huge = refuse(cat(long(2n ** 40n), str('k'), long(0)), map);
  t.equal(huge.code, 'MALFORMED_BODY');
  t.match(huge.message, /byte 0: map block count 1099511627776 exceeds the 3 bytes left \(an item takes at least 1\)/);
  for (const key of ['__proto__', 'constructor']) {
    const err = refuse(cat(long(1), str(key), long(0)), map);
    t.equal(err.code, 'PROTOTYPE_POISONING');
    t.match(err.message, new RegExp(`map key "${key}" is not allowed`));
  }
  t.same(decode(cat(long(2), str('a'), str('proto'), long(0)), map), [{ m: { a: null, proto: null } }]);
});

t.test('a recursive schema is bounded by nesting depth', async (t) => {
  const list = versionOf({ type: 'record', name: 'Node', fields: [{ name: 'v', type: 'int' }, { name: 'next', type: ['null', 'Node'] }] });
  const nested = (depth: number): Buffer => cat(...Array.from({ length: depth - 1 }, () => cat(long(7), long(1))), long(7), long(0));
  const deep = refuse(nested(100_000), list);
  t.equal(deep.code, 'MALFORMED_BODY');
  t.match(deep.message, new RegExp(`records nested deeper than ${MAX_RECORD_DEPTH}`));
  let value = decode(nested(MAX_RECORD_DEPTH), list)[0] as { next: unknown };
  let depth = 1;
  while ((value = value.next as { next: unknown })) depth++;
  t.equal(depth, MAX_RECORD_DEPTH);
  // Through an array, too.
  const tree = versionOf({ type: 'record', name: 'Tree', fields: [{ name: 'kids', type: { type: 'array', items: 'Tree' } }] });
  const treeBody = cat(...Array.from({ length: 1000 }, () => long(1)), long(0), ...Array.from({ length: 1000 }, () => long(0)));
  t.match(refuse(treeBody, tree).message, /records nested deeper than 64/);
});

t.test('booleans are 0 or 1; a cut datum is malformed', async (t) => {
  const version = versionOf({ type: 'record', name: 'R', fields: [{ name: 'b', type: 'boolean' }] });
  t.match(refuse(Buffer.from([2]), version).message, /byte 0: boolean byte 2 is neither 0 nor 1/);
  const cut = orderPlaced.type.toBuffer(orders[0]).subarray(0, 20);
  const err = refuse(cut);
  t.equal(err.code, 'MALFORMED_BODY');
  t.match(err.message, /^Avro datum 0 at byte 0: cannot decode with v1 \(byte \d+: .*(past the end|bytes left)/);
});

t.test('logical types are walked as their underlying type', async (t) => {
  class Instant extends avro.types.LogicalType {
    _fromValue(v: number) {
      return new Date(v);
    }
    _toValue(d: Date) {
      return d.getTime();
    }
  }
  const version = versionOf(
    { type: 'record', name: 'R', fields: [{ name: 'at', type: { type: 'long', logicalType: 'instant' } }] },
    { logicalTypes: { instant: Instant } },
  );
  t.same(decode(long(1_700_000_000_000), version), [{ at: new Date(1_700_000_000_000) }]);
  t.match(refuse(long(2n ** 60n), version).message, /long \d+ is outside the safe integer range/);
});

t.test('more datums than maxEvents: refused before the rest is read', async (t) => {
  const two = cat(...orders.slice(0, 2).map((o) => orderPlaced.type.toBuffer(o)));
  t.equal(decode(two, orderPlaced, 2).length, 2);
  const err = refuse(cat(two, Buffer.from([0xff, 0xff, 0xff])), orderPlaced, 2); // the rest is garbage: never read
  t.equal(err.code, 'TOO_MANY_EVENTS');
  t.match(err.message, /at most 2 events per request/);
});

t.test('an empty body, and a bad second datum, name where they are', async (t) => {
  const empty = refuse(Buffer.alloc(0));
  t.equal(empty.code, 'MALFORMED_BODY');
  t.match(empty.message, /no Avro datum/);
  const first = orderPlaced.type.toBuffer(orders[0]);
  const err = refuse(cat(first, str('o'), str('c'), long(1), long(2), long(9)));
  t.match(err.message, new RegExp(`^Avro datum 1 at byte ${first.length}: cannot decode with v1 \\(byte ${first.length + 6}: enum shop.Currency index 9`));
});
