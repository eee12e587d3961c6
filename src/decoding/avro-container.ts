import { setImmediate } from 'node:timers/promises';
import { inflateRaw } from 'node:zlib';
import avro from 'avsc';
import { GatewayError } from '../errors';
import type { TopicVersion } from '../topics/registry';
import { createValueBudget, readLongAt, scanDatum, type ValueBudget } from './avro-scan';
import { fileError, quote, readWriterSchema, type WriterSchema } from './avro-writer-schema';

// A bounded reader of Avro Object Container Files: header (magic, metadata map, sync
// marker), then blocks of (object count, byte size, data, sync marker). Every count and
// size is checked against the bytes left, the request's event limit and, for deflate
// blocks, what is left of maxDecodedBytes, before anything is allocated or inflated.
// Spec: https://avro.apache.org/docs/1.11.1/specification/#object-container-files

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_BYTES = 16;
/** Magic, metadata (the writer schema among it) and sync marker together. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Block data decoded between two turns of the event loop. */
const YIELD_EVERY_BYTES = 256 * 1024;
/** Codecs read here; snappy would need a library the gateway does not ship. */
const CODECS = new Set(['null', 'deflate']);

// The header's metadata is an Avro map of bytes: scanned and decoded like any datum.
const METADATA_TYPE = avro.Type.forSchema({ type: 'map', values: 'bytes' });

interface Header {
  codec: string;
  writer: WriterSchema;
  sync: Buffer;
  end: number;
}

/**
 * `datums`, when given and the file's writer schema is the version's, receives each record's
 * bytes (views into the body or its inflated blocks): Kafka sends them as they are.
 */
export async function decodeAvroContainer(
  body: Buffer,
  version: TopicVersion,
  limits: { maxEvents: number; maxDecodedBytes: number },
  datums?: Buffer[],
): Promise<unknown[]> {
  const budget = createValueBudget();
  const header = readHeader(body, version, budget);
  const events: unknown[] = [];
  const sameBytes = header.writer.isVersion ? datums : undefined;
  let inflated = 0;
  let sinceYield = 0;
  for (let pos = header.end, index = 0; pos < body.length; index++) {
    const block = readBlockFrame(body, pos, index, header.sync);
    if (events.length + block.count > limits.maxEvents) {
      throw fileError('TOO_MANY_EVENTS', `block ${index} brings it past ${limits.maxEvents} records; send at most ${limits.maxEvents} events per request`);
    }
    if (header.codec === 'deflate') {
      const data = await inflateBlock(body.subarray(block.start, block.end), index, limits.maxDecodedBytes - inflated, limits.maxDecodedBytes);
      inflated += data.length;
      sinceYield += data.length;
      decodeBlock(data, 0, data.length, block.count, `block ${index} (inflated)`, header.writer, version, budget, events, sameBytes);
    } else {
      sinceYield += block.end - block.start;
      decodeBlock(body, block.start, block.end, block.count, `block ${index}`, header.writer, version, budget, events, sameBytes);
    }
    pos = block.end + SYNC_BYTES;
    // Let other requests run while a big file decodes; a turn per tiny block would only add latency.
    if (sinceYield >= YIELD_EVERY_BYTES && pos < body.length) {
      sinceYield = 0;
      await setImmediate();
    }
  }
  if (events.length === 0) throw fileError('MALFORMED_BODY', 'no records');
  return events;
}

