import { isUtf8 } from 'node:buffer';
import sjson from 'secure-json-parse';
import { decodeAvroContainer } from '../decoding/avro-container';
import { decodeAvroDatums } from '../decoding/avro-datums';
import { checkJsonShape } from '../decoding/json-shape';
import { GatewayError } from '../errors';
import type { TopicVersion } from '../topics/registry';
import { QUERY_CONTROL_PARAMS, readQuery, type Query } from './query';

// Request bodies → a list of raw events, by content type. Malformed input and prototype
// poisoning (`__proto__`, `constructor.prototype`) are refused here with 400, in every
// content type that carries JSON — including sendBeacon's text/plain.

/** What one request may make a decoder produce. */
export interface DecodeLimits {
  maxEvents: number;
  maxDecodedBytes: number;
}

export interface DecodedBody {
  events: unknown[];
  /** Values come from an Avro decoder: already in the schema's shape. */
  prevalidated: boolean;
  /** For Avro in the requested version: each event's datum as sent, one per event. */
  datums?: Buffer[];
}

const JSON_TYPES = new Set(['application/json', 'text/plain']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']);
const FORM_TYPE = 'application/x-www-form-urlencoded';
const AVRO_TYPES = new Set(['avro/binary', 'application/avro', 'application/vnd.apache.avro+binary']);

/**
 * Whether a body of this Content-Type may be an Avro container, whose blocks inflate again
 * after any Content-Encoding (up to maxDecodedBytes each, one at a time). Never throws: the
 * decode budget asks before the content type is checked.
 */
export function mayHoldAvroBlocks(contentType: string | undefined): boolean {
  return contentType !== undefined && AVRO_TYPES.has(contentType.split(';')[0].trim().toLowerCase());
}

export const BEACON_CONTENT_TYPES = ['text/plain', 'application/json', FORM_TYPE];
export const EVENTS_CONTENT_TYPES = ['application/json', 'application/x-ndjson', 'avro/binary (datums or an Object Container File)'];

/** Keys that would reach an object's prototype if copied naively. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const CHARSET_PARAM = /(?:^|;)\s*charset\s*=\s*"?([^";\s]*)/gi;

/** The media type of a Content-Type header, lower-cased; a charset other than UTF-8 is refused. */
export function mediaTypeOf(contentType: string | undefined): string {
  if (!contentType) return '';
  const semi = contentType.indexOf(';');
  if (semi === -1) return contentType.trim().toLowerCase();
  const charsets = [...contentType.slice(semi).matchAll(CHARSET_PARAM)];
  // Two charsets are two answers to one question; reading either would be a guess.
  if (charsets.length > 1) throw new GatewayError('UNSUPPORTED_CHARSET', `Content-Type names a charset ${charsets.length} times; send at most one, UTF-8`);
  const charset = charsets[0]?.[1].toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new GatewayError('UNSUPPORTED_CHARSET', `charset "${charset.slice(0, 40)}" is not accepted; send UTF-8 (or no charset)`);
  }
  return contentType.slice(0, semi).trim().toLowerCase();
}

/** Beacon POST: sendBeacon's text/plain JSON, application/json, or a form. */
export function decodeBeaconBody(mediaType: string, body: Buffer, version: TopicVersion, limits: DecodeLimits): DecodedBody {
  if (JSON_TYPES.has(mediaType) || mediaType === '') return { events: parseJsonEvents(body, limits), prevalidated: false };
  if (mediaType === FORM_TYPE) return { events: [coerceParams(readForm(body), version)], prevalidated: false };
  throw unsupported(mediaType, BEACON_CONTENT_TYPES);
}

