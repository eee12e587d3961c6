import type { Type } from 'avsc';
import sjson from 'secure-json-parse';

// Beacon query strings and form bodies carry every value as a string. Each top-level field's
// string is turned into the JSON value its Avro type expects; what cannot be turned is left
// as the string so that validation names the field and the expected type.

export type Coercer = (raw: string) => unknown;

export function compileFieldCoercers(record: Type): Map<string, Coercer> {
  const coercers = new Map<string, Coercer>();
  for (const field of (record as any).fields as { name: string; type: Type }[]) {
    coercers.set(field.name, coercerFor(field.type));
  }
  return coercers;
}

function coercerFor(type: Type): Coercer {
  const t = type as any;
  switch (t.typeName as string) {
    case 'int':
    case 'long':
      return (raw) => (/^-?\d+$/.test(raw) ? Number(raw) : raw);
    case 'float':
    case 'double':
      return (raw) => {
        const n = raw.trim() === '' ? NaN : Number(raw);
        return Number.isNaN(n) ? raw : n;
      };
    case 'boolean':
      return (raw) => (raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw);
    case 'null':
      return (raw) => (raw === '' || raw === 'null' ? null : raw);
    case 'union:unwrapped': {
      const branches = t.types as Type[];
      const hasNull = branches.some((b) => b.typeName === 'null');
      const nonNull = branches.filter((b) => b.typeName !== 'null');
      const inner = nonNull.length === 1 ? coercerFor(nonNull[0]) : (raw: string) => raw;
      // For a nullable string, an empty value stays the empty string; `null` is spelt out.
      const emptyIsNull = hasNull && !nonNull.some((b) => b.typeName === 'string' || b.typeName === 'enum');
      return (raw) => {
        if (hasNull && (raw === 'null' || (emptyIsNull && raw === ''))) return null;
        return inner(raw);
      };
    }
    case 'record':
    case 'array':
    case 'map':
    case 'union:wrapped':
      // Nested values come as JSON text in one parameter.
      return (raw) => {
        try {
          return sjson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'error' });
        } catch {
          return raw;
        }
      };
    default:
      return (raw) => raw;
  }
}
