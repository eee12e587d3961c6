import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlibConstants, createBrotliCompress, createDeflate, createDeflateRaw, createGzip, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { validImpression, validOrder } from '../helpers/gateway';
import { HOSTILE_AUTH, HOSTILE_LIMITS, PROJECT_ROOT, hasMetric, httpGet, sumMetric, type HostileGateway } from './gateway-child';
import { bytesUnder, gzipLinesUnder, waitForLine } from './files';
import { exchange, jsonOf, requestBytes, type HttpSend, type Outcome, type RawAnswer } from './raw-http';

// The attack corpus of issue 10: one or more cases per class of the issue's items 1–9, each a
// request (raw bytes for a raw socket, or method/path/headers/body) and the answer the
// contract (/tmp/tg/contract.md) says it gets. The attack test (hostile.test.ts) asserts each
// answer and that the gateway stays up, small and responsive meanwhile; the hostile report
// (load-tests/hostile.ts) prints what each case costs a given build.

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface Expect {
  /** The status, or 'closed': the server closes the connection without an answer. */
  status: number | 'closed';
  /** `error.code` of a refusal; null for a 2xx or a close. */
  code: string | null;
  /** Other answers the contract allows as well. */
  alsoAccept?: { status: number | 'closed'; code: string | null }[];
  /** Headers the answer must carry, matched case-insensitively by name. */
  headers?: Record<string, RegExp>;
  /** The body must be shorter than this (refusals never echo a long URL or header back). */
  maxBodyBytes?: number;
  /** The answer must come within this many ms of the first byte sent. */
  withinMs?: number;
}

export interface CaseContext {
  gateway: HostileGateway;
  limits: typeof HOSTILE_LIMITS;
  /** One request to the public port. */
  send(request: HttpSend | Buffer, timeoutMs?: number): Promise<Outcome>;
}

export interface CustomRun {
  outcome: Outcome;
  /** Bytes sent in all, when more than the case's `send`. */
  inputBytes?: number;
  notes?: string[];
  failures?: string[];
}

export interface CorpusCase {
  name: string;
  /** The item of issue 10 the case belongs to (1–9). */
  issueItem: number;
  /** Raw bytes for a raw socket, or a request serialised by raw-http's requestBytes. */
  send: Buffer | HttpSend;
  expect: Expect;
  /** Which of the gateway's ports; default public. */
  port?: 'public' | 'admin';
  /** Send the first `afterBytes` at once, then one byte every `intervalMs`. */
  dribble?: { afterBytes: number; intervalMs: number };
  /** End the client's side once the request is written, then wait for the answer. */
  halfClose?: boolean;
  /** A valid pixel GET must be answered quickly while this case is in flight. */
  probe?: boolean;
  /** Time allowed for the answer (default 15 s). */
  timeoutMs?: number;
  /** Instead of sending `send` once: the case's own exchange (bursts, many requests, keep-alive). */
  run?: (ctx: CaseContext) => Promise<CustomRun>;
  /** Assertions after the answer; each string returned is a failure. */
  check?: (ctx: CaseContext, answer: RawAnswer | undefined) => Promise<string[]>;
}

/** Bytes a case sends (its `send`; custom runs report their own total). */
export function inputBytesOf(c: CorpusCase): number {
  return Buffer.isBuffer(c.send) ? c.send.length : requestBytes(c.send).length;
}

// ---------------------------------------------------------------------------------------
// Valid inputs

export const BEACON_PATH = '/v1/beacon/widget/impression';
export const EVENTS_PATH = '/v1/events/shop/order-placed';
export const ALLOWED_ORIGIN = 'https://publisher.example';

/** The README's pixel: a valid widget impression as query parameters. */
export const VALID_PIXEL_QUERY = 'widgetId=w-1&pageUrl=https%3A%2F%2Fpublisher.example%2Fa&placement=TOP&position=3&visibleMs=1200&aboveFold=true';

export function pixelPath(query = VALID_PIXEL_QUERY): string {
  return `${BEACON_PATH}?${query}`;
}

/** A valid pixel GET: what a browser sends while an attack is under way. */
export const PROBE_REQUEST: HttpSend = { method: 'GET', path: pixelPath(VALID_PIXEL_QUERY.replace('w-1', 'probe')), headers: { referer: `${ALLOWED_ORIGIN}/a` } };

// The same example events as every other test.
export { validImpression, validOrder };

const unique = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

function postEvents(body: Buffer, headers: Record<string, string> = {}, path = EVENTS_PATH): HttpSend {
  return { method: 'POST', path, headers: { ...HOSTILE_AUTH, 'Content-Type': 'application/json', ...headers }, body };
}

function postBeacon(body: Buffer, headers: Record<string, string> = {}): HttpSend {
  return { method: 'POST', path: BEACON_PATH, headers: { 'Content-Type': 'text/plain;charset=UTF-8', Origin: ALLOWED_ORIGIN, ...headers }, body };
}

function getPixel(query: string, headers: Record<string, string> = {}): HttpSend {
  return { method: 'GET', path: pixelPath(query), headers: { Referer: `${ALLOWED_ORIGIN}/a`, ...headers } };
}

// ---------------------------------------------------------------------------------------
// Avro by hand: lengths and counts are zigzag varints, so any of them can claim anything.

/** Avro `long`: zigzag, then base-128 varint, for any bigint (2^62 needs 10 bytes). */
export function avroLong(value: bigint | number): Buffer {
  const n = BigInt(value);
  let z = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number((z & 0x7fn) | 0x80n));
    z >>= 7n;
  }
  bytes.push(Number(z));
  return Buffer.from(bytes);
}

export function avroString(text: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  return Buffer.concat([avroLong(bytes.length), bytes]);
}

/** An order-placed v1 datum up to (not including) its `items` array. */
function orderDatumHead(orderId: string): Buffer {
  return Buffer.concat([
    avroString(orderId),
    avroString('c-1'),
    avroLong(1764000000000), // placedAt
    avroLong(4599), // totalCents
    avroLong(0), // currency: EUR
    avroLong(0), // couponCode: null branch
  ]);
}

const LINE_ITEM = Buffer.concat([avroString('SKU-1'), avroLong(2), avroLong(1500)]);

/** A whole valid order-placed v1 datum with `count` line items. */
export function orderDatum(orderId: string, count = 1): Buffer {
  const items = count === 0 ? [avroLong(0)] : [avroLong(count), ...Array.from({ length: count }, () => LINE_ITEM), avroLong(0)];
  return Buffer.concat([orderDatumHead(orderId), ...items]);
}

/** Pads an id so that the datum is about `total` bytes: the "hundred-byte body". */
function paddedId(prefix: string, total: number, rest: number): string {
  return prefix + '-'.repeat(Math.max(0, total - rest - prefix.length - 2));
}

