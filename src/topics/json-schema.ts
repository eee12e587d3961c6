import type { Type } from 'avsc';
import { MAX_EVENT_TIME_MS } from '../envelope/envelope';
import { LONG_MAX, LONG_MIN } from './avro-normalizer';
import type { TopicVersion } from './registry';

// JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of the JSON shape the gateway
// validates a topic version's events in (avro-normalizer.ts): what an event may hold is what
// the schema says, with the same bounds — ints 32-bit, longs within what Avro encodes
// faithfully from a JS number, bytes and fixed as base64 text, a record's unknown fields
// refused, fields with a default optional, unions wrapped as {"<branch>": value} where avsc
// wraps them. The top-level record also takes the envelope's `$id` and `$time`.
//
// avsc keeps no logical type it was not given an implementation for, so the raw `.avsc` is
// walked beside the parsed Type: the logical type (timestamp-millis, uuid, …) is said in the
// description, as the gateway takes its underlying type unchanged.

export type JsonSchema = Record<string, unknown>;

export interface TopicJsonSchemas {
  /** The event: a `$ref` to the top-level record's definition. */
  event: JsonSchema;
  /** One definition per record type, by name; records refer to each other with `$ref`. */
  definitions: Record<string, JsonSchema>;
}

export interface JsonSchemaNaming {
  /** Definition names start with it (`ShopOrderPlacedV1`); the top-level record is named it. */
  prefix: string;
  /** What `$ref` values start with: `#/$defs/` alone, `#/components/schemas/` in OpenAPI. */
  refBase: string;
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** The envelope attributes an event may carry beside its fields (envelope.ts reads them). */
export const RESERVED_PROPERTIES: Record<string, JsonSchema> = {
  $id: {
    description: 'Event id, kept for deduplication (else a UUIDv7): 1 to 128 characters of Unicode text',
    type: 'string',
    minLength: 1,
    maxLength: 128,
  },
  $time: {
    description: 'Client event time: integer ms since the epoch (a number or its digits) or an RFC 3339 timestamp, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z',
    anyOf: [
      { type: 'integer', minimum: 0, maximum: MAX_EVENT_TIME_MS },
      { type: 'string', pattern: '^[0-9]{1,16}$' },
      { type: 'string', format: 'date-time' },
    ],
  },
};

/** JSON Schemas of one topic version's events. */
export function topicJsonSchemas(version: TopicVersion, naming: JsonSchemaNaming): TopicJsonSchemas {
  const converter = new Converter(naming);
  converter.record(version.type, version.schema as RawSchema, naming.prefix, true);
  return { event: { $ref: `${naming.refBase}${naming.prefix}` }, definitions: converter.definitions };
}

/** A standalone JSON Schema of one version's events, its records under `$defs`. */
export function standaloneJsonSchema(version: TopicVersion, prefix: string): JsonSchema {
  const { event, definitions } = topicJsonSchemas(version, { prefix, refBase: '#/$defs/' });
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...event, $defs: definitions };
}

type RawSchema = string | RawSchema[] | { type: RawSchema; [key: string]: unknown };

class Converter {
  readonly definitions: Record<string, JsonSchema> = {};
  /** Record full name → its definition's name. */
  private readonly recordNames = new Map<string, string>();
  /** Named types (full name) → their raw definition, to find a logical type behind a reference. */
  private readonly rawNamed = new Map<string, RawSchema>();

  constructor(private readonly naming: JsonSchemaNaming) {}

  record(type: Type, raw: RawSchema, name: string, topLevel = false): void {
    const t = type as Type & { name?: string; doc?: string; fields: { name: string; type: Type; doc?: string; defaultValue(): unknown }[] };
    this.recordNames.set(t.name ?? name, name);
    const rawFields = (objectOf(this.resolve(raw))?.fields as { type: RawSchema; name: string }[] | undefined) ?? [];
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    // Reserve the name before the fields: a record that holds itself refers to this definition.
    const definition: JsonSchema = { type: 'object' };
    this.definitions[name] = definition;
    for (const field of t.fields) {
      const rawField = rawFields.find((f) => f.name === field.name)?.type ?? field.type.typeName;
      const schema = this.type(field.type, rawField);
      if (field.doc) schema.description = schema.description ? `${field.doc} (${schema.description})` : field.doc;
      if (Object.prototype.hasOwnProperty.call(field, 'defaultValue')) {
        const value = field.defaultValue();
        if (isJsonValue(value)) schema.default = value;
      } else {
        required.push(field.name);
      }
      properties[field.name] = schema;
    }
    if (t.doc) definition.description = t.doc;
    definition.properties = topLevel ? { ...properties, ...RESERVED_PROPERTIES } : properties;
    if (required.length > 0) definition.required = required;
    definition.additionalProperties = false;
  }

