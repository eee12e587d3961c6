import type { Type } from 'avsc';

// Writes a normalised value (what avro-normalizer.ts returns: record fields in schema order,
// defaults filled in, bytes as Buffers) as JSON text: the text
// `JSON.stringify(value, bytesAsBase64)` gives, byte for byte (test/topics/json-serializer.test.ts).
// For a schema with bytes or fixed values, one function compiled from the Avro type: the shape
// is known, so no replacer is called on every value (a replacer also takes V8 off its fast
// JSON.stringify path); strings still go through `JSON.stringify`, whose escaping is the one
// every reader of the lines expects. For any other schema, `JSON.stringify` itself: on Node 24
// its fast path beats the compiled function. `npm run bench:pipeline` measures both on one
// order, alternated: without bytes JSON.stringify takes about 2/3 of the compiled function's
// time; with a bytes field the compiled function takes about 2/3 of JSON.stringify's with the
// replacer (docs/performance.md).

export type JsonSerializer = (value: unknown) => string;

const quote = JSON.stringify as (value: string) => string;

/** The fastest writer of this version's JSON: compiled where bytes need a replacer, else JSON.stringify. */
export function jsonSerializerFor(type: Type, hasBytes: boolean): JsonSerializer {
  return hasBytes ? compileJsonSerializer(type) : (value) => JSON.stringify(value);
}

export function compileJsonSerializer(type: Type): JsonSerializer {
  const t = type as Type & Record<string, any>;
  switch (t.typeName as string) {
    case 'null':
      return () => 'null';
    case 'boolean':
      return (v) => (v ? 'true' : 'false');
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      // The normaliser and the Avro decoder let through finite numbers only, whose JSON text is
      // their String(); anything else is written as JSON.stringify writes it.
      return (v) => (Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? 'null');
    case 'string':
      return (v) => quote(v as string);
    case 'enum': {
      // Symbols are Avro names ([A-Za-z_][A-Za-z0-9_]*): their JSON text is fixed at compile time.
      const quoted = new Map<string, string>((t.symbols as string[]).map((s) => [s, quote(s)]));
      return (v) => quoted.get(v as string) ?? quote(v as string);
    }
    case 'bytes':
    case 'fixed':
      return (v) => `"${(v as Buffer).toString('base64')}"`;
    case 'array': {
      const item = compileJsonSerializer(t.itemsType);
      return (v) => {
        const list = v as unknown[];
        if (list.length === 0) return '[]';
        // A hole (only from a value that failed normalisation) is null, as JSON.stringify writes it.
        let out = `[${list[0] === undefined ? 'null' : item(list[0])}`;
        for (let i = 1; i < list.length; i++) out += `,${list[i] === undefined ? 'null' : item(list[i])}`;
        return `${out}]`;
      };
    }
    case 'map': {
      const value = compileJsonSerializer(t.valuesType);
      return (v) => {
        // Object.keys gives the order JSON.stringify writes (integer-like keys first).
        const map = v as Record<string, unknown>;
        let out = '{';
        let first = true;
        for (const key of Object.keys(map)) {
          if (map[key] === undefined) continue;
          out += `${first ? '' : ','}${quote(key)}:${value(map[key])}`;
          first = false;
        }
        return `${out}}`;
      };
    }
    case 'union:unwrapped':
      return compileUnwrappedUnion(t.types as Type[]);
    case 'union:wrapped': {
      const branches = new Map((t.types as Type[]).map((b) => [(b as any).branchName as string, compileJsonSerializer(b)]));
      return (v) => {
        if (v === null) return 'null';
        const key = Object.keys(v as object)[0];
        const branch = branches.get(key);
        return branch ? `{${quote(key)}:${branch((v as Record<string, unknown>)[key])}}` : JSON.stringify(v, bytesAsBase64);
      };
    }
    case 'record':
    case 'error':
      return compileRecord(t);
    default:
      throw new Error(`unsupported Avro type ${String(t.typeName)}`);
  }
}

function compileRecord(t: Record<string, any>): JsonSerializer {
  const fields = (t.fields as any[]).map((field) => ({
    name: field.name as string,
    // `"name":`, fixed at compile time: Avro names need no escaping.
    key: `${quote(field.name)}:`,
    nextKey: `,${quote(field.name)}:`,
    write: compileJsonSerializer(field.type),
  }));
  return (v) => {
    const record = v as Record<string, unknown>;
    let out = '{';
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      const value = record[field.name];
      // Absent only when the value failed normalisation (a replayed entry); JSON.stringify omits it too.
      if (value === undefined) continue;
      out += (out.length === 1 ? field.key : field.nextKey) + field.write(value);
    }
    return `${out}}`;
  };
}

function compileUnwrappedUnion(types: Type[]): JsonSerializer {
  const others = types.filter((b) => b.typeName !== 'null');
  // The common case, ["null", T]: the value is null or T's.
  if (others.length === 1 && others.length < types.length) {
    const only = compileJsonSerializer(others[0]);
    return (v) => (v === null ? 'null' : only(v));
  }
  // Several branches: which one a value took is not kept, so it is written by its own JS type.
  const hasBytes = types.some((b) => b.typeName === 'bytes' || b.typeName === 'fixed' || /"(bytes|fixed)"/.test(JSON.stringify(b.schema())));
  return (v) => (hasBytes ? JSON.stringify(v, bytesAsBase64) : JSON.stringify(v));
}

/** JSON.stringify replacer for schemas with bytes or fixed fields: bytes travel as base64. */
export function bytesAsBase64(_key: string, value: unknown): unknown {
  // Buffer.toJSON runs before a replacer sees the value, so bytes arrive as {type:'Buffer',data}.
  if (value && typeof value === 'object' && (value as any).type === 'Buffer' && Array.isArray((value as any).data)) {
    return Buffer.from((value as any).data).toString('base64');
  }
  return value;
}
