import avro, { type Type } from 'avsc';
import fc from 'fast-check';
import { LONG_MAX, LONG_MIN } from '../../src/topics/avro-normalizer';

// Avro schemas and the JSON-shaped values fast-check draws for them, for the tests that hold a
// compiled piece of the topics' code to the one it stands for (json-serializer, compiled-normalizer).

/** JSON-shaped events a client could send for `type`, each valid in it. */
export function arbitraryFor(type: Type): fc.Arbitrary<unknown> {
  const ty = type as Type & Record<string, any>;
  switch (ty.typeName as string) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.integer();
    case 'long':
      return fc.oneof(fc.integer({ min: LONG_MIN, max: LONG_MAX }), fc.constantFrom(LONG_MIN, LONG_MAX, 0));
    case 'float':
    case 'double':
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE));
    case 'string':
      return fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u2028', '\u007f', 'é', '😀', '</script>') }));
    case 'enum':
      return fc.constantFrom(...(ty.symbols as string[]));
    case 'bytes':
      return fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64'));
    case 'fixed':
      return fc.uint8Array({ minLength: ty.size, maxLength: ty.size }).map((b) => Buffer.from(b).toString('base64'));
    case 'array':
      return fc.array(arbitraryFor(ty.itemsType), { maxLength: 4 });
    case 'map':
      return fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), arbitraryFor(ty.valuesType), { maxKeys: 4 });
    case 'union:unwrapped':
      return fc.oneof(...(ty.types as Type[]).map(arbitraryFor));
    case 'union:wrapped':
      return fc.oneof(
        ...(ty.types as Type[]).map((b: any) => (b.typeName === 'null' ? fc.constant(null) : arbitraryFor(b).map((v) => ({ [b.branchName]: v })))),
      );
    case 'record':
    case 'error': {
      const fields = ty.fields as any[];
      const shape = Object.fromEntries(fields.map((f) => [f.name, arbitraryFor(f.type)]));
      // Fields with a default may be left out: the normaliser fills them in.
      const requiredKeys = fields.filter((f) => !Object.prototype.hasOwnProperty.call(f, 'defaultValue') || f.defaultValue() === undefined).map((f) => f.name);
      return fc.record(shape, { requiredKeys: requiredKeys as never[] });
    }
    default:
      throw new Error(`no arbitrary for ${String(ty.typeName)}`);
  }
}

/** A record holding every Avro type, defaults and nesting. */
export const EVERY_TYPE = avro.Type.forSchema({
  type: 'record',
  name: 'Every',
  fields: [
    { name: 'n', type: 'null' },
    { name: 'b', type: 'boolean' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long', default: 7 },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 's', type: 'string' },
    { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B_2'] } },
    { name: 'by', type: 'bytes', default: '' },
    { name: 'fx', type: { type: 'fixed', name: 'F', size: 3 } },
    { name: 'arr', type: { type: 'array', items: { type: 'record', name: 'I', fields: [{ name: 'x', type: ['null', 'bytes'] }] } }, default: [] },
    { name: 'm', type: { type: 'map', values: ['null', 'double'] }, default: {} },
    { name: 'ns', type: ['null', 'string'], default: null },
    { name: 'u', type: ['null', 'int', 'string', { type: 'array', items: 'long' }], default: null },
    { name: 'nested', type: ['null', { type: 'record', name: 'N', fields: [{ name: 'deep', type: { type: 'map', values: { type: 'array', items: 'string' } } }] }], default: null },
    { name: 'empty', type: { type: 'record', name: 'Empty', fields: [] }, default: {} },
  ],
});

/** Unions as `{"<type>": value}`. */
export const WRAPPED = avro.Type.forSchema(
  {
    type: 'record',
    name: 'W',
    fields: [
      { name: 'w', type: ['null', 'string', 'bytes', { type: 'map', values: 'int' }] },
      { name: 'ws', type: { type: 'array', items: ['int', 'double'] }, default: [] },
    ],
  },
  { wrapUnions: true },
);
