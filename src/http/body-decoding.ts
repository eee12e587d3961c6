import { Readable } from 'node:stream';
import avro from 'avsc';
import sjson from 'secure-json-parse';
import { GatewayError } from '../errors';
import type { TopicVersion } from '../topics/registry';

// Request bodies → a list of raw events, by content type. Malformed input and prototype
// poisoning (`__proto__`, `constructor.prototype`) are refused here with 400, in every
// content type that carries JSON — including sendBeacon's text/plain.

export interface DecodedBody {
  events: unknown[];
  /** Values come from an Avro decoder: already in the schema's shape. */
  prevalidated: boolean;
}

const JSON_TYPES = new Set(['application/json', 'text/plain', 'application/cloudevents-batch+json']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
const AVRO_TYPES = new Set(['avro/binary', 'application/avro', 'application/vnd.apache.avro+binary']);

export const BEACON_CONTENT_TYPES = ['text/plain', 'application/json', FORM_TYPE];
export const EVENTS_CONTENT_TYPES = ['application/json', 'application/x-ndjson', 'avro/binary (datums or an Object Container File)'];

/** Keys that would reach an object's prototype if copied naively. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function mediaTypeOf(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Beacon POST: sendBeacon's text/plain JSON, application/json, or a form. */
export function decodeBeaconBody(mediaType: string, body: Buffer, version: TopicVersion): DecodedBody {
  if (JSON_TYPES.has(mediaType) || mediaType === '') return { events: parseJsonEvents(body), prevalidated: false };
  if (mediaType === FORM_TYPE) return { events: [coerceParams(new URLSearchParams(body.toString('utf8')), version)], prevalidated: false };
  throw unsupported(mediaType, BEACON_CONTENT_TYPES);
}

/** Service POST: JSON object or array, NDJSON, or Avro. */
export async function decodeEventsBody(mediaType: string, body: Buffer, version: TopicVersion): Promise<DecodedBody> {
  if (JSON_TYPES.has(mediaType)) return { events: parseJsonEvents(body), prevalidated: false };
  if (NDJSON_TYPES.has(mediaType)) return { events: parseNdjson(body), prevalidated: false };
  if (AVRO_TYPES.has(mediaType)) return { events: await decodeAvro(body, version), prevalidated: true };
  throw unsupported(mediaType, EVENTS_CONTENT_TYPES);
}

function unsupported(mediaType: string, accepted: string[]): GatewayError {
  return new GatewayError(
    'UNSUPPORTED_CONTENT_TYPE',
    `content type ${mediaType ? `"${mediaType}"` : '(none)'} is not accepted here; send one of: ${accepted.join(', ')}`,
  );
}

function parseJson(text: string, where: string): unknown {
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes('forbidden')) {
      throw new GatewayError('PROTOTYPE_POISONING', `${where}: keys __proto__ and constructor.prototype are not allowed`);
    }
    throw new GatewayError('MALFORMED_BODY', `${where}: malformed JSON (${message})`);
  }
}

function parseJsonEvents(body: Buffer): unknown[] {
  if (body.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: empty; send a JSON object or an array of objects');
  const value = parseJson(body.toString('utf8'), 'body');
  if (Array.isArray(value)) {
    if (value.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: an empty array holds no event');
    return value;
  }
  if (typeof value === 'object' && value !== null) return [value];
  throw new GatewayError('MALFORMED_BODY', 'body: must be a JSON object or an array of objects');
}

function parseNdjson(body: Buffer): unknown[] {
  const events: unknown[] = [];
  const lines = body.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line !== '') events.push(parseJson(line, `line ${i + 1}`));
  }
  if (events.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: no NDJSON lines');
  return events;
}

const OCF_MAGIC = Buffer.from('Obj\x01', 'latin1');

async function decodeAvro(body: Buffer, version: TopicVersion): Promise<unknown[]> {
  if (body.length >= 4 && body.subarray(0, 4).equals(OCF_MAGIC)) return decodeContainerFile(body, version);
  // A run of binary datums written with the requested version's schema.
  const events: unknown[] = [];
  let offset = 0;
  while (offset < body.length) {
    let decoded: { value: unknown; offset: number };
    try {
      decoded = version.type.decode(body, offset);
    } catch (err) {
      throw new GatewayError('MALFORMED_BODY', `Avro datum ${events.length} at byte ${offset}: cannot decode with v${version.version} (${(err as Error).message})`);
    }
    if (decoded.offset < 0) {
      throw new GatewayError('MALFORMED_BODY', `Avro datum ${events.length} at byte ${offset}: truncated (not a complete v${version.version} datum)`);
    }
    events.push(decoded.value);
    offset = decoded.offset;
  }
  if (events.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: no Avro datum');
  return events;
}

/** An Object Container File carries its writer schema; its records are resolved to the requested version. */
function decodeContainerFile(body: Buffer, version: TopicVersion): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const events: unknown[] = [];
    let resolver: avro.Resolver | undefined;
    const decoder = new avro.streams.BlockDecoder({ noDecode: true });
    const fail = (message: string) => reject(new GatewayError('MALFORMED_BODY', `Avro container file: ${message}`));
    decoder.on('metadata', (writerType: avro.Type) => {
      try {
        resolver = version.type.createResolver(writerType);
      } catch (err) {
        decoder.destroy();
        fail(`its schema cannot be read as v${version.version} (${(err as Error).message})`);
      }
    });
    decoder.on('data', (datum: Buffer) => {
      try {
        events.push(version.type.fromBuffer(datum, resolver));
      } catch (err) {
        decoder.destroy();
        fail(`record ${events.length}: ${(err as Error).message}`);
      }
    });
    decoder.on('error', (err: Error) => fail(err.message));
    decoder.on('end', () => (events.length === 0 ? fail('no records') : resolve(events)));
    Readable.from([body]).pipe(decoder);
  });
}

/**
 * Query strings and forms: one event from `field=value` pairs, each value coerced to its
 * field's type; `$d` may carry the whole (nested) event as base64url JSON. `v` picks the
 * version; `cb` and `_` are cache busters; other `$` names are envelope attributes.
 */
export function coerceParams(params: Iterable<[string, string]>, version: TopicVersion): Record<string, unknown> {
  // A null-prototype object: a `__proto__` parameter must not reach Object.prototype.
  const event: Record<string, unknown> = Object.create(null);
  for (const [key, value] of params) {
    if (FORBIDDEN_KEYS.has(key)) {
      throw new GatewayError('PROTOTYPE_POISONING', `parameter "${key}" is not allowed`);
    }
    if (key === 'v' || key === 'cb' || key === '_') continue;
    if (key === '$d') {
      Object.assign(event, decodePayloadParam(value));
      continue;
    }
    const coerce = version.coercers.get(key);
    event[key] = coerce ? coerce(value) : value;
  }
  return event;
}

function decodePayloadParam(value: string): Record<string, unknown> {
  const text = Buffer.from(value, 'base64url').toString('utf8');
  const payload = parseJson(text, 'parameter $d (base64url JSON)');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new GatewayError('MALFORMED_BODY', 'parameter $d: must be base64url of a JSON object');
  }
  return payload as Record<string, unknown>;
}