/** Service POST: JSON object or array, NDJSON, or Avro. */
export async function decodeEventsBody(mediaType: string, body: Buffer, version: TopicVersion, limits: DecodeLimits): Promise<DecodedBody> {
  if (JSON_TYPES.has(mediaType)) return { events: parseJsonEvents(body, limits), prevalidated: false };
  if (NDJSON_TYPES.has(mediaType)) return { events: parseNdjson(body, limits), prevalidated: false };
  if (AVRO_TYPES.has(mediaType)) {
    const datums: Buffer[] = [];
    const events = body.length >= 4 && body.subarray(0, 4).equals(OCF_MAGIC) ? await decodeAvroContainer(body, version, limits, datums) : decodeAvroDatums(body, version, limits, datums);
    return { events, prevalidated: true, datums: datums.length === events.length ? datums : undefined };
  }
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

/** Text bodies must be UTF-8 as sent: a decoder would swap bad bytes for U+FFFD silently. */
function utf8Text(body: Buffer): string {
  if (!isUtf8(body)) throw new GatewayError('MALFORMED_BODY', 'body: not valid UTF-8');
  return body.toString('utf8');
}

function tooMany(count: string | number, limits: DecodeLimits): GatewayError {
  return new GatewayError('TOO_MANY_EVENTS', `the request holds ${count} events; send at most ${limits.maxEvents} per request (server.maxEventsPerRequest)`);
}

function parseJsonEvents(body: Buffer, limits: DecodeLimits): unknown[] {
  if (body.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: empty; send a JSON object or an array of objects');
  checkJsonShape(body, limits.maxEvents, 'json');
  const value = parseJson(utf8Text(body), 'body');
  if (Array.isArray(value)) {
    if (value.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: an empty array holds no event');
    if (value.length > limits.maxEvents) throw tooMany(value.length, limits);
    return value;
  }
  if (typeof value === 'object' && value !== null) return [value];
  throw new GatewayError('MALFORMED_BODY', 'body: must be a JSON object or an array of objects');
}

/**
 * Media types a Segment-style SDK labels its JSON with: application/json, text/plain (browsers,
 * to skip a preflight), form-urlencoded and octet-stream (rudder-sdk-node's gzip body, as axios
 * labels a Buffer). The body is JSON whatever the label.
 */
const SEGMENT_JSON_TYPES = new Set([...JSON_TYPES, FORM_TYPE, 'application/octet-stream', '']);

/** One JSON object (a Segment call or batch), under any of SEGMENT_JSON_TYPES. */
export function decodeJsonObject(mediaType: string, body: Buffer, limits: DecodeLimits): Record<string, unknown> {
  if (!SEGMENT_JSON_TYPES.has(mediaType)) throw unsupported(mediaType, ['application/json', 'text/plain']);
  if (body.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: empty; send a JSON object');
  checkJsonShape(body, limits.maxEvents, 'json');
  const value = parseJson(utf8Text(body), 'body');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GatewayError('MALFORMED_BODY', 'body: must be a JSON object');
  return value as Record<string, unknown>;
}

function parseNdjson(body: Buffer, limits: DecodeLimits): unknown[] {
  checkJsonShape(body, limits.maxEvents, 'ndjson');
  const text = utf8Text(body);
  const events: unknown[] = [];
  let line = 1;
  for (let start = 0; start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const trimmed = text.slice(start, end).trim();
    start = end + 1;
    if (trimmed === '') continue;
    // Stop at the first line past the limit: the rest is neither parsed nor kept.
    if (events.length === limits.maxEvents) throw tooMany('more than that many', limits);
    events.push(parseJson(trimmed, `line ${line}`));
  }
  if (events.length === 0) throw new GatewayError('MALFORMED_BODY', 'body: no NDJSON lines');
  return events;
}

const OCF_MAGIC = Buffer.from('Obj\x01', 'latin1');

/** A form body, read as a query string is: once per name, UTF-8, the documented `$` names only. */
function readForm(body: Buffer): Query {
  return readQuery(`?${utf8Text(body)}`);
}

/**
 * Query strings and forms: one event from `field=value` pairs, each value coerced to its
 * field's type; `$d` may carry the whole (nested) event as base64url JSON. `v` picks the
 * version; `cb` and `_` are cache busters; `$status` is the pixel's; `$id` and `$time` are
 * envelope attributes. `readQuery` has refused repeated and unknown `$` names already.
 */
export function coerceParams(query: Query, version: TopicVersion): Record<string, unknown> {
  // A null-prototype object: a `__proto__` parameter must not reach Object.prototype.
  const event: Record<string, unknown> = Object.create(null);
  for (const key in query) {
    const value = query[key];
    if (FORBIDDEN_KEYS.has(key)) {
      throw new GatewayError('PROTOTYPE_POISONING', `parameter "${key}" is not allowed`);
    }
    if (QUERY_CONTROL_PARAMS.has(key) || key === '$status') continue;
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
  const bytes = Buffer.from(value, 'base64url');
  if (!isUtf8(bytes)) throw new GatewayError('BAD_PARAMETER', 'parameter $d: the base64url text does not decode to UTF-8 JSON');
  const payload = parseJson(bytes.toString('utf8'), 'parameter $d (base64url JSON)');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new GatewayError('MALFORMED_BODY', 'parameter $d: must be base64url of a JSON object');
  }
  return payload as Record<string, unknown>;
}