const OCF_MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const OCF_SYNC = Buffer.from('hostile-sync-16b');

function orderSchemaText(): string {
  return readFileSync(join(PROJECT_ROOT, 'topics', 'shop', 'order-placed', 'v1.avsc'), 'utf8');
}

/** An Object Container File header: magic, metadata map (schema, codec), sync marker. */
export function ocfHeader(codec: 'null' | 'deflate', metadataCount: bigint = 2n): Buffer {
  return Buffer.concat([
    OCF_MAGIC,
    avroLong(metadataCount),
    avroString('avro.schema'),
    avroString(JSON.stringify(JSON.parse(orderSchemaText()))),
    avroString('avro.codec'),
    avroString(codec),
    avroLong(0),
    OCF_SYNC,
  ]);
}

/** One block: object count, byte size (claimed, default the real one), data, sync. */
export function ocfBlock(count: bigint | number, data: Buffer, sizeClaim?: bigint): Buffer {
  return Buffer.concat([avroLong(count), avroLong(sizeClaim ?? BigInt(data.length)), data, OCF_SYNC]);
}

// ---------------------------------------------------------------------------------------
// Compression bombs: 1 GiB of zeros, compressed once, streaming, and cached in the temp dir.

export type BombKind = 'gzip' | 'deflate' | 'br' | 'deflate-raw';

const BOMB_DIR = join(tmpdir(), 'tg-hostile-bombs');
const BOMB_INFLATED_BYTES = 1 * GiB;

function compressor(kind: BombKind) {
  switch (kind) {
    case 'gzip':
      return createGzip({ level: 9 });
    case 'deflate':
      return createDeflate({ level: 9 }); // HTTP "deflate" is the zlib format (RFC 9110)
    case 'deflate-raw':
      return createDeflateRaw({ level: 9 }); // an Avro container's "deflate" codec is raw (RFC 1951)
    case 'br':
      return createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: BOMB_INFLATED_BYTES } });
  }
}

