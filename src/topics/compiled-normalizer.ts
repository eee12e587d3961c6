import type { Type } from 'avsc';
import { compileNormalizer, describe, INT_MAX, INT_MIN, isPlainObject, LONG_MAX, LONG_MIN, type Normalizer } from './avro-normalizer';

// The normaliser of an event's record, generated as one function per schema version: every
// field read by its name, every primitive checked in line, every record built as one object
// literal, where avro-normalizer.ts walks a closure per value (a keyed read, a path push and a
// keyed write per field). It is the same normaliser: the same problems, with the same paths and
// messages, in the same order, and for a valid event the same value
// (test/topics/compiled-normalizer.test.ts draws events valid and invalid against both). Types
// with less common shapes (maps, bytes, fixed, wrapped unions, unions of several types) are
// left to the walked normaliser of their value, called in place. On one order: walked
// 0.56–0.60 µs, generated 0.15–0.19 µs (docs/performance.md).
//
// Only schema-derived text goes into the generated source: Avro names ([A-Za-z_][A-Za-z0-9_]*,
// avsc refuses others) and messages, each as a JSON string literal; enum symbols, defaults and
// the fallback normalisers are passed in as values, never written into the source.

/** Records nested deeper than this are left to the walked normaliser (a recursive schema too). */
const MAX_INLINE_DEPTH = 8;

interface Generation {
  /** Values the generated function reads: `k[0]`, `k[1]`, … */
  constants: unknown[];
  names: number;
}

export function compileRecordNormalizer(type: Type, reservedKeys: ReadonlySet<string>): Normalizer {
  // A field named __proto__ (a valid Avro name) would set the prototype of an object literal.
  if (JSON.stringify(type.schema()).includes('"__proto__"')) return compileNormalizer(type, reservedKeys);
  const gen: Generation = { constants: [], names: 0 };
  const body = record(gen, type as Type & Record<string, any>, 'v', 'result', reservedKeys, 0);
  const source = `"use strict";\nlet result;\n${body}\nreturn result;`;
  const build = new Function('k', 'describe', 'isPlainObject', `return function normalize(v, ctx) {\n${source}\n};`) as (
    constants: unknown[],
    describeValue: typeof describe,
    plainObject: typeof isPlainObject,
  ) => Normalizer;
  return build(gen.constants, describe, isPlainObject);
}

function constant(gen: Generation, value: unknown): string {
  gen.constants.push(value);
  return `k[${gen.constants.length - 1}]`;
}

function fresh(gen: Generation, stem: string): string {
  return `${stem}${gen.names++}`;
}

/** A problem at the current path, or at `segment` below it (a JS expression) when given. */
function fail(message: string, segment: string | null): string {
  return segment === null ? `ctx.fail(${message})` : `(ctx.path.push(${segment}), ctx.fail(${message}), ctx.path.pop(), undefined)`;
}

const text = (s: string): string => JSON.stringify(s);

/**
 * Code that checks the value in variable `src` against `t` and assigns what the walked
 * normaliser returns to `dst`; `segment` is the value's path segment below the current path
 * (null: the path already ends at it).
 */
function value(gen: Generation, t: Type & Record<string, any>, src: string, dst: string, segment: string | null, depth: number): string {
  const got = `" + describe(${src})`;
  switch (t.typeName as string) {
    case 'null':
      return `${dst} = ${src} === null ? null : ${fail(`"expected null, got ${got}`, segment)};`;
    case 'boolean':
      return `${dst} = typeof ${src} === "boolean" ? ${src} : ${fail(`"expected boolean, got ${got}`, segment)};`;
    case 'int':
      return `${dst} = typeof ${src} === "number" && Number.isInteger(${src}) && ${src} >= ${INT_MIN} && ${src} <= ${INT_MAX} ? ${src} : ${fail(`"expected int (32-bit integer), got ${got}`, segment)};`;
    case 'long':
      return `${dst} = typeof ${src} === "number" && Number.isInteger(${src}) && ${src} >= ${LONG_MIN} && ${src} <= ${LONG_MAX} ? ${src} : ${fail(`"expected long (integer from ${LONG_MIN} to ${LONG_MAX}), got ${got}`, segment)};`;
    case 'float':
    case 'double':
      return `${dst} = typeof ${src} === "number" && Number.isFinite(${src}) ? ${src} : ${fail(`"expected ${t.typeName} (finite number), got ${got}`, segment)};`;
    case 'string':
      return (
        `if (typeof ${src} !== "string") ${dst} = ${fail(`"expected string, got ${got}`, segment)};\n` +
        `else if (!${src}.isWellFormed()) ${dst} = ${fail(text('string holds a lone UTF-16 surrogate (not Unicode text)'), segment)};\n` +
        `else ${dst} = ${src};`
      );
    case 'enum': {
      const symbols = constant(gen, new Set<string>(t.symbols));
      return `${dst} = typeof ${src} === "string" && ${symbols}.has(${src}) ? ${src} : ${fail(`${text(`expected one of ${(t.symbols as string[]).join(', ')}, got `)} + describe(${src})`, segment)};`;
    }
    case 'union:unwrapped': {
      const types = t.types as (Type & Record<string, any>)[];
      // ["null", T], the common optional field; other unions are tried branch by branch, walked.
      if (types.length === 2 && types.some((b) => b.typeName === 'null')) {
        const other = types.find((b) => b.typeName !== 'null')!;
        return `if (${src} === null) ${dst} = null;\nelse {\n${value(gen, other, src, dst, segment, depth)}\n}`;
      }
      return walked(gen, t, src, dst, segment);
    }
    case 'array': {
      if (depth >= MAX_INLINE_DEPTH) return walked(gen, t, src, dst, segment);
      const list = fresh(gen, 'list');
      const i = fresh(gen, 'i');
      const item = fresh(gen, 'item');
      const out = fresh(gen, 'items');
      return (
        `${segment === null ? '' : `ctx.path.push(${segment});\n`}` +
        `if (!Array.isArray(${src})) ${dst} = ctx.fail("expected array, got ${got});\n` +
        `else {\nconst ${list} = ${src};\nconst ${out} = new Array(${list}.length);\nctx.path.push(0);\n` +
        `for (let ${i} = 0; ${i} < ${list}.length; ${i}++) {\nctx.path[ctx.path.length - 1] = ${i};\nconst ${item} = ${list}[${i}];\n` +
        `${value(gen, t.itemsType, item, `${out}[${i}]`, null, depth + 1)}\n}\nctx.path.pop();\n${dst} = ${out};\n}` +
        `${segment === null ? '' : '\nctx.path.pop();'}`
      );
    }
    case 'record':
    case 'error': {
      if (depth >= MAX_INLINE_DEPTH) return walked(gen, t, src, dst, segment);
      return `${segment === null ? '' : `ctx.path.push(${segment});\n`}${record(gen, t, src, dst, undefined, depth + 1)}${segment === null ? '' : '\nctx.path.pop();'}`;
    }
    default:
      return walked(gen, t, src, dst, segment);
  }
}

