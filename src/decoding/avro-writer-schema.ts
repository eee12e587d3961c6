import { isUtf8 } from 'node:buffer';
import avro, { type Type } from 'avsc';
import sjson from 'secure-json-parse';
import { GatewayError, type ErrorCode } from '../errors';
import type { TopicVersion } from '../topics/registry';

// The writer schema an Object Container File carries in its header (`avro.schema`), and
// the resolver that reads its records as the requested version. A producer sends the same
// schema with every request, so the pair is cached per version, keyed by the schema text.

/** JSON nesting of a writer schema; a record adds about four levels. */
export const MAX_SCHEMA_JSON_DEPTH = 128;
/** Writer schemas remembered per topic version; a producer that rotates more only pays the parse again. */
const CACHED_PER_VERSION = 8;
/** avsc's messages can quote whole schemas; answers quote at most this much of them. */
const MAX_QUOTED_CHARS = 300;

export interface WriterSchema {
  writerType: Type;
  resolver: avro.Resolver;
  /**
   * The writer's Parsing Canonical Form is the version's: records are then byte for byte
   * datums of the version (binary encoding depends on nothing else), and need no re-encoding.
   * https://avro.apache.org/docs/1.11.1/specification/#parsing-canonical-form-for-schemas
   */
  isVersion: boolean;
}

const cache = new WeakMap<TopicVersion, Map<string, WriterSchema>>();

/** `schema` is already bounded by the header's size limit. */
export function readWriterSchema(schema: Buffer, version: TopicVersion): WriterSchema {
  const key = schema.toString('latin1');
  let known = cache.get(version);
  const hit = known?.get(key);
  if (hit) return hit;

  const writerType = parseWriterType(schema);
  let resolver: avro.Resolver;
  try {
    resolver = version.type.createResolver(writerType);
  } catch (err) {
    throw fileError('MALFORMED_BODY', `its schema cannot be read as v${version.version} (${quote((err as Error).message)})`);
  }
  const entry = { writerType, resolver, isVersion: writerType.equals(version.type) };
  if (!known) cache.set(version, (known = new Map()));
  if (known.size >= CACHED_PER_VERSION) known.delete(known.keys().next().value!);
  known.set(key, entry);
  return entry;
}

function parseWriterType(schema: Buffer): Type {
  if (!isUtf8(schema)) throw fileError('MALFORMED_BODY', 'avro.schema is not valid UTF-8');
  const depth = jsonDepth(schema);
  if (depth > MAX_SCHEMA_JSON_DEPTH) throw fileError('MALFORMED_BODY', `avro.schema nests deeper than ${MAX_SCHEMA_JSON_DEPTH} levels`);
  let json: unknown;
  try {
    json = sjson.parse(schema.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes('forbidden')) throw fileError('PROTOTYPE_POISONING', 'avro.schema: keys __proto__ and constructor.prototype are not allowed');
    throw fileError('MALFORMED_BODY', `avro.schema is not JSON (${quote(message)})`);
  }
  try {
    return avro.Type.forSchema(json as avro.Schema);
  } catch (err) {
    throw fileError('MALFORMED_BODY', `avro.schema is not a valid Avro schema (${quote((err as Error).message)})`);
  }
}

/** Deepest nesting of `[` and `{` outside strings; bounds avsc's recursion over the schema. */
function jsonDepth(text: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

export function quote(message: string, max = MAX_QUOTED_CHARS): string {
  return message.length > max ? `${message.slice(0, max)}…` : message;
}

/** Every refusal of a container file starts the same way. */
export function fileError(code: ErrorCode, message: string): GatewayError {
  return new GatewayError(code, `Avro container file: ${message}`);
}