/** 1 GiB of zeros compressed with `kind` (about 1 MiB; brotli far less); made once per machine. */
export async function zeroBomb(kind: BombKind): Promise<Buffer> {
  const file = join(BOMB_DIR, `${kind}-1GiB-zeros.bin`);
  if (existsSync(file) && statSync(file).size > 0) return readFileSync(file);
  mkdirSync(BOMB_DIR, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  const fd = openSync(partial, 'w');
  try {
    const z = compressor(kind);
    z.on('data', (chunk: Buffer) => writeSync(fd, chunk));
    const ended = once(z, 'end');
    const zeros = Buffer.alloc(MiB);
    for (let written = 0; written < BOMB_INFLATED_BYTES; written += zeros.length) {
      if (!z.write(zeros)) await once(z, 'drain');
    }
    z.end();
    await ended;
  } finally {
    closeSync(fd);
  }
  renameSync(partial, file);
  return readFileSync(file);
}

// ---------------------------------------------------------------------------------------
// Checks shared by cases

/** The refusal names `field`: in an event problem's path, or in its message. */
function namesField(answer: RawAnswer | undefined, field: string): string[] {
  const body = answer && jsonOf(answer);
  const error = body?.error;
  if (!error) return [`no error body to name ${field} in`];
  const inEvents = Array.isArray(error.events) && error.events.some((e: any) => typeof e?.path === 'string' && (e.path === field || e.path.startsWith(`${field}.`) || e.path.startsWith(`${field}[`)));
  const inMessage = typeof error.message === 'string' && error.message.includes(field);
  return inEvents || inMessage ? [] : [`the refusal does not name "${field}": ${JSON.stringify(error).slice(0, 300)}`];
}

const named = (field: string) => async (_ctx: CaseContext, answer: RawAnswer | undefined) => namesField(answer, field);

function deadLetterDir(ctx: CaseContext, service = 'widget', topic = 'impression'): string {
  return join(ctx.gateway.dataDir, '_dead-letter', service, topic);
}

/** A valid order POSTed now is answered 200 and lands in the file destination, not the spool. */
async function orderStillDelivered(ctx: CaseContext, tag: string): Promise<string[]> {
  const orderId = unique(`after-${tag}`);
  const outcome = await ctx.send(postEvents(json([validOrder({ orderId })])), 10_000);
  if (outcome.kind !== 'answer') return [`a valid order sent afterwards got no answer (${outcome.kind})`];
  if (outcome.answer.status !== 200) return [`a valid order sent afterwards was answered ${outcome.answer.status}: ${outcome.answer.body.toString().slice(0, 200)}`];
  // 200 means durable: in the file destination, or in the spool if the destination is down.
  const line = await waitForLine(join(ctx.gateway.dataDir, 'shop', 'order-placed'), orderId, 1000);
  return line ? [] : [`a valid order sent afterwards was answered 200 but is not in the file destination: the destination went down and it was spooled`];
}

// ---------------------------------------------------------------------------------------
// The corpus

export async function buildCorpus(): Promise<CorpusCase[]> {
  const [gzipBomb, deflateBomb, brBomb, rawDeflateBomb] = await Promise.all([zeroBomb('gzip'), zeroBomb('deflate'), zeroBomb('br'), zeroBomb('deflate-raw')]);
  const limits = HOSTILE_LIMITS;
  const cases: CorpusCase[] = [];
  const add = (c: CorpusCase) => cases.push(c);
  const avro = (body: Buffer): HttpSend => ({ method: 'POST', path: EVENTS_PATH, headers: { ...HOSTILE_AUTH, 'Content-Type': 'avro/binary' }, body });
  const refusal = (status: number, code: string, extra: Partial<Expect> = {}): Expect => ({ status, code, ...extra });
  const ok = (status = 200): Expect => ({ status, code: null });

  // --- 1. Decoding is bounded before it allocates -----------------------------------------
  {
    const head = orderDatumHead(paddedId('o-array-count', 100, 7 + 12 + 10 + LINE_ITEM.length));
    add({
      name: 'Avro datum: array block count 2^62 (~100 B)',
      issueItem: 1,
      send: avro(Buffer.concat([head, avroLong(2n ** 62n), LINE_ITEM])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    // avsc allocates `new Array(count)` for a block: 2^62 throws RangeError at once, while a
    // count a JS array can have (up to 2^32−1) makes it read items past the end of the body
    // as zeros, for as long as memory lasts.
    add({
      name: 'Avro datum: array block count 2^32-1 (~100 B)',
      issueItem: 1,
      send: avro(Buffer.concat([orderDatumHead(paddedId('o-array-count', 100, 7 + 12 + 5 + LINE_ITEM.length)), avroLong(2 ** 32 - 1), LINE_ITEM])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    add({
      name: 'Avro datum: array block count -2^62 with block size 2^62',
      issueItem: 1,
      send: avro(Buffer.concat([orderDatumHead('o-negative-count'), avroLong(-(2n ** 62n)), avroLong(2n ** 62n), LINE_ITEM])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    add({
      name: 'Avro datum: string length 2^40',
      issueItem: 1,
      send: avro(Buffer.concat([avroLong(2n ** 40n), Buffer.from('o-string-length-'.padEnd(90, 'x'))])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    add({
      name: 'Avro datum: union branch 7 of 2',
      issueItem: 1,
      send: avro(Buffer.concat([avroString('o-union'), avroString('c-1'), avroLong(1), avroLong(1), avroLong(0), avroLong(7), avroLong(0)])),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'Avro datums: 3 valid orders (control)',
      issueItem: 1,
      send: avro(Buffer.concat([orderDatum(unique('avro-a')), orderDatum(unique('avro-b'), 2), orderDatum(unique('avro-c'), 0)])),
      expect: ok(),
    });
    // Zeros decode as valid orders of 7 bytes each ("", "", 0, 0, EUR, null, []): the block
    // claims as many as the per-request limit takes, so that only the decoded-size bound stops it.
    add({
      name: `Avro container: deflate block of ${limits.server.maxEventsPerRequest} records inflating to 1 GiB (${Math.round(rawDeflateBomb.length / KiB)} KiB)`,
      issueItem: 1,
      send: avro(Buffer.concat([ocfHeader('deflate'), ocfBlock(limits.server.maxEventsPerRequest, rawDeflateBomb)])),
      expect: refusal(413, 'DECODED_TOO_LARGE'),
      probe: true,
    });
    add({
      name: `Avro container: deflate block of ${Math.floor(BOMB_INFLATED_BYTES / 7).toLocaleString('en-US')} records inflating to 1 GiB`,
      issueItem: 1,
      send: avro(Buffer.concat([ocfHeader('deflate'), ocfBlock(Math.floor(BOMB_INFLATED_BYTES / 7), rawDeflateBomb)])),
      // Refused on the count it claims before inflating, or on the inflated size.
      expect: { ...refusal(413, 'DECODED_TOO_LARGE'), alsoAccept: [{ status: 413, code: 'TOO_MANY_EVENTS' }] },
      probe: true,
    });
    add({
      name: 'Avro container: block object count 2^62',
      issueItem: 1,
      send: avro(Buffer.concat([ocfHeader('null'), ocfBlock(2n ** 62n, orderDatum('o-ocf-count'))])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    add({
      name: 'Avro container: block byte size 2^40',
      issueItem: 1,
      send: avro(Buffer.concat([ocfHeader('deflate'), ocfBlock(1, deflateRawSync(orderDatum('o-ocf-size')), 2n ** 40n)])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    add({
      name: 'Avro container: metadata map count 2^62',
      issueItem: 1,
      send: avro(Buffer.concat([ocfHeader('null', 2n ** 62n), ocfBlock(1, orderDatum('o-ocf-meta'))])),
      expect: refusal(400, 'MALFORMED_BODY'),
      probe: true,
    });
    add({
      name: 'Avro container: 3 valid orders, deflate (control)',
      issueItem: 1,
      send: avro(Buffer.concat([ocfHeader('deflate'), ocfBlock(3, deflateRawSync(Buffer.concat([orderDatum(unique('ocf-a')), orderDatum(unique('ocf-b'), 3), orderDatum(unique('ocf-c'))])))])),
      expect: ok(),
    });
    for (const [encoding, bomb] of [
      ['gzip', gzipBomb],
      ['br', brBomb],
      ['deflate', deflateBomb],
    ] as const) {
      add({
        name: `Content-Encoding ${encoding} bomb: 1 GiB of zeros (${Math.round(bomb.length / KiB)} KiB), /v1/events`,
        issueItem: 1,
        send: postEvents(bomb, { 'Content-Encoding': encoding }),
        expect: refusal(413, 'DECODED_TOO_LARGE'),
        probe: true,
      });
    }
    add({
      name: `Content-Encoding gzip bomb: 1 GiB of zeros, beacon POST`,
      issueItem: 1,
      send: postBeacon(gzipBomb, { 'Content-Encoding': 'gzip' }),
      expect: refusal(413, 'DECODED_TOO_LARGE'),
      probe: true,
    });
  }

  // --- 2. Bounded work per request --------------------------------------------------------
  {
    const tooMany = (check: RawAnswer | undefined) => {
      const message = (check && jsonOf(check)?.error?.message) ?? '';
      return /10[,.\s]?000/.test(message) ? [] : [`TOO_MANY_EVENTS does not name the limit ${limits.server.maxEventsPerRequest}: ${JSON.stringify(message)}`];
    };
    add({
      name: 'JSON array of 1,000,000 {} (~3 MB)',
      issueItem: 2,
      send: postEvents(Buffer.from(`[${'{},'.repeat(999_999)}{}]`)),
      expect: refusal(413, 'TOO_MANY_EVENTS'),
      probe: true,
      check: async (_ctx, answer) => tooMany(answer),
    });
    add({
      name: 'NDJSON of 1,000,000 lines (~3 MB)',
      issueItem: 2,
      send: postEvents(Buffer.from('{}\n'.repeat(1_000_000)), { 'Content-Type': 'application/x-ndjson' }),
      expect: refusal(413, 'TOO_MANY_EVENTS'),
      probe: true,
      check: async (_ctx, answer) => tooMany(answer),
    });
    add({
      name: 'beacon POST: array of 10,001 events',
      issueItem: 2,
      send: postBeacon(json(Array.from({ length: 10_001 }, (_, i) => validImpression({ position: i })))),
      expect: refusal(413, 'TOO_MANY_EVENTS'),
      probe: true,
    });
    const invalidCount = 5000;
    add({
      name: `${invalidCount.toLocaleString('en-US')} invalid orders: capped error list`,
      issueItem: 2,
      send: postEvents(json(Array.from({ length: invalidCount }, (_, i) => validOrder({ orderId: `bad-${i}`, currency: 'XXX' })))),
      expect: refusal(422, 'INVALID_EVENTS'),
      probe: true,
      check: async (_ctx, answer) => {
        const error = answer && jsonOf(answer)?.error;
        const listed = Array.isArray(error?.events) ? error.events.length : -1;
        const more = error?.moreErrors;
        const failures: string[] = [];
        if (listed < 1 || listed > limits.server.maxErrorsReturned) failures.push(`error.events lists ${listed} problems; expected 1..${limits.server.maxErrorsReturned}`);
        if (!Number.isInteger(more) || more <= 0) failures.push(`error.moreErrors is ${JSON.stringify(more)}; expected how many problems were left out`);
        else if (listed + more !== invalidCount) failures.push(`events (${listed}) + moreErrors (${more}) = ${listed + more}; each of the ${invalidCount} orders has exactly one problem`);
        if (answer && answer.body.length > 64 * KiB) failures.push(`the 422 body is ${answer.body.length} bytes`);
        return failures;
      },
    });
    add({
      name: '10,000 valid orders (the per-request limit), JSON',
      issueItem: 2,
      send: postEvents(json(Array.from({ length: 10_000 }, (_, i) => validOrder({ orderId: `bulk-${i}`, $id: unique(`bulk-${i}`) })))),
      expect: ok(),
      probe: true,
      check: async (_ctx, answer) => {
        const accepted = answer && jsonOf(answer)?.accepted;
        return accepted === 10_000 ? [] : [`accepted ${JSON.stringify(accepted)}, not 10000`];
      },
    });
  }

  // --- 3. A value that validates can always be delivered ----------------------------------
  {
    const marker = unique('odd-time');
    add({
      name: 'pixel with $time=9000000000000000, then a valid order',
      issueItem: 3,
      send: getPixel(`${VALID_PIXEL_QUERY.replace('w-1', marker)}&$time=9000000000000000`),
      expect: { ...ok(), headers: { 'content-type': /^image\/gif/ } },
      check: async (ctx) => {
        const failures: string[] = [];
        const line = await waitForLine(deadLetterDir(ctx), marker, 3000);
        if (!line) failures.push('the pixel was answered 200 but its event is not in the dead letter');
        else if (!line.includes('$time')) failures.push(`its dead letter does not name $time: ${line.slice(0, 300)}`);
        // Give the batch with the odd event time to reach its destination, then check the destination still takes events.
        await new Promise((r) => setTimeout(r, 200));
        failures.push(...(await orderStillDelivered(ctx, 'odd-time')));
        const metrics = (await httpGet(ctx.gateway.adminPort, '/metrics')).body;
        if (sumMetric(metrics, 'tracking_gateway_destination_state', { destination: 'file', state: 'down' }) !== 0) failures.push('destination_state says the file destination is down');
        return failures;
      },
    });
    const times: [string, unknown][] = [
      ['9000000000000000', 9_000_000_000_000_000],
      ["'+275760-09-13T00:00:00.000Z'", '+275760-09-13T00:00:00.000Z'],
      ["'Tue, 01 Jan 2030'", 'Tue, 01 Jan 2030'],
      ['-1', -1],
      ['1e300', 1e300],
      ["'10000-01-01T00:00:00Z'", '10000-01-01T00:00:00Z'],
      ['1.5', 1.5],
    ];
    for (const [label, value] of times) {
      add({
        name: `service event with $time ${label}`,
        issueItem: 3,
        send: postEvents(json([validOrder({ orderId: unique('time'), $time: value })])),
        expect: refusal(422, 'INVALID_EVENTS'),
        check: named('$time'),
      });
    }
    add({
      name: "service event with $time '2026-11-25T08:00:00Z' (control)",
      issueItem: 3,
      send: postEvents(json([validOrder({ orderId: unique('time-ok'), $time: '2026-11-25T08:00:00Z' })])),
      expect: ok(),
    });
    add({
      name: 'service event with a lone surrogate in a string',
      issueItem: 3,
      send: postEvents(Buffer.from(`[${JSON.stringify(validOrder({ orderId: 'PLACEHOLDER' })).replace('PLACEHOLDER', '\\ud800')}]`)),
      expect: refusal(422, 'INVALID_EVENTS'),
      check: named('orderId'),
    });
    add({
      name: 'service event with a lone surrogate in $id',
      issueItem: 3,
      send: postEvents(Buffer.from(`[${JSON.stringify(validOrder({ $id: 'PLACEHOLDER' })).replace('PLACEHOLDER', 'id-\\udc00')}]`)),
      expect: refusal(422, 'INVALID_EVENTS'),
      check: named('$id'),
    });
    add({
      name: 'service event with placedAt 2^63 (long out of range)',
      issueItem: 3,
      send: postEvents(Buffer.from(`[${JSON.stringify(validOrder({ placedAt: 0 })).replace('"placedAt":0', '"placedAt":9223372036854775808')}]`)),
      expect: refusal(422, 'INVALID_EVENTS'),
      check: named('placedAt'),
    });
    add({
      name: 'service event with $id an object',
      issueItem: 3,
      send: postEvents(json([validOrder({ $id: { a: 1 } })])),
      expect: refusal(422, 'INVALID_EVENTS'),
      check: named('$id'),
    });
  }

  // --- 4. No 5xx for bad input -------------------------------------------------------------
  {
    add({
      name: 'pixel with a repeated parameter (position=1&position=2)',
      issueItem: 4,
      send: getPixel(`${VALID_PIXEL_QUERY.replace('position=3', 'position=1&position=2')}`),
      expect: refusal(400, 'BAD_PARAMETER'),
      check: named('position'),
    });
    add({
      name: 'pixel with a repeated v (v=1&v=2)',
      issueItem: 4,
      send: getPixel(`v=1&v=2&${VALID_PIXEL_QUERY}`),
      expect: refusal(400, 'BAD_PARAMETER'),
      check: named('v'),
    });
    const arrayMarker = unique('array-param');
    add({
      name: 'pixel with placement[]=TOP (array syntax)',
      issueItem: 4,
      send: getPixel(VALID_PIXEL_QUERY.replace('w-1', arrayMarker).replace('placement=TOP', 'placement[]=TOP')),
      // A 400 naming the parameter; a pixel may also be answered as always with the event
      // dead-lettered (an unknown field `placement[]`, `placement` missing).
      expect: { ...refusal(400, 'BAD_PARAMETER'), alsoAccept: [{ status: 200, code: null }] },
      check: async (ctx, answer) => {
        if (answer?.status === 400) return namesField(answer, 'placement');
        return (await waitForLine(deadLetterDir(ctx), arrayMarker, 3000)) ? [] : ['answered 200 but the event is not in the dead letter'];
      },
    });
    add({
      name: 'service POST with a repeated query parameter (partial=true&partial=false)',
      issueItem: 4,
      send: postEvents(json([validOrder({ orderId: unique('partial') })]), {}, `${EVENTS_PATH}?partial=true&partial=false`),
      expect: refusal(400, 'BAD_PARAMETER'),
      check: named('partial'),
    });
    add({
      name: 'form beacon with a repeated field',
      issueItem: 4,
      send: postBeacon(Buffer.from('widgetId=w-4&pageUrl=https://p.example/&placement=FOOTER&position=5&position=6'), { 'Content-Type': 'application/x-www-form-urlencoded' }),
      expect: refusal(400, 'BAD_PARAMETER'),
      check: named('position'),
    });
    add({
      name: 'service event with an array where a string belongs',
      issueItem: 4,
      send: postEvents(json([validOrder({ orderId: ['a'] })])),
      expect: refusal(422, 'INVALID_EVENTS'),
      check: named('orderId'),
    });
    add({
      name: 'service batch of arrays and numbers instead of objects',
      issueItem: 4,
      send: postEvents(Buffer.from('[[],1,"x",null,true]')),
      expect: refusal(422, 'INVALID_EVENTS'),
    });
    add({
      name: 'service body a JSON string',
      issueItem: 4,
      send: postEvents(Buffer.from('"just a string"')),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'service event with __proto__',
      issueItem: 4,
      send: postEvents(Buffer.from(`{"__proto__":{"polluted":1},${JSON.stringify(validOrder()).slice(1)}`)),
      expect: refusal(400, 'PROTOTYPE_POISONING'),
    });
    add({
      name: 'service event with constructor.prototype',
      issueItem: 4,
      send: postEvents(Buffer.from(`{"constructor":{"prototype":{"polluted":1}},${JSON.stringify(validOrder()).slice(1)}`)),
      expect: refusal(400, 'PROTOTYPE_POISONING'),
    });
    add({
      name: 'pixel with __proto__[polluted]=1',
      issueItem: 4,
      send: getPixel(`${VALID_PIXEL_QUERY}&__proto__[polluted]=1`),
      // `__proto__[polluted]` is not `__proto__` itself: refused as poisoning or as an unknown
      // parameter; never a 5xx, never accepted into a prototype.
      expect: { ...refusal(400, 'PROTOTYPE_POISONING'), alsoAccept: [{ status: 400, code: 'BAD_PARAMETER' }, { status: 200, code: null }] },
    });
    add({
      name: 'pixel with __proto__=x',
      issueItem: 4,
      send: getPixel(`${VALID_PIXEL_QUERY}&__proto__=x`),
      expect: refusal(400, 'PROTOTYPE_POISONING'),
    });
    const depth = 100_000;
    add({
      name: `service event nested ${depth.toLocaleString('en-US')} levels deep`,
      issueItem: 4,
      send: postEvents(Buffer.from(`[${JSON.stringify(validOrder()).slice(0, -1)},"extra":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]`)),
      expect: { ...refusal(422, 'INVALID_EVENTS'), alsoAccept: [{ status: 400, code: 'MALFORMED_BODY' }] },
      probe: true,
    });
    const deepMarker = unique('deep');
    add({
      name: `beacon POST nested ${depth.toLocaleString('en-US')} levels deep`,
      issueItem: 4,
      send: postBeacon(Buffer.from(`${JSON.stringify(validImpression({ widgetId: deepMarker })).slice(0, -1)},"extra":${'['.repeat(depth)}${']'.repeat(depth)}}`)),
      // Answered as always with the event dead-lettered, or refused as malformed.
      expect: { ...ok(204), alsoAccept: [{ status: 400, code: 'MALFORMED_BODY' }] },
      probe: true,
    });
  }

  // --- 5. Timeouts and connection limits ----------------------------------------------------
  {
    const slowBody = Buffer.concat([
      Buffer.from(`POST ${EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${HOSTILE_AUTH.Authorization}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`, 'latin1'),
      Buffer.from(JSON.stringify([validOrder()]).padEnd(1000, ' ')),
    ]);
    add({
      name: 'slow body: Content-Length 1000, one byte every 2 s',
      issueItem: 5,
      send: slowBody,
      dribble: { afterBytes: slowBody.indexOf('\r\n\r\n') + 4, intervalMs: 2000 },
      expect: refusal(408, 'REQUEST_TIMEOUT', { withinMs: limits.server.requestTimeoutMs + 2500 }),
      probe: true,
      timeoutMs: 12_000,
    });
    const slowHeadersHead = `GET ${pixelPath()} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
    add({
      name: 'slow headers: one byte every 500 ms',
      issueItem: 5,
      send: Buffer.from(`${slowHeadersHead}X-Slow: ${'a'.repeat(100)}\r\n\r\n`, 'latin1'),
      dribble: { afterBytes: slowHeadersHead.length, intervalMs: 500 },
      expect: refusal(408, 'REQUEST_TIMEOUT', { withinMs: limits.server.requestTimeoutMs + 2500 }),
      timeoutMs: 12_000,
    });
    add({
      name: 'a connection that never sends a byte',
      issueItem: 5,
      send: Buffer.alloc(0),
      expect: { status: 'closed', code: null, alsoAccept: [{ status: 408, code: 'REQUEST_TIMEOUT' }], withinMs: limits.server.requestTimeoutMs + 2500 },
      timeoutMs: 12_000,
    });
    add({
      name: 'half-closed client: complete POST, then FIN',
      issueItem: 5,
      send: postEvents(json([validOrder({ orderId: unique('half-close') })])),
      halfClose: true,
      expect: ok(),
      timeoutMs: 10_000,
    });
    add({
      name: 'idle keep-alive connection is closed by the server',
      issueItem: 5,
      send: { ...getPixel(VALID_PIXEL_QUERY), headers: { Referer: `${ALLOWED_ORIGIN}/a`, Connection: 'keep-alive' } },
      expect: ok(),
      timeoutMs: 12_000,
      run: async (ctx) => {
        const outcome = await exchange({ port: ctx.gateway.port, data: requestBytes({ ...getPixel(VALID_PIXEL_QUERY), headers: { Connection: 'keep-alive' } }), timeoutMs: 5000, keepOpen: true });
        if (outcome.kind !== 'answer' || !outcome.socket) return { outcome };
        const socket = outcome.socket;
        const bound = limits.server.keepAliveTimeoutMs + 2000;
        const started = Date.now();
        const closed = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), bound);
          socket.on('close', () => {
            clearTimeout(timer);
            resolve(true);
          });
          socket.on('error', () => undefined);
          socket.resume();
        });
        socket.destroy();
        const idle = Date.now() - started;
        return {
          outcome: { ...outcome, socket: undefined },
          notes: [closed ? `server closed the idle connection after ${idle} ms` : 'the idle connection stayed open'],
          failures: closed ? [] : [`the idle keep-alive connection was still open ${bound} ms later (server.keepAliveTimeoutMs ${limits.server.keepAliveTimeoutMs})`],
        };
      },
    });
    const burst = 500;
    add({
      name: `${burst} connections at once (server.maxConnections ${limits.server.maxConnections}), then a valid order`,
      issueItem: 5,
      send: getPixel(VALID_PIXEL_QUERY),
      expect: ok(),
      timeoutMs: 20_000,
      run: async (ctx) => {
        const data = requestBytes(getPixel(VALID_PIXEL_QUERY));
        const outcomes = await Promise.all(Array.from({ length: burst }, () => exchange({ port: ctx.gateway.port, data, timeoutMs: 10_000 })));
        const tally: Record<string, number> = {};
        for (const o of outcomes) {
          const key = o.kind === 'answer' ? String(o.answer.status) : o.kind;
          tally[key] = (tally[key] ?? 0) + 1;
        }
        const failures: string[] = [];
        const bad = Object.keys(tally).filter((k) => /^5/.test(k) && k !== '503');
        if (bad.length > 0) failures.push(`burst answers with ${bad.join(', ')}`);
        if (tally.timeout) failures.push(`${tally.timeout} burst connections neither answered nor closed within 10 s`);
        if (!tally['200']) failures.push('no burst connection was answered');
        const outcome = await ctx.send(postEvents(json([validOrder({ orderId: unique('after-burst') })])), 10_000);
        return { outcome, inputBytes: data.length * burst, notes: [`burst: ${JSON.stringify(tally)}`], failures };
      },
    });
  }

  // --- 6. Content-Encoding ------------------------------------------------------------------
  {
    const order = () => json([validOrder({ orderId: unique('encoded') })]);
    add({ name: 'Content-Encoding gzip, valid order', issueItem: 6, send: postEvents(gzipSync(order()), { 'Content-Encoding': 'gzip' }), expect: ok() });
    add({ name: 'Content-Encoding br, valid order', issueItem: 6, send: postEvents(brotliCompressSync(order()), { 'Content-Encoding': 'br' }), expect: ok() });
    add({ name: 'Content-Encoding deflate, valid order', issueItem: 6, send: postEvents(deflateSync(order()), { 'Content-Encoding': 'deflate' }), expect: ok() });
    add({ name: 'Content-Encoding identity, valid order', issueItem: 6, send: postEvents(order(), { 'Content-Encoding': 'identity' }), expect: ok() });
    add({
      name: 'Content-Encoding gzip, beacon POST (sendBeacon SDK)',
      issueItem: 6,
      send: postBeacon(gzipSync(json(validImpression({ widgetId: unique('gzip-beacon') }))), { 'Content-Encoding': 'gzip' }),
      expect: ok(204),
    });
    add({
      name: 'Content-Encoding compress (unknown)',
      issueItem: 6,
      send: postEvents(order(), { 'Content-Encoding': 'compress' }),
      expect: refusal(415, 'UNSUPPORTED_ENCODING'),
    });
    add({
      name: 'Content-Encoding gzip on a body that is not gzip',
      issueItem: 6,
      send: postEvents(order(), { 'Content-Encoding': 'gzip' }),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'Content-Encoding gzip, truncated stream',
      issueItem: 6,
      send: postEvents(gzipSync(order()).subarray(0, 20), { 'Content-Encoding': 'gzip' }),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
  }

  // --- 7. Nothing silently changed -----------------------------------------------------------
  {
    const withFF = (text: string) => Buffer.concat([Buffer.from(text.split('PLACEHOLDER')[0]), Buffer.from([0xff, 0xfe]), Buffer.from(text.split('PLACEHOLDER')[1])]);
    add({
      name: 'JSON body with invalid UTF-8 (0xff)',
      issueItem: 7,
      send: postEvents(withFF(JSON.stringify([validOrder({ orderId: 'PLACEHOLDER' })]))),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'NDJSON body with invalid UTF-8 (0xff)',
      issueItem: 7,
      send: postEvents(withFF(JSON.stringify(validOrder({ orderId: 'PLACEHOLDER' }))), { 'Content-Type': 'application/x-ndjson' }),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'beacon text/plain with invalid UTF-8 (0xff)',
      issueItem: 7,
      send: postBeacon(withFF(JSON.stringify(validImpression({ widgetId: 'PLACEHOLDER' })))),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'Content-Type application/json; charset=latin1',
      issueItem: 7,
      send: postEvents(json([validOrder()]), { 'Content-Type': 'application/json; charset=latin1' }),
      expect: refusal(415, 'UNSUPPORTED_CHARSET'),
    });
    add({
      name: 'beacon text/plain; charset=utf-16',
      issueItem: 7,
      send: postBeacon(json(validImpression()), { 'Content-Type': 'text/plain; charset=utf-16' }),
      expect: refusal(415, 'UNSUPPORTED_CHARSET'),
    });
    add({
      name: 'Content-Type application/json; charset=UTF-8 (control)',
      issueItem: 7,
      send: postEvents(json([validOrder({ orderId: unique('charset') })]), { 'Content-Type': 'application/json; charset=UTF-8' }),
      expect: ok(),
    });
    add({
      name: 'pixel with $idd=x (misspelt $id)',
      issueItem: 7,
      send: getPixel(`${VALID_PIXEL_QUERY}&$idd=x`),
      expect: refusal(400, 'BAD_PARAMETER'),
      check: named('$idd'),
    });
    add({
      name: 'form beacon with $idd=x',
      issueItem: 7,
      send: postBeacon(Buffer.from('widgetId=w-4&pageUrl=https://p.example/&placement=FOOTER&position=5&$idd=x'), { 'Content-Type': 'application/x-www-form-urlencoded' }),
      expect: refusal(400, 'BAD_PARAMETER'),
      check: named('$idd'),
    });
    add({
      name: 'service event with "$idd" (misspelt $id)',
      issueItem: 7,
      send: postEvents(json([validOrder({ $idd: 'x' })])),
      expect: refusal(422, 'INVALID_EVENTS'),
      check: named('$idd'),
    });
    add({
      name: 'pixel with widgetId=%FF (not UTF-8)',
      issueItem: 7,
      send: getPixel(VALID_PIXEL_QUERY.replace('widgetId=w-1', 'widgetId=%FF')),
      expect: refusal(400, 'BAD_PARAMETER'),
    });
    add({
      name: 'pixel with $id=client-42 (control)',
      issueItem: 7,
      send: getPixel(`${VALID_PIXEL_QUERY}&$id=client-42`),
      expect: ok(),
    });
  }

  // --- 8. Every refusal counted and shaped ----------------------------------------------------
  {
    const small = 512;
    add({ name: 'GET /nope', issueItem: 8, send: { method: 'GET', path: '/nope' }, expect: refusal(404, 'NOT_FOUND', { maxBodyBytes: small }) });
    add({
      name: '404 for a 7 KB path segment (not echoed)',
      issueItem: 8,
      send: { method: 'GET', path: `/nope/${'a'.repeat(7000)}` },
      expect: refusal(404, 'NOT_FOUND', { maxBodyBytes: small }),
    });
    add({
      name: 'path with invalid percent-encoding (/v1/beacon/widget/%ff)',
      issueItem: 8,
      send: { method: 'GET', path: `${BEACON_PATH.replace('impression', '%ff')}?${VALID_PIXEL_QUERY}` },
      // The contract names no code for a path that does not decode; any of these, in the shape.
      expect: { ...refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }), alsoAccept: [{ status: 400, code: 'BAD_PARAMETER' }, { status: 404, code: 'NOT_FOUND' }] },
    });
    add({
      name: 'DELETE /v1/beacon/widget/impression',
      issueItem: 8,
      send: { method: 'DELETE', path: BEACON_PATH },
      expect: refusal(405, 'METHOD_NOT_ALLOWED', { headers: { allow: /GET.*POST|POST.*GET/ }, maxBodyBytes: small }),
    });
    add({
      name: 'GET /v1/events/shop/order-placed',
      issueItem: 8,
      send: { method: 'GET', path: EVENTS_PATH },
      expect: refusal(405, 'METHOD_NOT_ALLOWED', { headers: { allow: /POST/ }, maxBodyBytes: small }),
    });
    add({
      name: 'pixel URL of 9 KB',
      issueItem: 8,
      send: getPixel(`${VALID_PIXEL_QUERY}&cb=${'x'.repeat(9 * KiB)}`),
      expect: refusal(414, 'URI_TOO_LONG', { maxBodyBytes: small }),
    });
    add({
      name: '20 KB of headers',
      issueItem: 8,
      send: getPixel(VALID_PIXEL_QUERY, { 'X-Filler': 'h'.repeat(20 * KiB) }),
      expect: refusal(431, 'HEADERS_TOO_LARGE', { maxBodyBytes: small }),
    });
    add({
      name: '200 headers of 100 bytes each',
      issueItem: 8,
      send: getPixel(VALID_PIXEL_QUERY, Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`X-Filler-${i}`, 'h'.repeat(100)]))),
      expect: refusal(431, 'HEADERS_TOO_LARGE', { maxBodyBytes: small }),
    });
    add({
      name: 'raw socket: garbage request line',
      issueItem: 8,
      send: Buffer.from('HELLO THERE\r\n\r\n', 'latin1'),
      expect: refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }),
    });
    add({
      name: 'raw socket: TLS ClientHello on the plain port',
      issueItem: 8,
      send: Buffer.from('160301020001000100fc0303' + '00'.repeat(64), 'hex'),
      expect: { ...refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }), alsoAccept: [{ status: 'closed', code: null }] },
    });
    add({
      name: 'raw socket: broken chunked encoding',
      issueItem: 8,
      send: Buffer.from(`POST ${EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${HOSTILE_AUTH.Authorization}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 'latin1'),
      expect: refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }),
    });
    add({
      name: 'raw socket: two different Content-Length headers',
      issueItem: 8,
      send: Buffer.from(`POST ${EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${HOSTILE_AUTH.Authorization}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 'latin1'),
      expect: refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }),
    });
    add({
      name: 'raw socket: a space in a header name',
      issueItem: 8,
      send: Buffer.from(`GET ${pixelPath()} HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n`, 'latin1'),
      expect: refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }),
    });
    add({
      name: 'raw socket: HTTP/1.1 without Host',
      issueItem: 8,
      send: Buffer.from(`GET ${pixelPath()} HTTP/1.1\r\nConnection: close\r\n\r\n`, 'latin1'),
      // Node refuses it with its own 400; serving the pixel anyway is fine too.
      expect: { ...refusal(400, 'BAD_REQUEST', { maxBodyBytes: small }), alsoAccept: [{ status: 200, code: null }] },
    });
    add({
      name: 'POST /v1/events with Content-Type application/xml',
      issueItem: 8,
      send: postEvents(Buffer.from('<order/>'), { 'Content-Type': 'application/xml' }),
      expect: refusal(415, 'UNSUPPORTED_CONTENT_TYPE'),
    });
    add({
      name: 'admin port: GET /nope',
      issueItem: 8,
      port: 'admin',
      send: { method: 'GET', path: '/nope' },
      expect: refusal(404, 'NOT_FOUND', { maxBodyBytes: small }),
    });
    add({
      name: 'admin port: 7 KB path (not echoed)',
      issueItem: 8,
      port: 'admin',
      send: { method: 'GET', path: `/${'a'.repeat(7000)}` },
      expect: refusal(404, 'NOT_FOUND', { maxBodyBytes: small }),
    });
  }

  // --- 9. The dead letter is bounded ------------------------------------------------------------
  {
    const marker = unique('dead-letter-60k');
    const event = validImpression({ widgetId: `${marker}-${'x'.repeat(60 * KiB)}`, placement: 'NOWHERE' });
    const body = json(event);
    add({
      name: 'beacon POST of a 60 KB invalid event: dead letter truncated',
      issueItem: 9,
      send: postBeacon(body),
      expect: ok(204),
      check: async (ctx) => {
        const line = await waitForLine(deadLetterDir(ctx), marker, 3000);
        if (!line) return ['no dead letter line for the event'];
        const failures: string[] = [];
        const bound = limits.deadLetter.maxPayloadBytes + 2 * KiB;
        if (line.length >= bound) failures.push(`the dead letter line is ${line.length} bytes; bound deadLetter.maxPayloadBytes + 2 KiB = ${bound}`);
        const record = JSON.parse(line);
        if (record.payloadBytes !== body.length) failures.push(`payloadBytes is ${JSON.stringify(record.payloadBytes)}, not the original ${body.length}`);
        const digest = createHash('sha256').update(body).digest('hex');
        if (record.payloadSha256 !== digest) failures.push(`payloadSha256 is ${JSON.stringify(record.payloadSha256)}, not the original's sha256 ${digest}`);
        return failures;
      },
    });
    const perRequest = 20;
    const requests = 25;
    add({
      name: `dead letter fills to deadLetter.maxBytes (${requests} beacons × ${perRequest} invalid 8 KB events)`,
      issueItem: 9,
      send: postBeacon(json(Array.from({ length: perRequest }, () => validImpression({ widgetId: randomBytes(6 * KiB).toString('base64'), placement: 'NOWHERE' })))),
      expect: ok(204),
      timeoutMs: 30_000,
      run: async (ctx) => {
        let outcome: Outcome | undefined;
        let inputBytes = 0;
        const statuses: Record<string, number> = {};
        for (let i = 0; i < requests; i++) {
          const request = postBeacon(json(Array.from({ length: perRequest }, () => validImpression({ widgetId: randomBytes(6 * KiB).toString('base64'), placement: 'NOWHERE' }))));
          inputBytes += requestBytes(request).length;
          outcome = await ctx.send(request, 10_000);
          const key = outcome.kind === 'answer' ? String(outcome.answer.status) : outcome.kind;
          statuses[key] = (statuses[key] ?? 0) + 1;
        }
        await new Promise((r) => setTimeout(r, 500));
        const failures: string[] = [];
        if (Object.keys(statuses).some((s) => s !== '204')) failures.push(`answers ${JSON.stringify(statuses)}; every beacon should get 204`);
        const maxBytes = limits.deadLetter.maxBytes;
        const onDisk = bytesUnder(join(ctx.gateway.dataDir, '_dead-letter'));
        if (onDisk > maxBytes) failures.push(`the dead letter takes ${onDisk} bytes on disk; bound ${maxBytes}`);
        const metrics = (await httpGet(ctx.gateway.adminPort, '/metrics')).body;
        if (!hasMetric(metrics, 'tracking_gateway_dead_letter_bytes')) failures.push('no tracking_gateway_dead_letter_bytes metric');
        else if (sumMetric(metrics, 'tracking_gateway_dead_letter_bytes') > maxBytes) failures.push(`tracking_gateway_dead_letter_bytes ${sumMetric(metrics, 'tracking_gateway_dead_letter_bytes')} over the bound ${maxBytes}`);
        const dropped = sumMetric(metrics, 'tracking_gateway_events_dropped_total', { service: 'widget', topic: 'impression' });
        if (dropped === 0) failures.push('events_dropped_total counts no dead letter dropped at the bound: the bound was never reached');
        const lines = gzipLinesUnder(join(ctx.gateway.dataDir, '_dead-letter')).length;
        return { outcome: outcome!, inputBytes, notes: [`${onDisk} bytes on disk in ${lines} lines; ${dropped} dropped`], failures };
      },
    });
  }


  // --- The Segment API routes (issue 19): the same classes of attack on /v1/batch, /v1/track, … --
  {
    const segmentPost = (path: string, body: Buffer, headers: Record<string, string> = {}): HttpSend => ({ method: 'POST', path, headers: { ...HOSTILE_AUTH, 'Content-Type': 'application/json', ...headers }, body });
    const track = (over: Record<string, unknown> = {}) => ({ type: 'track', event: 'Order Placed', properties: validOrder({ orderId: unique('seg') }), ...over });
    add({
      name: 'Segment /v1/batch: gzip of 8 MiB of zeros (8 KB on the wire) stops at segment.maxBatchBytes',
      issueItem: 1,
      send: segmentPost('/v1/batch', gzipSync(Buffer.alloc(8 * MiB)), { 'Content-Encoding': 'gzip' }),
      expect: refusal(413, 'DECODED_TOO_LARGE'),
      probe: true,
    });
    add({
      name: 'Segment /v1/batch: 1 GiB gzip bomb refused by its size on the wire',
      issueItem: 1,
      send: segmentPost('/v1/batch', gzipBomb, { 'Content-Encoding': 'gzip' }),
      expect: refusal(413, 'BODY_TOO_LARGE', { alsoAccept: [{ status: 'closed', code: null }] }),
      probe: true,
    });
    add({
      name: 'Segment /v1/batch: 600 KB body over segment.maxBatchBytes',
      issueItem: 2,
      send: segmentPost('/v1/batch', json({ batch: Array.from({ length: 20 }, () => track({ pad: 'p'.repeat(30 * KiB) })) })),
      expect: refusal(413, 'BODY_TOO_LARGE', { alsoAccept: [{ status: 'closed', code: null }] }),
    });
    add({
      name: 'Segment /v1/track: one 40 KB call over segment.maxCallBytes',
      issueItem: 2,
      send: segmentPost('/v1/track', json(track({ pad: 'p'.repeat(40 * KiB) }))),
      expect: refusal(413, 'BODY_TOO_LARGE', { alsoAccept: [{ status: 'closed', code: null }] }),
    });
    add({
      name: `Segment /v1/batch: ${limits.server.maxEventsPerRequest + 1} empty calls`,
      issueItem: 2,
      send: segmentPost('/v1/batch', Buffer.from(`{"batch":[${Array(limits.server.maxEventsPerRequest + 1).fill('{}').join(',')}]}`)),
      expect: refusal(413, 'TOO_MANY_EVENTS'),
    });
    add({
      name: 'Segment /v1/batch: properties nested 10,000 deep in a 100 KB body',
      issueItem: 1,
      send: segmentPost('/v1/batch', Buffer.from(`{"batch":[{"type":"track","event":"Order Placed","properties":${'['.repeat(10_000)}${']'.repeat(10_000)}, "pad":"${'p'.repeat(80 * KiB)}"}]}`)),
      expect: refusal(400, 'MALFORMED_BODY'),
    });
    add({
      name: 'Segment /v1/batch: __proto__ in a call',
      issueItem: 3,
      send: segmentPost('/v1/batch', Buffer.from('{"batch":[{"type":"track","event":"Order Placed","properties":{"__proto__":{"admin":true}}}]}')),
      expect: refusal(400, 'PROTOTYPE_POISONING'),
    });
    add({
      name: 'Segment /v1/batch: no write key anywhere',
      issueItem: 4,
      send: { method: 'POST', path: '/v1/batch', headers: { 'Content-Type': 'application/json' }, body: json({ batch: [track()] }) },
      expect: refusal(401, 'UNAUTHORIZED'),
    });
    add({
      name: 'Segment /v1/batch: a writeKey of 100 KB in the body',
      issueItem: 4,
      send: { method: 'POST', path: '/v1/batch', headers: { 'Content-Type': 'application/json' }, body: json({ writeKey: 'k'.repeat(100 * KiB), batch: [track()] }) },
      expect: refusal(401, 'UNAUTHORIZED', { maxBodyBytes: 2 * KiB }),
    });
    add({
      name: 'Segment /v1/batch: a valid call beside garbage calls is delivered; the answer is 200',
      issueItem: 3,
      send: segmentPost('/v1/batch', json({ batch: [track(), null, 7, 'x', [], { type: { toString: 1 } }, { type: 'track', event: { $gt: '' } }, track({ properties: 'not an object' }), track({ timestamp: 'yesterday' }), track({ messageId: 'x'.repeat(5000) })] })),
      expect: ok(200),
      check: async (_ctx, answer) => {
        const body = answer ? (jsonOf(answer) as any) : undefined;
        if (body?.accepted !== 1) return [`accepted is ${JSON.stringify(body?.accepted)}, not 1`];
        if (!Array.isArray(body.refused) || body.refused.length !== 9) return [`refused lists ${JSON.stringify(body.refused?.length)} calls, not 9`];
        return [];
      },
    });
    add({
      name: 'Segment settings document: a Host header that is not a host',
      issueItem: 3,
      send: { method: 'GET', path: '/v1/projects/example-write-key/settings', headers: { Host: 'evil.example/"><script>' } },
      expect: refusal(400, 'BAD_REQUEST'),
    });
  }

  return cases;
}
