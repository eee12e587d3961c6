import type { TopicVersion } from '../topics/registry';
import { uuidv7 } from './uuidv7';

// The envelope: what the gateway adds to every accepted event, carried as CloudEvents
// attributes (structured JSON on files and Firehose, headers on Kafka).

export interface GatewayEvent {
  /** Client-supplied (`$id`) for deduplication, else a UUIDv7. */
  id: string;
  /** The topic version the event was validated against (service, topic, Avro type). */
  schema: TopicVersion;
  /** CloudEvents `source`: the endpoint that took the event. */
  source: string;
  /** Receive time, ms since the epoch. */
  receivedAt: number;
  /** The client's event time (`$time`), ms since the epoch, when given. */
  eventTime?: number;
  clientIp?: string;
  userAgent?: string;
  /** Validated data in the schema's shape. */
  data: Record<string, unknown>;
  /** Estimated size in bytes, used for batching and the memory bound. */
  size: number;
  /** Partition key value (topic's partitionKey field), else undefined. */
  key?: string;
  /**
   * The Avro binary datum of `data` in `schema`'s version, when the client sent exactly that
   * (Avro input in the declared version): Kafka sends these bytes instead of encoding again.
   * A view into the request body, so it costs no copy; not kept in the spool.
   */
  datum?: Buffer;
  /**
   * Indexes in its topic's `routes` of the routes this copy is for, as the spool records them;
   * absent: the first route only (a topic of one route, and every entry an older spool wrote).
   */
  routes?: readonly number[];
}

const MAX_ID_LENGTH = 128;

/**
 * The latest event time every destination can carry: CloudEvents `time` is RFC 3339, whose
 * year has four digits (`Date` itself would go on to +275760 and print `+010000-…`).
 * https://www.rfc-editor.org/rfc/rfc3339#section-5.6
 */
export const MAX_EVENT_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
/**
 * Characters an id must not hold: C0 and C1 controls, DEL, and the line and paragraph
 * separators, which end a line in JavaScript and in some log viewers. An id is written into
 * NDJSON lines, Kafka headers and logs, where any of them would split or disguise a record.
 */
const ID_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const EPOCH_MS_TEXT = /^\d{1,16}$/;

/** Reads `$id`; returns an error message when present but unusable. */
export function clientEventId(raw: unknown): string | undefined | Error {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_ID_LENGTH || !raw.isWellFormed()) {
    return new Error(`$id must be a non-empty string of Unicode text of at most ${MAX_ID_LENGTH} characters`);
  }
  if (ID_FORBIDDEN.test(raw)) return new Error('$id must not hold control characters (U+0000–U+001F, U+007F–U+009F) or line separators (U+2028, U+2029)');
  return raw;
}

/**
 * Reads `$time`: integer ms since the epoch (a number or its digits) or an RFC 3339 string,
 * from 1970 to the end of 9999. Anything else is refused here, naming the field, rather than
 * failing later in an encoder that cannot represent it.
 */
export function clientEventTime(raw: unknown): number | undefined | Error {
  if (raw === undefined) return undefined;
  let ms = NaN;
  if (typeof raw === 'number') ms = raw;
  else if (typeof raw === 'string') ms = EPOCH_MS_TEXT.test(raw) ? Number(raw) : rfc3339Ms(raw);
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_EVENT_TIME_MS) {
    return new Error('$time must be integer ms since the epoch or an RFC 3339 timestamp, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z');
  }
  return ms;
}

/**
 * The ms of an RFC 3339 timestamp whose every field is in range, else NaN. `Date.parse`
 * alone rolls an impossible date over (2026-02-30 becomes 2026-03-02) rather than refusing it.
 * A leap second (:60) is refused too: `Date` cannot represent it.
 */
function rfc3339Ms(text: string): number {
  const m = RFC_3339.exec(text);
  if (!m) return NaN;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  const offsetOk = m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || !offsetOk) return NaN;
  return Date.parse(text);
}

export function newEventId(): string {
  return uuidv7();
}

/**
 * Drops the host part of an address so that it no longer names one subscriber:
 * IPv4 keeps /24, IPv6 keeps /48 (the usual analytics anonymisation).
 */
export function anonymizeIp(ip: string): string {
  const v4 = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  if (v4.includes('.')) {
    const parts = v4.split('.');
    return parts.length === 4 ? `${parts[0]}.${parts[1]}.${parts[2]}.0` : ip;
  }
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 3).join(':')}::` : ip;
}

function expandIpv6(ip: string): string[] | undefined {
  const [head, tail] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  return [...left, ...new Array(missing).fill('0'), ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}

/** The CloudEvents structured-mode JSON of an event: one NDJSON line for files and Firehose. */
/**
 * RFC 3339 text of a time in ms. Events of one request, and of one busy millisecond, share
 * their receive time, so the last result is kept: formatting a Date is the dearest part of
 * serialising a small event.
 */
export const isoTime = (() => {
  let lastMs = NaN;
  let lastText = '';
  return (ms: number): string => {
    if (ms !== lastMs) {
      lastText = new Date(ms).toISOString();
      lastMs = ms;
    }
    return lastText;
  };
})();

export function toCloudEventJson(event: GatewayEvent): string {
  const schema = event.schema;
  const received = isoTime(event.receivedAt);
  const time = event.eventTime === undefined ? received : new Date(event.eventTime).toISOString();
  let extensions = `,"receivedtime":"${received}"`;
  if (event.clientIp !== undefined) extensions += `,"clientip":${JSON.stringify(event.clientIp)}`;
  if (event.userAgent !== undefined) extensions += `,"useragent":${JSON.stringify(event.userAgent)}`;
  return (
    `{"specversion":"1.0","id":${JSON.stringify(event.id)},"source":"${event.source}",` +
    `"type":"${schema.cloudEventType}","time":"${time}"${extensions},` +
    `"datacontenttype":"application/json","dataschema":"${schema.dataschema}","data":${schema.toJson(event.data)}}`
  );
}
