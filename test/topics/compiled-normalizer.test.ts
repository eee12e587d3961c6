import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import avro, { type Type } from 'avsc';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { compileNormalizer, NormalizeContext } from '../../src/topics/avro-normalizer';
import { compileRecordNormalizer } from '../../src/topics/compiled-normalizer';
import { bytesAsBase64 } from '../../src/topics/json-serializer';
import { EVENT_RESERVED_KEYS, loadTopicsTree } from '../../src/topics/registry';
import { arbitraryFor, EVERY_TYPE, WRAPPED } from '../helpers/avro-values';

// The generated normaliser must be the walked one (avro-normalizer.ts), only faster: for any
// input, the same problems (paths, messages, order, the cap of 20); for an input without
// problems, the same value (the same fields in the same order, defaults filled in, bytes as
// Buffers). Inputs are drawn valid from the schema, then edited at random places (a value
// replaced by anything, a key deleted, a key added: unknown, reserved, or misspelt reserved).

const REPO = join(__dirname, '..', '..', '..');

type Edit = [pick: number, op: 'replace' | 'delete' | 'add', other: unknown];
const ADDED_KEYS = ['extra', '$id', '$time', '$idd', 'constructor', 'toString'];

/** Every object and array in `value` with the key it hangs on, the root first. */
function places(value: unknown): { parent: Record<string | number, unknown> | undefined; key: string | number; node: unknown }[] {
  const out: { parent: Record<string | number, unknown> | undefined; key: string | number; node: unknown }[] = [{ parent: undefined, key: '', node: value }];
  for (let i = 0; i < out.length; i++) {
    const node = out[i].node;
    if (typeof node !== 'object' || node === null || Buffer.isBuffer(node)) continue;
    for (const key of Object.keys(node)) out.push({ parent: node as Record<string, unknown>, key, node: (node as Record<string, unknown>)[key] });
  }
  return out;
}

function edited(value: unknown, edits: Edit[]): unknown {
  let root = structuredClone(value);
  for (const [pick, op, other] of edits) {
    const all = places(root);
    const { parent, key, node } = all[pick % all.length];
    if (op === 'replace' || (op === 'delete' && parent === undefined)) {
      if (parent === undefined) root = other;
      else parent[key] = other;
    } else if (op === 'delete') {
      delete parent![key];
    } else if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
      (node as Record<string, unknown>)[ADDED_KEYS[pick % ADDED_KEYS.length]] = other;
    }
  }
  return root;
}

function inputsFor(type: Type): fc.Arbitrary<unknown> {
  const valid = arbitraryFor(type);
  const edit = fc.tuple(fc.nat(), fc.constantFrom('replace' as const, 'delete' as const, 'add' as const), fc.anything({ maxDepth: 2 }));
  return fc.oneof(
    valid,
    fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 3 })).map(([v, edits]) => edited(v, edits)),
    fc.tuple(valid, fc.string({ unit: 'binary', maxLength: 130 }), fc.oneof(fc.integer(), fc.string())).map(([v, id, time]) =>
      typeof v === 'object' && v !== null ? { ...v, $id: id, $time: time } : v,
    ),
  );
}

function sameAsWalked(t: Test, type: Type, runs: number): void {
  const walked = compileNormalizer(type, EVENT_RESERVED_KEYS);
  const generated = compileRecordNormalizer(type, EVENT_RESERVED_KEYS);
  let valid = 0;
  fc.assert(
    fc.property(inputsFor(type), (input) => {
      const a = new NormalizeContext();
      const b = new NormalizeContext();
      const expected = walked(structuredClone(input), a);
      const actual = generated(structuredClone(input), b);
      if (!isDeepStrictEqual(b.problems, a.problems)) throw new Error(`problems differ:\n${JSON.stringify(b.problems)}\nwalked:\n${JSON.stringify(a.problems)}`);
      if (a.problems.length > 0) return;
      valid++;
      if (!isDeepStrictEqual(actual, expected) || JSON.stringify(actual, bytesAsBase64) !== JSON.stringify(expected, bytesAsBase64)) {
        throw new Error(`values differ: ${JSON.stringify(actual, bytesAsBase64)} walked: ${JSON.stringify(expected, bytesAsBase64)}`);
      }
      t.equal(b.path.length, 0);
    }),
    { numRuns: runs },
  );
  t.ok(valid > runs / 10, `${valid} of ${runs} inputs were valid and gave the same value`);
}

t.test('every version of the topics tree', async (t) => {
  const { topics, problems } = loadTopicsTree(join(REPO, 'topics'));
  t.same(problems, []);
  for (const version of topics.flatMap((topic) => [...topic.versions.values()])) {
    t.test(`${version.service}/${version.topic} v${version.version}`, async (t) => sameAsWalked(t, version.type, 400));
  }
});

t.test('a schema of every Avro type', async (t) => sameAsWalked(t, EVERY_TYPE, 2000));
t.test('wrapped unions', async (t) => sameAsWalked(t, WRAPPED, 500));

t.test('records nested deeper than it inlines are left to the walked normaliser, with the same paths', async (t) => {
  let schema: Record<string, unknown> = { type: 'record', name: 'R0', fields: [{ name: 'leaf', type: 'int' }] };
  for (let depth = 1; depth <= 11; depth++) {
    schema = { type: 'record', name: `R${depth}`, fields: [{ name: `n${depth}`, type: schema }, { name: 'list', type: { type: 'array', items: 'string' }, default: [] }] };
  }
  sameAsWalked(t, avro.Type.forSchema(schema as never), 500);
});

t.test('the cap of 20 problems an event, and a field named __proto__ left to the walked normaliser', async (t) => {
  const generated = compileRecordNormalizer(EVERY_TYPE, EVENT_RESERVED_KEYS);
  const ctx = new NormalizeContext();
  generated(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`unknown${i}`, i])), ctx);
  t.equal(ctx.problems.length, 20);
  const walked = new NormalizeContext();
  compileNormalizer(EVERY_TYPE, EVENT_RESERVED_KEYS)(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`unknown${i}`, i])), walked);
  t.same(ctx.problems, walked.problems);

  const proto = avro.Type.forSchema({ type: 'record', name: 'P', fields: [{ name: '__proto__', type: 'string' }] });
  const input = JSON.parse('{"__proto__": "x"}');
  const [a, b] = [new NormalizeContext(), new NormalizeContext()];
  const out = compileRecordNormalizer(proto, EVENT_RESERVED_KEYS)(input, b);
  compileNormalizer(proto, EVENT_RESERVED_KEYS)(JSON.parse('{"__proto__": "x"}'), a);
  t.same(b.problems, a.problems);
  t.equal(Object.getPrototypeOf(out), Object.prototype, 'no prototype was set from the input');
});
