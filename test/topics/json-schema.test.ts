import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import avro from 'avsc';
import fc from 'fast-check';
import t from 'tap';
import { clientEventId, clientEventTime } from '../../src/envelope/envelope';
import { LONG_MAX, LONG_MIN, NormalizeContext } from '../../src/topics/avro-normalizer';
import { standaloneJsonSchema } from '../../src/topics/json-schema';
import { loadTopicRegistry, type TopicVersion } from '../../src/topics/registry';
import { removeDir, tempDir, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';

// The JSON Schema of a topic version must say what the gateway does: an event it validates
// is one the gateway accepts, and the other way round. Each case is judged by both — ajv on
// the schema, the gateway's own checks (the normaliser, then `$id` and `$time`) — and they
// must agree; fast-check then breaks valid events at random and asks both again.

function ajv(): Ajv2020 {
  // strict: an unknown keyword or a misplaced one fails the compile, so the schemas are plain 2020-12.
  const instance = new Ajv2020({ strict: true, allErrors: false });
  // Formats are annotations in 2020-12; the gateway's own reading of $time is tested below.
  instance.addFormat('date-time', true);
  return instance;
}

/** The gateway's verdict on one event, as ingest.ts reaches it. */
function gatewayAccepts(version: TopicVersion, event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const ctx = new NormalizeContext();
  version.normalize(event, ctx);
  const input = event as Record<string, unknown>;
  return ctx.problems.length === 0 && !(clientEventId(input.$id) instanceof Error) && !(clientEventTime(input.$time) instanceof Error);
}

function versionsOf(dir: string): TopicVersion[] {
  return loadTopicRegistry(dir)
    .list()
    .flatMap((topic) => [...topic.versions.values()]);
}

// The shipped topics this file has a hand-made valid event for; every other version is
// checked to compile below.
const REAL = versionsOf(TOPICS_DIR).filter((v) => v.service === 'shop' || v.service === 'widget');
const validOf = (version: TopicVersion) => (version.service === 'shop' ? validOrder() : validImpression());

t.test('every version of every shipped topic compiles as strict JSON Schema 2020-12', async (t) => {
  for (const version of versionsOf(TOPICS_DIR)) {
    t.type(ajv().compile(standaloneJsonSchema(version, 'Event')), 'function', `${version.service}/${version.topic} v${version.version}`);
  }
});

t.test('every version of the real topics compiles as strict JSON Schema 2020-12 and agrees with the gateway', async (t) => {
  t.ok(REAL.length >= 3, 'shop/order-placed v1, widget/impression v1 and v2');
  for (const version of REAL) {
    const validate = ajv().compile(standaloneJsonSchema(version, 'Event'));
    const valid = validOf(version);
    const cases: [string, unknown][] = [
      ['the example event', valid],
      ['with $id and $time', { ...valid, $id: 'client-1', $time: 1764000000000 }],
      ['$time as digits', { ...valid, $time: '1764000000000' }],
      ['$time below the epoch', { ...valid, $time: -1 }],
      ['$time past 9999', { ...valid, $time: 253402300800000 }],
      ['an empty $id', { ...valid, $id: '' }],
      ['a 129-character $id', { ...valid, $id: 'x'.repeat(129) }],
      ['a misspelt $idd', { ...valid, $idd: 'x' }],
      ['an unknown field', { ...valid, notAField: 1 }],
      ['a string for a number', { ...valid, ...(version.service === 'shop' ? { totalCents: '1' } : { position: '1' }) }],
      ['a fraction for an int', { ...valid, ...(version.service === 'shop' ? { items: [{ sku: 'a', quantity: 1.5, unitPriceCents: 1 }] } : { position: 1.5 }) }],
      ['an int past 32 bits', { ...valid, ...(version.service === 'shop' ? { items: [{ sku: 'a', quantity: 2 ** 31, unitPriceCents: 1 }] } : { position: 2 ** 31 }) }],
      ['a symbol not in the enum', { ...valid, ...(version.service === 'shop' ? { currency: 'JPY' } : { placement: 'BOTTOM' }) }],
      ['a required field missing', Object.fromEntries(Object.entries(valid).slice(1))],
      ['null for a nullable field', { ...valid, ...(version.service === 'shop' ? { couponCode: null } : { referrer: null }) }],
      ['a number for a nullable string', { ...valid, ...(version.service === 'shop' ? { couponCode: 5 } : { referrer: 5 }) }],
    ];
    if (version.service === 'shop') {
      cases.push(['the largest long', { ...valid, totalCents: LONG_MAX }], ['past the largest long', { ...valid, totalCents: LONG_MAX + 2 }]);
      cases.push(['the smallest long', { ...valid, totalCents: LONG_MIN }], ['below the smallest long', { ...valid, totalCents: LONG_MIN - 1 }]);
    }
    for (const [what, event] of cases) {
      t.equal(validate(event), gatewayAccepts(version, event), `${version.service}/${version.topic} v${version.version}: ${what}`);
    }
    t.ok(validate(valid), `${version.service}/${version.topic} v${version.version}: the example event is valid`);
  }
});

t.test('events broken at random: the schema and the gateway give the same verdict', async (t) => {
  for (const version of REAL) {
    const validate = ajv().compile(standaloneJsonSchema(version, 'Event'));
    const fields = ((version.type as any).fields as { name: string }[]).map((f) => f.name);
    const valid = validOf(version) as Record<string, unknown>;
    fc.assert(
      fc.property(fc.constantFrom(...fields, '$id', 'extra'), fc.option(fc.jsonValue(), { nil: undefined }), (field, value) => {
        const event: Record<string, unknown> = { ...valid };
        if (value === undefined) delete event[field];
        else event[field] = value;
        return validate(event) === gatewayAccepts(version, event);
      }),
      { numRuns: 400 },
    );
    t.pass(`${version.service}/${version.topic} v${version.version}: 400 broken events judged alike`);
  }
});

t.test('every Avro type: records nested and recursive, enums, fixed, bytes, maps, wrapped unions, logical types', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  mkdirSync(join(dir, 'lab', 'all-types'), { recursive: true });
  writeFileSync(join(dir, 'lab', 'all-types', 'topic.yaml'), 'access: service\ndefaultVersion: 1\n');
  const schema = {
    type: 'record',
    name: 'AllTypes',
    namespace: 'lab',
    doc: 'Every kind of Avro type.',
    fields: [
      { name: 'id', type: { type: 'string', logicalType: 'uuid' } },
      { name: 'day', type: { type: 'int', logicalType: 'date' } },
      { name: 'at', type: { type: 'long', logicalType: 'timestamp-micros' }, doc: 'When.' },
      { name: 'ratio', type: 'float' },
      { name: 'flag', type: 'boolean', default: false },
      { name: 'raw', type: 'bytes' },
      { name: 'hash', type: { type: 'fixed', name: 'Hash', size: 4 } },
      { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
      { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
      { name: 'again', type: 'Kind', default: 'B' },
      { name: 'tags', type: { type: 'map', values: 'long' } },
      { name: 'numbers', type: ['null', 'int', 'long'], default: null },
      { name: 'either', type: ['string', { type: 'record', name: 'Point', fields: [{ name: 'x', type: 'int' }] }] },
      { name: 'tree', type: { type: 'record', name: 'Node', fields: [{ name: 'label', type: 'string' }, { name: 'children', type: { type: 'array', items: 'Point' } }] } },
      { name: 'points', type: { type: 'array', items: 'lab.Point' }, default: [] },
    ],
  };
  writeFileSync(join(dir, 'lab', 'all-types', 'v1.avsc'), JSON.stringify(schema));
  const [version] = versionsOf(dir);
  const json = standaloneJsonSchema(version, 'AllTypes');
  const defs = json.$defs as Record<string, any>;
  t.same(Object.keys(defs).sort(), ['AllTypes', 'AllTypesNode', 'AllTypesPoint'], 'one definition per record');
  const fields = defs.AllTypes.properties;
  t.match(fields.id, { type: 'string', description: 'Avro string with logicalType uuid' });
  t.match(fields.at, { type: 'integer', minimum: LONG_MIN, maximum: LONG_MAX, description: 'When. (Avro long with logicalType timestamp-micros)' });
  t.match(fields.price, { type: 'string', contentEncoding: 'base64', description: 'Avro bytes with logicalType decimal' });
  t.same(fields.again, { type: 'string', enum: ['A', 'B'], default: 'B' }, 'a named type referred to by name');
  t.same(fields.tree, { $ref: '#/$defs/AllTypesNode' });
  t.same(defs.AllTypesNode.properties.children, { type: 'array', items: { $ref: '#/$defs/AllTypesPoint' } }, 'a record met again is referred to');
  t.same(defs.AllTypes.required, ['id', 'day', 'at', 'ratio', 'raw', 'hash', 'price', 'kind', 'tags', 'either', 'tree'], 'fields with a default may be left out');
  t.same(fields.numbers.anyOf[1], { type: 'object', properties: { int: { type: 'integer', minimum: -2147483648, maximum: 2147483647 } }, required: ['int'], additionalProperties: false }, 'int and long cannot be told apart in JSON: wrapped');

  const validate = ajv().compile(json);
  const valid = {
    id: '0b5c6c1e-2f7c-4c55-9a53-6e0f6d9a2b11',
    day: 20000,
    at: 1764000000000000,
    ratio: 0.5,
    raw: 'AAEC',
    hash: 'AQIDBA==',
    price: 'AAE=',
    kind: 'A',
    tags: { a: 1 },
    numbers: { long: 5 },
    either: { x: 1 },
    tree: { label: 'root', children: [{ x: 1 }, { x: 2 }] },
  };
  const cases: [string, unknown][] = [
    ['a value of every type', valid],
    ['a wrapped union as a bare number', { ...valid, numbers: 5 }],
    ['a wrapped union branch that is not in it', { ...valid, numbers: { double: 5 } }],
    ['the string branch', { ...valid, either: 'x' }],
    ['a string and a record cannot be confused: not wrapped', { ...valid, either: { string: 'x' } }],
    ['a map value of the wrong type', { ...valid, tags: { a: 'x' } }],
    ['a nested record with an unknown field', { ...valid, tree: { label: 'x', children: [], extra: 1 } }],
    ['a record in an array missing a field', { ...valid, tree: { label: 'x', children: [{}] } }],
    ['a number for bytes', { ...valid, raw: 1 }],
    ['an enum referred to by name, bad symbol', { ...valid, again: 'C' }],
  ];
  for (const [what, event] of cases) t.equal(validate(event), gatewayAccepts(version, event), what);
  t.ok(validate(valid), 'the value of every type is valid');
});

t.test('a record that holds itself refers to its own definition', async (t) => {
  // The gateway's normaliser cannot compile a recursive schema (it recurses for ever), so this
  // version is made by hand: only the JSON Schema is under test here.
  const schema = { type: 'record', name: 'Node', namespace: 'lab', fields: [{ name: 'label', type: 'string' }, { name: 'children', type: { type: 'array', items: 'Node' } }] };
  const version = { service: 'lab', topic: 'tree', version: 1, schema, type: avro.Type.forSchema(schema as avro.Schema) } as unknown as TopicVersion;
  const json = standaloneJsonSchema(version, 'Tree');
  t.same((json.$defs as any).Tree.properties.children, { type: 'array', items: { $ref: '#/$defs/Tree' } });
  const validate = ajv().compile(json);
  t.ok(validate({ label: 'a', children: [{ label: 'b', children: [{ label: 'c', children: [] }] }] }));
  t.notOk(validate({ label: 'a', children: [{ label: 'b', children: [{ children: [] }] }] }), 'a deep node missing its label');
});
