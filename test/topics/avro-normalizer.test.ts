import avro from 'avsc';
import t from 'tap';
import { compileNormalizer, NormalizeContext } from '../../src/topics/avro-normalizer';
import { compileFieldCoercers } from '../../src/topics/query-coercion';

const type = avro.Type.forSchema({
  type: 'record',
  name: 'T',
  fields: [
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long', default: 7 },
    { name: 'd', type: 'double' },
    { name: 'b', type: 'boolean' },
    { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } },
    { name: 'ns', type: ['null', 'string'], default: null },
    { name: 'arr', type: { type: 'array', items: { type: 'record', name: 'I', fields: [{ name: 'x', type: 'int' }] } }, default: [] },
    { name: 'm', type: { type: 'map', values: 'long' }, default: {} },
    { name: 'u', type: ['null', 'int', 'string'], default: null },
    { name: 'bytes', type: 'bytes', default: '' },
  ],
});
const normalize = compileNormalizer(type, new Set(['$id', '$time']));

function run(value: unknown) {
  const ctx = new NormalizeContext();
  const out = normalize(value, ctx);
  return { out, problems: ctx.problems };
}

t.test('a valid value comes back in schema order with defaults filled', async (t) => {
  const { out, problems } = run({ b: true, i: 1, d: 1.5, e: 'B', $id: 'kept out', arr: [{ x: 1 }], u: 'str' });
  t.same(problems, []);
  t.same(Object.keys(out as object), ['i', 'l', 'd', 'b', 'e', 'ns', 'arr', 'm', 'u', 'bytes']);
  t.match(out, { i: 1, l: 7, d: 1.5, b: true, e: 'B', ns: null, arr: [{ x: 1 }], m: {}, u: 'str' });
  t.ok(Buffer.isBuffer((out as any).bytes));
  t.same(avro.Type.forSchema(type.schema()).isValid(out), true, 'avsc agrees it is valid');
});

t.test('each problem names its path', async (t) => {
  const { problems } = run({ i: 2 ** 40, d: 'x', b: 'yes', e: 'C', arr: [{ x: 1 }, { y: 2 }], m: { a: 1.5 }, u: true, extra: 1 });
  t.same(
    problems.map((p) => p.path),
    ['i', 'd', 'b', 'e', 'arr[1].x', 'arr[1].y', 'm.a', 'u', 'extra'],
  );
  t.match(problems.find((p) => p.path === 'arr[1].x')!.message, /required field is missing/);
  t.match(problems.find((p) => p.path === 'e')!.message, /expected one of A, B, got string "C"/);
  t.match(problems.find((p) => p.path === 'extra')!.message, /unknown field/);
});

t.test('a non-object is refused; problems are bounded', async (t) => {
  t.match(run([1, 2]).problems, [{ path: '', message: /expected object/ }]);
  const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, i]));
  t.ok(run(many).problems.length <= 20);
});

t.test('query strings are coerced to field types', async (t) => {
  const coercers = compileFieldCoercers(type);
  const c = (field: string, raw: string) => coercers.get(field)!(raw);
  t.equal(c('i', '42'), 42);
  t.equal(c('i', '4x'), '4x', 'left as string so validation names it');
  t.equal(c('d', '0.25'), 0.25);
  t.equal(c('b', 'true'), true);
  t.equal(c('b', '0'), false);
  t.equal(c('ns', 'null'), null);
  t.equal(c('ns', ''), '', 'an empty nullable string stays empty');
  t.same(c('arr', '[{"x":1}]'), [{ x: 1 }]);
  t.equal(c('e', 'A'), 'A');
});
