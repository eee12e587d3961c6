import type { Type } from 'avsc';

// Compiles an Avro type into one function that checks a JSON-shaped value against it and
// returns the value in the schema's own shape: record fields in schema order, defaults filled
// in, base64 strings turned into bytes. One pass, no allocation on the path of a valid value
// beyond the normalised copy, and a field path for every problem.

export interface FieldProblem {
  path: string;
  message: string;
}

export class NormalizeContext {
  readonly path: (string | number)[] = [];
  readonly problems: FieldProblem[] = [];

  fail(message: string): undefined {
    // Enough to fix the event; a 10,000-field garbage object must not make a 10,000-line answer.
    if (this.problems.length < MAX_PROBLEMS_PER_EVENT) {
      this.problems.push({ path: formatPath(this.path), message });
    }
    return undefined;
  }
}

export type Normalizer = (value: unknown, ctx: NormalizeContext) => unknown;

const MAX_PROBLEMS_PER_EVENT = 20;

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  return typeof value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;
/**
 * The longs avsc encodes faithfully from a JS number: up to two short of 2^53 (its
 * `isSafeLong`; beyond, it throws and the record would fail at the destination), and down to
 * -2^52 (below, its zig-zag encoding flips the sign, silently: -(2^52+1) is read back as 2^52).
 */
export const LONG_MAX = 9007199254740990;
export const LONG_MIN = -4503599627370496;

interface FieldPlan {
  name: string;
  normalize: Normalizer;
  hasDefault: boolean;
  defaultValue: () => unknown;
}

/**
 * @param reservedKeys envelope attributes (`$id`, `$time`) the top-level record may carry
 *   besides its fields; Avro names cannot start with `$`, so they never collide.
 */
export function compileNormalizer(type: Type, reservedKeys?: ReadonlySet<string>): Normalizer {
  const t = type as Type & Record<string, any>;
  switch (t.typeName as string) {
    case 'null':
      return (v, ctx) => (v === null ? null : ctx.fail(`expected null, got ${describe(v)}`));
    case 'boolean':
      return (v, ctx) => (typeof v === 'boolean' ? v : ctx.fail(`expected boolean, got ${describe(v)}`));
    case 'int':
      return (v, ctx) =>
        typeof v === 'number' && Number.isInteger(v) && v >= INT_MIN && v <= INT_MAX
          ? v
          : ctx.fail(`expected int (32-bit integer), got ${describe(v)}`);
    case 'long':
      return (v, ctx) =>
        typeof v === 'number' && Number.isInteger(v) && v >= LONG_MIN && v <= LONG_MAX
          ? v
          : ctx.fail(`expected long (integer from ${LONG_MIN} to ${LONG_MAX}), got ${describe(v)}`);
    case 'float':
    case 'double':
      return (v, ctx) =>
        typeof v === 'number' && Number.isFinite(v) ? v : ctx.fail(`expected ${t.typeName} (finite number), got ${describe(v)}`);
    case 'string':
      // A lone surrogate (from a JSON `\ud800` escape) has no UTF-8 form: Avro, Kafka headers
      // and files would each replace it differently, so it is refused rather than changed.
      return (v, ctx) =>
        typeof v !== 'string' ? ctx.fail(`expected string, got ${describe(v)}`) : v.isWellFormed() ? v : ctx.fail('string holds a lone UTF-16 surrogate (not Unicode text)');
    case 'bytes':
      return (v, ctx) => {
        if (Buffer.isBuffer(v)) return v;
        if (typeof v === 'string') return Buffer.from(v, 'base64');
        return ctx.fail(`expected bytes (base64 string), got ${describe(v)}`);
      };
    case 'fixed': {
      const size: number = t.size;
      return (v, ctx) => {
        const buf = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v, 'base64') : undefined;
        if (buf === undefined) return ctx.fail(`expected fixed(${size}) (base64 string), got ${describe(v)}`);
        return buf.length === size ? buf : ctx.fail(`expected fixed(${size}), got ${buf.length} bytes`);
      };
    }
    case 'enum': {
      const symbols = new Set<string>(t.symbols);
      const list = (t.symbols as string[]).join(', ');
      return (v, ctx) =>
        typeof v === 'string' && symbols.has(v) ? v : ctx.fail(`expected one of ${list}, got ${describe(v)}`);
    }
    case 'array': {
      const item = compileNormalizer(t.itemsType);
      return (v, ctx) => {
        if (!Array.isArray(v)) return ctx.fail(`expected array, got ${describe(v)}`);
        const out = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          ctx.path.push(i);
          out[i] = item(v[i], ctx);
          ctx.path.pop();
        }
        return out;
      };
    }
    case 'map': {
      const value = compileNormalizer(t.valuesType);
      return (v, ctx) => {
        if (!isPlainObject(v)) return ctx.fail(`expected map (object), got ${describe(v)}`);
        const out: Record<string, unknown> = {};
        for (const key of Object.keys(v)) {
          ctx.path.push(key);
          if (!key.isWellFormed()) ctx.fail('map key holds a lone UTF-16 surrogate (not Unicode text)');
          out[key] = value(v[key], ctx);
          ctx.path.pop();
        }
        return out;
      };
    }
    case 'union:unwrapped':
      return compileUnwrappedUnion(t.types as Type[]);
    case 'union:wrapped':
      return compileWrappedUnion(t.types as Type[]);
    case 'record':
    case 'error':
      return compileRecord(t, reservedKeys);
    default:
      throw new Error(`unsupported Avro type ${String(t.typeName)}`);
  }
}