/** The walked normaliser of `t` (avro-normalizer.ts), called with the path at the value. */
function walked(gen: Generation, t: Type, src: string, dst: string, segment: string | null): string {
  const normalize = constant(gen, compileNormalizer(t));
  if (segment === null) return `${dst} = ${normalize}(${src}, ctx);`;
  return `ctx.path.push(${segment});\n${dst} = ${normalize}(${src}, ctx);\nctx.path.pop();`;
}

/** A record at the current path: its fields in schema order, then its unknown keys, as compileRecord checks them. */
function record(gen: Generation, t: Record<string, any>, src: string, dst: string, reservedKeys: ReadonlySet<string> | undefined, depth: number): string {
  const fields = t.fields as { name: string; type: Type & Record<string, any>; defaultValue: () => unknown }[];
  const known = new Set(fields.map((f) => f.name));
  for (const key of reservedKeys ?? []) known.add(key);
  const knownSet = constant(gen, known);
  const reservedMessage = text(`unknown reserved key (the reserved keys are ${[...(reservedKeys ?? [])].join(', ')})`);
  const unknownMessage = text(`unknown field (not in ${t.name}'s schema)`);
  const object = fresh(gen, 'record');
  const present = fresh(gen, 'present');
  const outs = fields.map(() => fresh(gen, 'field'));
  let code = `if (!isPlainObject(${src})) ${dst} = ctx.fail(${text(`expected object (record ${t.name}), got `)} + describe(${src}));\nelse {\nconst ${object} = ${src};\nlet ${present} = 0;\n`;
  fields.forEach((field, n) => {
    const input = fresh(gen, 'input');
    const name = text(field.name);
    code += `const ${input} = ${object}[${name}];\nlet ${outs[n]};\n`;
    const hasDefault = Object.prototype.hasOwnProperty.call(field, 'defaultValue');
    const missing = hasDefault ? `${outs[n]} = ${constant(gen, () => field.defaultValue())}();` : `${fail(text('required field is missing'), name)};`;
    code += `if (${input} === undefined) ${missing}\nelse {\n${present}++;\n${value(gen, field.type, input, outs[n], name, depth)}\n}\n`;
  });
  for (const reserved of reservedKeys ?? []) code += `if (${object}[${text(reserved)}] !== undefined) ${present}++;\n`;
  // As many keys as known ones with a value: none is unknown, and no key is looked up. Otherwise
  // each key is, as the walked normaliser does (a known key holding undefined lands here too).
  const key = fresh(gen, 'key');
  const keys = fresh(gen, 'keys');
  code += `let ${keys} = 0;\nfor (const ${key} in ${object}) ${keys}++;\n`;
  code +=
    `if (${keys} !== ${present}) for (const ${key} in ${object}) {\nif (!${knownSet}.has(${key})) {\nctx.path.push(${key});\n` +
    // A misspelt `$id` must not pass unnoticed: deduplication would be lost silently.
    (reservedKeys ? `ctx.fail(${key}.charCodeAt(0) === 36 ? ${reservedMessage} : ${unknownMessage});\n` : `ctx.fail(${unknownMessage});\n`) +
    `ctx.path.pop();\n}\n}\n`;
  code += `${dst} = { ${fields.map((f, n) => `${text(f.name)}: ${outs[n]}`).join(', ')} };\n}`;
  return code;
}

