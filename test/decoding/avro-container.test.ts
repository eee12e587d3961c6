import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import t from 'tap';
import { decodeAvroContainer, MAX_HEADER_BYTES } from '../../src/decoding/avro-container';
import { MAX_SCHEMA_JSON_DEPTH } from '../../src/decoding/avro-writer-schema';
import { GatewayError } from '../../src/errors';
import { loadTopicsTree, type TopicVersion } from '../../src/topics/registry';
import { avscFile, avscRead, cat, containerFile, long, plain, str, SYNC, zeroBomb } from './avro-bytes';

const TOPICS_DIR = join(__dirname, '..', '..', '..', 'topics');
const { topics } = loadTopicsTree(TOPICS_DIR);
const version = (name: string, v: number) => topics.find((topic) => topic.name === name)!.versions.get(v)!;
const orderPlaced = version('order-placed', 1);
const impressionV1 = version('impression', 1);
const impressionV2 = version('impression', 2);

const LIMITS = { maxEvents: 10_000, maxDecodedBytes: 16 * 1024 * 1024 };
const MiB = 1024 * 1024;

const orders = Array.from({ length: 40 }, (_, i) => ({
  orderId: `o-${i} ü`,
  customerId: `c-${i % 7}`,
  placedAt: 1_700_000_000_000 + i,
  totalCents: i * 1000,
  currency: ['EUR', 'USD', 'GBP'][i % 3],
  couponCode: i % 2 ? null : `C${i}`,
  items: Array.from({ length: i % 4 }, (_, j) => ({ sku: `s${j}`, quantity: j + 1, unitPriceCents: 99 * j })),
}));
const oneOrder = () => orderPlaced.type.toBuffer(orders[1]);

