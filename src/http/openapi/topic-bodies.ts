import type { Type } from 'avsc';
import type { JsonSchema } from '../../topics/json-schema';
import type { Topic, TopicVersion } from '../../topics/registry';
import { PUBLISHABLE_KEY_HEADER, SCHEMA_VERSION_HEADER } from '../cors';
import type { OpenApiContext } from './document';

// What beacons and service events carry, described once for both families: a request body of
// one event or an array of them, and the `field=value` form of a pixel's query or a form body,
// whose values query-coercion.ts turns into the field types.

/** One event of `version`, or an array of 1 to server.maxEventsPerRequest of them. */
export function eventsBody(context: OpenApiContext, version: TopicVersion | undefined): JsonSchema {
  const event = version ? context.event(version) : { type: 'object', description: "An event of the topic's schema version" };
  return { anyOf: [event, { type: 'array', items: event, minItems: 1, maxItems: context.server.maxEventsPerRequest }] };
}

/** JSON text of `schema`, as sendBeacon's text/plain carries it. */
export function jsonText(schema: JsonSchema, description: string): JsonSchema {
  return { type: 'string', description, contentMediaType: 'application/json', contentSchema: schema };
}

const FORM_SCALARS = new Set(['boolean', 'int', 'long', 'float', 'double', 'string', 'enum', 'bytes', 'fixed']);

/**
 * A top-level field as one `name=value` parameter: scalars as their type (a nullable one also
 * takes `null`), records, arrays, maps and other unions as JSON text.
 */
function formValue(fieldType: Type): JsonSchema {
  const t = fieldType as Type & Record<string, any>;
  if (FORM_SCALARS.has(t.typeName)) return scalar(t);
  if (t.typeName === 'union:unwrapped') {
    const branches = (t.types as Type[]).filter((b) => b.typeName !== 'null');
    if (branches.length === 1 && FORM_SCALARS.has(branches[0].typeName)) {
      return { ...scalar(branches[0] as Type & Record<string, any>), description: 'null: the text null (or empty, unless a string)' };
    }
  }
  return { type: 'string', description: 'JSON text of the value', contentMediaType: 'application/json' };
}

function scalar(t: Type & Record<string, any>): JsonSchema {
  switch (t.typeName as string) {
    case 'boolean':
      return { type: 'boolean', description: 'true, false, 1 or 0' };
    case 'int':
    case 'long':
      return { type: 'integer' };
    case 'float':
    case 'double':
      return { type: 'number' };
    case 'enum':
      return { type: 'string', enum: [...(t.symbols as string[])] };
    default:
      return { type: 'string' };
  }
}

/** A form body's or a pixel query's fields, each a string on the wire. */
export function formFields(version: TopicVersion): { properties: Record<string, JsonSchema>; required: string[] } {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const field of (version.type as any).fields as { name: string; type: Type; doc?: string }[]) {
    properties[field.name] = formValue(field.type);
    if (!Object.prototype.hasOwnProperty.call(field, 'defaultValue')) required.push(field.name);
  }
  return { properties, required };
}

/** The `$` names and control parameters a query or form takes beside the fields (query.ts). */
export const RESERVED_QUERY_FIELDS: Record<string, JsonSchema> = {
  $id: { type: 'string', minLength: 1, maxLength: 128, description: 'Event id for deduplication' },
  $time: { type: 'string', description: 'Event time: ms since the epoch, or RFC 3339' },
};

export const VERSION_QUERY_PARAMETER = {
  name: 'v',
  in: 'query',
  description: `Schema version; else the ${SCHEMA_VERSION_HEADER} header, else the topic's defaultVersion (not a positive integer: 400 BAD_VERSION; no such version: 404 UNKNOWN_VERSION)`,
  schema: { type: 'integer', minimum: 1, maximum: 999999 },
};

export const VERSION_HEADER_PARAMETER = {
  name: SCHEMA_VERSION_HEADER,
  in: 'header',
  description: 'Schema version, when ?v= is not given',
  schema: { type: 'integer', minimum: 1, maximum: 999999 },
};

export const PUBLISHABLE_KEY_PARAMETERS = [
  { name: 'k', in: 'query', description: "One of the topic's publishableKeys, when it has any (else 401 PUBLISHABLE_KEY_REQUIRED)", schema: { type: 'string' } },
  { name: PUBLISHABLE_KEY_HEADER, in: 'header', description: 'The publishable key, when ?k= is not given', schema: { type: 'string' } },
];

/**
 * `Origin`: for a topic, one of its allowedOrigins (any other is refused 403), unless it allows
 * every origin; for the templated path, any.
 */
export function originParameter(topic: Topic | undefined): Record<string, unknown> {
  const allowed = topic?.config.allowedOrigins.includes('*') === false ? topic.config.allowedOrigins : undefined;
  return {
    name: 'Origin',
    in: 'header',
    description: "The page's origin; must be in the topic's allowedOrigins (else 403 ORIGIN_NOT_ALLOWED). Without it, the Referer's origin is checked",
    schema: allowed && allowed.length > 0 ? originSchema(allowed) : { type: 'string' },
  };
}

/** The origins a list allows: each as itself, and `http://localhost:*` as that host on any port (cors.ts). */
export function originSchema(allowed: readonly string[]): Record<string, unknown> {
  const exact = allowed.filter((origin) => !origin.endsWith(':*'));
  const anyPort = allowed.filter((origin) => origin.endsWith(':*')).map((origin) => ({ type: 'string', pattern: `^${escapeRegExp(origin.slice(0, -2))}(:[0-9]{1,5})?$` }));
  if (anyPort.length === 0) return { type: 'string', enum: exact };
  return { anyOf: [...(exact.length > 0 ? [{ type: 'string', enum: exact }] : []), ...anyPort] };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