  private type(type: Type, raw: RawSchema): JsonSchema {
    const t = type as Type & Record<string, any>;
    const resolved = this.resolve(raw);
    const logical = logicalTypeOf(resolved);
    const schema = this.base(t, resolved);
    if (logical) schema.description = `Avro ${t.typeName} with logicalType ${logical}`;
    return schema;
  }

  private base(t: Type & Record<string, any>, raw: RawSchema): JsonSchema {
    switch (t.typeName as string) {
      case 'null':
        return { type: 'null' };
      case 'boolean':
        return { type: 'boolean' };
      case 'int':
        return { type: 'integer', minimum: INT_MIN, maximum: INT_MAX };
      case 'long':
        return { type: 'integer', minimum: LONG_MIN, maximum: LONG_MAX };
      case 'float':
      case 'double':
        return { type: 'number' };
      case 'string':
        return { type: 'string' };
      case 'bytes':
        return { type: 'string', contentEncoding: 'base64' };
      case 'fixed':
        return { type: 'string', contentEncoding: 'base64', description: `Avro fixed: ${t.size as number} bytes, base64` };
      case 'enum':
        return { type: 'string', enum: [...(t.symbols as string[])] };
      case 'array':
        return { type: 'array', items: this.type(t.itemsType, (objectOf(raw)?.items as RawSchema) ?? t.itemsType.typeName) };
      case 'map':
        return { type: 'object', additionalProperties: this.type(t.valuesType, (objectOf(raw)?.values as RawSchema) ?? t.valuesType.typeName) };
      case 'union:unwrapped':
        return { anyOf: (t.types as Type[]).map((branch, i) => this.type(branch, branchOf(raw, i, branch))) };
      case 'union:wrapped':
        // avsc wraps a union whose branches JSON cannot tell apart: {"<branch name>": value}.
        return {
          anyOf: (t.types as Type[]).map((branch, i) => {
            if (branch.typeName === 'null') return { type: 'null' };
            const key = (branch as any).branchName as string;
            return { type: 'object', properties: { [key]: this.type(branch, branchOf(raw, i, branch)) }, required: [key], additionalProperties: false };
          }),
        };
      case 'record':
      case 'error': {
        const full = t.name as string;
        let name = this.recordNames.get(full);
        if (name === undefined) {
          name = this.freeName(`${this.naming.prefix}${pascal(full.slice(full.lastIndexOf('.') + 1))}`);
          this.record(t, raw, name);
        }
        return { $ref: `${this.naming.refBase}${name}` };
      }
      default:
        throw new Error(`unsupported Avro type ${String(t.typeName)}`);
    }
  }

  /** Records of one short name in two namespaces (`a.Item`, `b.Item`) get a name each. */
  private freeName(name: string): string {
    let free = name;
    for (let n = 2; free in this.definitions; n++) free = `${name}${n}`;
    return free;
  }

  /** A reference by name (`"LineItem"`, `"shop.LineItem"`) → the named type's raw definition. */
  private resolve(raw: RawSchema): RawSchema {
    if (typeof raw === 'string') {
      for (const [full, definition] of this.rawNamed) if (full === raw || full.endsWith(`.${raw}`)) return definition;
      return raw;
    }
    const object = objectOf(raw);
    if (object && typeof object.name === 'string') {
      const namespace = typeof object.namespace === 'string' ? `${object.namespace}.` : '';
      this.rawNamed.set(object.name.includes('.') ? object.name : `${namespace}${object.name}`, raw);
    }
    return raw;
  }
}

function objectOf(raw: RawSchema): Record<string, unknown> | undefined {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : undefined;
}

function branchOf(raw: RawSchema, index: number, branch: Type): RawSchema {
  return Array.isArray(raw) && raw[index] !== undefined ? raw[index] : branch.typeName;
}

/** `{"type": "long", "logicalType": "timestamp-millis"}` or `{"type": {"type": …, "logicalType": …}}`. */
function logicalTypeOf(raw: RawSchema): string | undefined {
  const object = objectOf(raw);
  if (!object) return undefined;
  if (typeof object.logicalType === 'string') return object.logicalType;
  return typeof object.type === 'object' && object.type !== null ? logicalTypeOf(object.type as RawSchema) : undefined;
}

function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Buffer.isBuffer(value)) return false;
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (typeof value === 'object') return Object.values(value as object).every(isJsonValue);
  return false;
}

/** `order-placed` → `OrderPlaced`. */
export function pascal(name: string): string {
  return name
    .split(/[-_.]/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}