async function refusal(body: Buffer, v: TopicVersion = orderPlaced, limits = LIMITS): Promise<GatewayError> {
  try {
    await decodeAvroContainer(body, v, limits);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

t.test('files from avsc, codec null and deflate, decode as the former reader did', async (t) => {
  for (const codec of ['null', 'deflate']) {
    const body = await avscFile(orderPlaced.schema, orders, { codec, blockSize: 256 }); // several blocks
    const events = await decodeAvroContainer(body, orderPlaced, LIMITS);
    t.same(plain(events), orders, `codec ${codec}`);
    t.same(plain(events), plain(await avscRead(body, orderPlaced.type)));
  }
});

t.test("records written with the version's own schema are handed on as their bytes; others are not", async (t) => {
  for (const codec of ['null', 'deflate']) {
    const datums: Buffer[] = [];
    const events = await decodeAvroContainer(await avscFile(orderPlaced.schema, orders, { codec, blockSize: 256 }), orderPlaced, LIMITS, datums);
    t.equal(datums.length, events.length, `codec ${codec}: one datum per record`);
    t.ok(datums.every((datum, i) => datum.equals(orderPlaced.type.toBuffer(orders[i]))), `codec ${codec}: each is the record's datum in the version`);
  }
  const datums: Buffer[] = [];
  const impressions = [{ widgetId: 'w', pageUrl: '/p', placement: 'TOP', position: 3, referrer: null }];
  await decodeAvroContainer(await avscFile(impressionV1.schema, impressions), impressionV2, LIMITS, datums);
  t.same(datums, [], 'a v1 file read as v2 is re-encoded, so no bytes are handed on');
});

t.test('the writer schema is resolved to the requested version', async (t) => {
  // A field v2 adds is filled with its default.
  const impressions = [{ widgetId: 'w', pageUrl: '/p', placement: 'TOP', position: 3, referrer: null }];
  const older = await avscFile(impressionV1.schema, impressions, { codec: 'deflate' });
  const read = await decodeAvroContainer(older, impressionV2, LIMITS);
  t.same(plain(read), [{ ...impressions[0], visibleMs: 0, aboveFold: null, viewportRatio: 0 }]);
  t.same(plain(read), plain(await avscRead(older, impressionV2.type)));

  // Fields the reader does not know are skipped, arrays and maps among them.
  const wider = structuredClone(orderPlaced.schema) as { fields: unknown[] };
  wider.fields.splice(2, 0, { name: 'tags', type: { type: 'array', items: 'string' } }, { name: 'attrs', type: { type: 'map', values: 'double' } });
  const withExtras = orders.map((o) => ({ ...o, tags: ['a', 'b'], attrs: { x: 1.5 } }));
  const body = await avscFile(wider, withExtras);
  t.same(plain(await decodeAvroContainer(body, orderPlaced, LIMITS)), orders);

  // A writer schema the version cannot read is named.
  const incompatible = structuredClone(orderPlaced.schema) as { fields: { name: string; type: unknown }[] };
  incompatible.fields[0].type = 'int';
  const err = await refusal(await avscFile(incompatible, [{ ...orders[0], orderId: 1 }]));
  t.equal(err.code, 'MALFORMED_BODY');
  t.match(err.message, /^Avro container file: its schema cannot be read as v1/);
});

t.test('the header is bounded: metadata counts, lengths, the schema', async (t) => {
  const huge = await refusal(containerFile({ metadata: cat(long(2n ** 40n), str('avro.schema'), str('"int"'), long(0)), blocks: [] }));
  t.equal(huge.code, 'MALFORMED_BODY');
  t.match(huge.message, /^Avro container file: header metadata: byte 4: map block count 1099511627776 exceeds the \d+ bytes left/);

  const longValue = await refusal(containerFile({ metadata: cat(long(1), str('avro.schema'), long(2n ** 40n), long(0)), blocks: [] }));
  t.match(longValue.message, /header metadata: byte 17: bytes length 1099511627776 exceeds the \d+ bytes left/);

  const bigSchema = { ...(orderPlaced.schema as object), doc: 'x'.repeat(MAX_HEADER_BYTES) };
  const big = await refusal(containerFile({ schema: bigSchema, blocks: [{ count: 1, data: oneOrder() }] }));
  t.equal(big.code, 'MALFORMED_BODY');
  t.match(big.message, new RegExp(`exceeds the \\d+ bytes left \\(the header may take at most ${MAX_HEADER_BYTES} bytes\\)`));

  const deep = '['.repeat(MAX_SCHEMA_JSON_DEPTH + 1) + ']'.repeat(MAX_SCHEMA_JSON_DEPTH + 1);
  const nested = await refusal(containerFile({ schema: deep, blocks: [] }));
  t.equal(nested.code, 'MALFORMED_BODY');
  t.match(nested.message, /avro\.schema nests deeper than 128 levels/);

  t.match((await refusal(containerFile({ schema: '{"type":', blocks: [] }))).message, /avro\.schema is not JSON/);
  t.match((await refusal(containerFile({ schema: { type: 'nope' }, blocks: [] }))).message, /avro\.schema is not a valid Avro schema/);
  t.match((await refusal(containerFile({ codec: 'null', blocks: [] }))).message, /header has no avro\.schema/);
  const proto = await refusal(containerFile({ schema: orderPlaced.schema, extraMeta: JSON.parse('{"__proto__":"x"}'), blocks: [] }));
  t.equal(proto.code, 'PROTOTYPE_POISONING');
  t.match(proto.message, /map key "__proto__" is not allowed/);
  t.match((await refusal(Buffer.from('Obj\x02xxxx', 'latin1'))).message, /does not start with the magic bytes/);
  t.match((await refusal(containerFile({ schema: orderPlaced.schema, blocks: [] }).subarray(0, -3))).message, /sync marker .* is cut short/);
});

t.test('an unknown codec is an unsupported encoding', async (t) => {
  for (const codec of ['snappy', 'zstandard', 'x'.repeat(1000)]) {
    const err = await refusal(containerFile({ schema: orderPlaced.schema, codec, blocks: [{ count: 1, data: oneOrder() }] }));
    t.equal(err.code, 'UNSUPPORTED_ENCODING');
    t.match(err.message, new RegExp(`codec "${codec.slice(0, 40)}(…)?" is not supported; write the file with codec null or deflate`));
    t.ok(err.message.length < 200, 'a long codec name is not echoed whole');
  }
});

t.test('block framing: sizes, counts and sync markers are checked', async (t) => {
  const file = (blocks: Parameters<typeof containerFile>[0]['blocks'], codec?: string) => containerFile({ schema: orderPlaced.schema, codec, blocks });

  const size = await refusal(file([{ count: 1, size: 2n ** 40n, data: oneOrder() }]));
  t.equal(size.code, 'MALFORMED_BODY');
  t.match(size.message, /block 0 at byte \d+: block size 1099511627776 exceeds the \d+ bytes left before its sync marker/);

  const sync = await refusal(file([{ count: 1, data: oneOrder() }, { count: 1, data: oneOrder(), sync: Buffer.from('fedcba9876543210') }]));
  t.equal(sync.code, 'MALFORMED_BODY');
  t.match(sync.message, /block 1: the sync marker at byte \d+ does not match the header's/);

  const empty = await refusal(file([{ count: 0, data: Buffer.alloc(0) }]));
  t.match(empty.message, /block 0 at byte \d+: object count 0 must be at least 1/);

  const fewer = await refusal(file([{ count: 3, data: cat(oneOrder(), oneOrder()) }]));
  t.equal(fewer.code, 'MALFORMED_BODY');
  t.match(fewer.message, /block 0: declares 3 records but holds 2/);
  const more = await refusal(file([{ count: 1, data: cat(oneOrder(), oneOrder()) }]));
  t.match(more.message, /block 0: \d+ bytes left after its 1 declared records/);

  const none = await refusal(file([]));
  t.equal(none.code, 'MALFORMED_BODY');
  t.match(none.message, /^Avro container file: no records$/);

  const corrupt = await refusal(file([{ count: 1, data: Buffer.from('not deflate at all') }], 'deflate'));
  t.equal(corrupt.code, 'MALFORMED_BODY');
  t.match(corrupt.message, /block 0: deflate data is corrupt/);

  const cut = file([{ count: 1, data: oneOrder() }]);
  t.match((await refusal(cut.subarray(0, cut.length - 5))).message, /block 0 at byte \d+: block size \d+ exceeds/);
});

t.test('a hostile record inside a block is refused by the scan, naming block and record', async (t) => {
  const bad = cat(str('o'), str('c'), long(1), long(2), long(0), long(0), long(2n ** 50n), str('sku'));
  for (const codec of ['null', 'deflate']) {
    const data = cat(oneOrder(), bad);
    const err = await refusal(containerFile({ schema: orderPlaced.schema, codec, blocks: [{ count: 2, data: codec === 'deflate' ? deflateRawSync(data) : data }] }));
    t.equal(err.code, 'MALFORMED_BODY');
    t.match(err.message, /block 0( \(inflated\))?, record 1: byte \d+: array block count 1125899906842624 exceeds the \d+ bytes left/);
  }
});

t.test('more records than maxEvents: refused before the block is decoded', async (t) => {
  const huge = await refusal(containerFile({ schema: orderPlaced.schema, blocks: [{ count: 2n ** 40n, data: oneOrder() }] }));
  t.equal(huge.code, 'TOO_MANY_EVENTS');
  t.match(huge.message, /block 0 brings it past 10000 records; send at most 10000 events per request/);

  // A running total across blocks; the second block is garbage and never read.
  const body = containerFile({ schema: orderPlaced.schema, blocks: [{ count: 3, data: cat(oneOrder(), oneOrder(), oneOrder()) }, { count: 3, data: Buffer.alloc(9, 0xff) }] });
  const err = await refusal(body, orderPlaced, { ...LIMITS, maxEvents: 5 });
  t.equal(err.code, 'TOO_MANY_EVENTS');
  t.match(err.message, /block 1 brings it past 5 records; send at most 5 events per request/);
});

t.test('a deflate bomb stops at maxDecodedBytes, fast and without the memory', async (t) => {
  const bomb = zeroBomb(1024); // about 1 MiB that inflates to 1 GiB of zeros
  t.ok(bomb.length < 1.1 * MiB);
  const body = containerFile({ schema: orderPlaced.schema, codec: 'deflate', blocks: [{ count: 1, data: bomb }] });
  for (const maxDecodedBytes of [MiB, LIMITS.maxDecodedBytes]) {
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    const err = await refusal(body, orderPlaced, { ...LIMITS, maxDecodedBytes });
    const ms = Date.now() - started;
    t.equal(err.code, 'DECODED_TOO_LARGE');
    t.equal(err.message, `Avro container file: block 0: the file inflates to more than ${maxDecodedBytes} bytes (server.maxDecodedBytes)`);
    t.ok(ms < 1000, `refused in ${ms} ms`);
    t.ok(process.memoryUsage().rss - rss < 100 * MiB, `RSS grew by ${Math.round((process.memoryUsage().rss - rss) / MiB)} MiB`);
  }

  // The allowance is for the whole file: two blocks of 700 KiB pass 1 MiB together.
  const part = deflateRawSync(cat(str('x'.repeat(700 * 1024))));
  const two = containerFile({ schema: '"string"', codec: 'deflate', blocks: [{ count: 1, data: part }, { count: 1, data: part }] });
  const strings = { version: 1, type: avro.Type.forSchema('string') } as TopicVersion;
  t.equal((await decodeAvroContainer(two, strings, { ...LIMITS, maxDecodedBytes: 2 * MiB })).length, 2);
  const total = await refusal(two, strings, { ...LIMITS, maxDecodedBytes: MiB });
  t.equal(total.code, 'DECODED_TOO_LARGE');
  t.match(total.message, /block 1: the file inflates to more than 1048576 bytes/);
});

t.test('a big file lets the event loop turn between blocks', async (t) => {
  const big = orders.map((o) => ({ ...o, customerId: 'c'.repeat(20_000) }));
  const body = await avscFile(orderPlaced.schema, big, { blockSize: 64 * 1024 });
  const order: string[] = [];
  setImmediate(() => order.push('other work'));
  await decodeAvroContainer(body, orderPlaced, LIMITS).then((events) => order.push(`decoded ${events.length}`));
  t.same(order, ['other work', 'decoded 40']);
});

t.test('mangled files are refused with a gateway error, never another', async (t) => {
  const wider = structuredClone(orderPlaced.schema) as { fields: unknown[] };
  wider.fields.push({ name: 'tags', type: { type: 'map', values: { type: 'array', items: ['null', 'double', 'string'] } } });
  const values = orders.map((o, i) => ({ ...o, tags: { a: [null, i, 'x'] } }));
  const files = [await avscFile(orderPlaced.schema, orders, { blockSize: 512 }), await avscFile(wider, values, { codec: 'deflate', blockSize: 512 })];
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const codes = new Set<string>();
  for (let i = 0; i < 1500; i++) {
    const file = files[i % 2];
    const body = Buffer.from(file.subarray(0, file.length - Math.floor(random() * random() * 64)));
    // Mostly past the header, where the records are.
    for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) body[Math.floor((0.3 + 0.7 * random()) * body.length)] = Math.floor(random() * 256);
    try {
      await decodeAvroContainer(body, orderPlaced, LIMITS);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      codes.add(err.code);
    }
  }
  const expected = ['MALFORMED_BODY', 'PROTOTYPE_POISONING', 'TOO_MANY_EVENTS', 'UNSUPPORTED_ENCODING']; // a flipped codec name, a count
  t.ok(codes.has('MALFORMED_BODY') && [...codes].every((c) => expected.includes(c)), `refused as ${[...codes].join(', ')}`);
});

t.test('the sync marker in the header is the one blocks must end with', async (t) => {
  const body = containerFile({ schema: orderPlaced.schema, blocks: [{ count: 1, data: oneOrder() }, { count: 2, data: cat(oneOrder(), oneOrder()) }] });
  t.equal(body.subarray(-SYNC.length).compare(SYNC), 0);
  t.same(plain(await decodeAvroContainer(body, orderPlaced, LIMITS)), [orders[1], orders[1], orders[1]]);
});