function readHeader(body: Buffer, version: TopicVersion, budget: ValueBudget): Header {
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw fileError('MALFORMED_BODY', 'does not start with the magic bytes "Obj\\x01"');
  }
  const end = Math.min(body.length, MAX_HEADER_BYTES);
  const bound = end < body.length ? ` (the header may take at most ${MAX_HEADER_BYTES} bytes)` : '';
  let metadataEnd: number;
  try {
    metadataEnd = scanDatum(METADATA_TYPE, body, MAGIC.length, end, budget);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    throw fileError(err.code, `header metadata: ${err.message}${bound}`);
  }
  if (end - metadataEnd < SYNC_BYTES) throw fileError('MALFORMED_BODY', `header: the ${SYNC_BYTES}-byte sync marker at byte ${metadataEnd} is cut short${bound}`);
  const metadata = METADATA_TYPE.decode(body, MAGIC.length).value as Record<string, Buffer>;

  const codec = metadata['avro.codec'] ? metadata['avro.codec'].toString('utf8') : 'null';
  if (!CODECS.has(codec)) {
    throw fileError('UNSUPPORTED_ENCODING', `codec ${JSON.stringify(quote(codec, 40))} is not supported; write the file with codec null or deflate`);
  }
  const schema = metadata['avro.schema'];
  if (!schema) throw fileError('MALFORMED_BODY', 'header has no avro.schema');
  const writer = readWriterSchema(schema, version);
  return { codec, writer, sync: body.subarray(metadataEnd, metadataEnd + SYNC_BYTES), end: metadataEnd + SYNC_BYTES };
}

/** A block's object count and data range; its trailing sync marker is checked here. */
function readBlockFrame(body: Buffer, pos: number, index: number, sync: Buffer): { count: number; start: number; end: number } {
  let count: number;
  let size: number;
  let start: number;
  try {
    const c = readLongAt(body, pos, body.length, 'object count');
    const s = readLongAt(body, c.next, body.length, 'block size');
    count = c.value;
    size = s.value;
    start = s.next;
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    throw fileError(err.code, `block ${index}: ${err.message}`);
  }
  // An empty block carries nothing but would cost an inflate and a loop turn: refused.
  if (count < 1) throw fileError('MALFORMED_BODY', `block ${index} at byte ${pos}: object count ${count} must be at least 1`);
  const left = body.length - start - SYNC_BYTES;
  if (size < 0 || size > left) {
    throw fileError('MALFORMED_BODY', `block ${index} at byte ${pos}: block size ${size} exceeds the ${Math.max(left, 0)} bytes left before its sync marker`);
  }
  const end = start + size;
  if (body.compare(sync, 0, SYNC_BYTES, end, end + SYNC_BYTES) !== 0) {
    throw fileError('MALFORMED_BODY', `block ${index}: the sync marker at byte ${end} does not match the header's`);
  }
  return { count, start, end };
}

/** Inflates with what is left of maxDecodedBytes as zlib's output cap: a bomb stops there. */
function inflateBlock(data: Buffer, index: number, allowance: number, maxDecodedBytes: number): Promise<Buffer> {
  const tooLarge = () => fileError('DECODED_TOO_LARGE', `block ${index}: the file inflates to more than ${maxDecodedBytes} bytes (server.maxDecodedBytes)`);
  return new Promise((resolve, reject) => {
    // zlib wants a cap of at least 1: a block that inflates to anything is refused below when none is left.
    inflateRaw(data, { maxOutputLength: Math.max(allowance, 1) }, (err, out) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') reject(tooLarge());
        else reject(fileError('MALFORMED_BODY', `block ${index}: deflate data is corrupt (${err.message})`));
      } else if (out.length > allowance) reject(tooLarge());
      else resolve(out);
    });
  });
}

/** Scans each record over the writer's schema, then avsc reads it as the requested version. */
function decodeBlock(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  where: string,
  writer: WriterSchema,
  version: TopicVersion,
  budget: ValueBudget,
  events: unknown[],
  datums: Buffer[] | undefined,
): void {
  let at = start;
  for (let i = 0; i < count; i++) {
    let next: number;
    try {
      next = scanDatum(writer.writerType, buf, at, end, budget);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      if (at >= end) throw fileError('MALFORMED_BODY', `${where}: declares ${count} records but holds ${i}`);
      throw fileError(err.code, `${where}, record ${i}: ${err.message}`);
    }
    const decoded = version.type.decode(buf, at, writer.resolver);
    if (decoded.offset !== next) throw new Error(`${where}, record ${i}: avsc read to byte ${decoded.offset}, the scan to ${next}`);
    events.push(decoded.value);
    datums?.push(buf.subarray(at, next));
    at = next;
  }
  if (at !== end) throw fileError('MALFORMED_BODY', `${where}: ${end - at} bytes left after its ${count} declared records`);
}