function compileRecord(t: Record<string, any>, reservedKeys: ReadonlySet<string> | undefined): Normalizer {
  const plans: FieldPlan[] = (t.fields as any[]).map((field) => ({
    name: field.name as string,
    normalize: compileNormalizer(field.type),
    hasDefault: Object.prototype.hasOwnProperty.call(field, 'defaultValue'),
    defaultValue: () => field.defaultValue(),
  }));
  const known = new Set(plans.map((p) => p.name));
  for (const key of reservedKeys ?? []) known.add(key);
  const reservedList = [...(reservedKeys ?? [])].join(', ');
  return (v, ctx) => {
    if (!isPlainObject(v)) return ctx.fail(`expected object (record ${t.name}), got ${describe(v)}`);
    const out: Record<string, unknown> = {};
    for (const plan of plans) {
      const value = v[plan.name];
      ctx.path.push(plan.name);
      if (value === undefined) {
        if (plan.hasDefault) out[plan.name] = plan.defaultValue();
        else ctx.fail('required field is missing');
      } else {
        out[plan.name] = plan.normalize(value, ctx);
      }
      ctx.path.pop();
    }
    for (const key in v) {
      if (!known.has(key)) {
        ctx.path.push(key);
        // A misspelt `$id` must not pass unnoticed: deduplication would be lost silently.
        if (key.charCodeAt(0) === 36 /* $ */ && reservedKeys) ctx.fail(`unknown reserved key (the reserved keys are ${reservedList})`);
        else ctx.fail(`unknown field (not in ${t.name}'s schema)`);
        ctx.path.pop();
      }
    }
    return out;
  };
}

function compileUnwrappedUnion(types: Type[]): Normalizer {
  const names = types.map((b) => (b as any).branchName as string).join(', ');
  const nullIndex = types.findIndex((b) => b.typeName === 'null');
  const others = types.filter((b) => b.typeName !== 'null').map((b) => compileNormalizer(b));
  // The common case, ["null", T]: no trial runs needed.
  if (nullIndex !== -1 && others.length === 1) {
    const only = others[0];
    return (v, ctx) => (v === null ? null : only(v, ctx));
  }
  return (v, ctx) => {
    if (v === null && nullIndex !== -1) return null;
    for (const branch of others) {
      const trial = new NormalizeContext();
      const out = branch(v, trial);
      if (trial.problems.length === 0) return out;
    }
    return ctx.fail(`expected one of [${names}], got ${describe(v)}`);
  };
}

function compileWrappedUnion(types: Type[]): Normalizer {
  const branches = new Map(types.map((b) => [(b as any).branchName as string, compileNormalizer(b)]));
  const names = [...branches.keys()].join(', ');
  return (v, ctx) => {
    if (v === null && branches.has('null')) return null;
    if (!isPlainObject(v)) return ctx.fail(`expected a union wrapped as {"<type>": value} with type one of ${names}, got ${describe(v)}`);
    const keys = Object.keys(v);
    const branch = keys.length === 1 ? branches.get(keys[0]) : undefined;
    if (branch === undefined) return ctx.fail(`expected a union wrapped as {"<type>": value} with type one of ${names}`);
    ctx.path.push(keys[0]);
    const out = branch(v[keys[0]], ctx);
    ctx.path.pop();
    return { [keys[0]]: out };
  };
}
