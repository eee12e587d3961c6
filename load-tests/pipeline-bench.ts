import pino from 'pino';
import { join } from 'node:path';
import avro from 'avsc';
import { MemoryBudget } from '../src/buffer/memory-budget';
import { buildConfig } from '../src/config/config';
import { DeadLetter } from '../src/destinations/dead-letter/dead-letter';
import type { Destination, RecordFailure } from '../src/destinations/destination';
import type { GatewayEvent } from '../src/envelope/envelope';
import { toCloudEventJson } from '../src/envelope/envelope';
import { coerceParams, decodeEventsBody } from '../src/http/body-decoding';
import { readQuery } from '../src/http/query';
import { Ingest } from '../src/ingest/ingest';
import { EventTap } from '../src/inspect/event-tap';
import { GatewayMetrics } from '../src/metrics/metrics';
import { Router } from '../src/route/router';
import { compileNormalizer, NormalizeContext } from '../src/topics/avro-normalizer';
import { bytesAsBase64, compileJsonSerializer } from '../src/topics/json-serializer';
import { loadTopicRegistry, type TopicVersion } from '../src/topics/registry';
import { numberFromEnv } from './env';
import { impression, impressionPixelPath, orderPlaced, Random } from './payloads';
import { formatTable, whole } from './table';

/** The gateway's default request limits. */
const LIMITS = { maxEvents: 10_000, maxDecodedBytes: 16 * 1024 * 1024 };

// The pipeline without HTTP and disk, on one core: service batches of 100 JSON events
// decoded, validated, enriched and handed to the route, whose destination serialises each
// event as the file and Firehose destinations do (CloudEvents JSON) and acknowledges; the
// same accepted only (a destination that does nothing), as JSON and as Avro datums (valid by
// construction once decoded); pixel beacons, one event per query string. Beside them, the floor under any
// JSON-in, JSON-out pipeline on this core: JSON.parse of the same bodies and JSON.stringify
// of each event, and nothing else. Then the memory one buffered event costs, with the
// destination holding everything.

const SECONDS = numberFromEnv('PIPELINE_BENCH_SECONDS', 5);
const BATCH = 100;
const ROOT = join(__dirname, '..', '..');

/** Acknowledges every batch at once and does nothing with it: what accepting costs alone. */
class AcknowledgingDestination implements Destination {
  readonly type = 'bench';
  readonly maxRecordBytes = 1 << 24;
  constructor(readonly name: string) {}
  async start(): Promise<void> {}
  async send(_events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    return [];
  }
  isHealthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/** Serialises like the file destination, keeps nothing. */
class SerialisingDestination extends AcknowledgingDestination {
  bytes = 0;
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    for (const event of events) this.bytes += toCloudEventJson(event).length;
    return [];
  }
}

/** Never answers: every event stays buffered. */
class HoldingDestination extends AcknowledgingDestination {
  send(): Promise<RecordFailure[]> {
    return new Promise(() => undefined);
  }
}

function pipeline(destination: Destination) {
  const config = buildConfig({ topicsDir: join(ROOT, 'topics'), dataDir: '/tmp/pipeline-bench', destinations: { [destination.name]: { type: 'file' } }, spool: { enabled: false }, buffer: { maxBytes: 8 * 1024 * 1024 * 1024 }, batch: { maxRecords: 1000, lingerMs: 1 } }, {});
  const metrics = new GatewayMetrics();
  const budget = new MemoryBudget(config.buffer.maxBytes, metrics);
  const deadLetter = new DeadLetter('/tmp/pipeline-bench/dead', config.deadLetter, metrics, pino({ level: 'silent' }));
  const router = new Router([destination], undefined, config, deadLetter, budget, metrics, pino({ level: 'silent' }));
  // As the gateway wires it: with the inspector's tap, which nobody watches here.
  const ingest = new Ingest(config, router, budget, deadLetter, undefined, metrics, new EventTap(() => undefined));
  const registry = loadTopicRegistry(config.topicsDir);
  const topic = registry.get('shop', 'order-placed')!;
  const pixelTopic = registry.get('widget', 'impression')!;
  return { ingest, topic, version: topic.versions.get(1)!, pixelTopic, pixelVersion: pixelTopic.versions.get(pixelTopic.config.defaultVersion)! };
}

/** 64 request bodies of BATCH orders: a JSON array, or Avro binary datums one after another. */
function orderBodies(encoding: 'json' | 'avro' = 'json', version?: TopicVersion): Buffer[] {
  const random = new Random(7);
  return Array.from({ length: 64 }, () => {
    const orders = Array.from({ length: BATCH }, () => orderPlaced(random));
    return encoding === 'json' ? Buffer.from(JSON.stringify(orders)) : Buffer.concat(orders.map((order) => version!.type.toBuffer(order)));
  });
}

/** Runs `round` (which returns events done) until SECONDS have passed. */
async function timed(round: () => Promise<number> | number): Promise<{ events: number; seconds: number }> {
  let events = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline) events += await round();
  return { events, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** The floor: parse the bodies and serialise each event, nothing else. */
function jsonFloor(): Promise<{ events: number; seconds: number }> {
  const bodies = orderBodies();
  let bytes = 0;
  return timed(() => {
    let events = 0;
    for (const body of bodies) {
      for (const event of JSON.parse(body.toString('utf8')) as unknown[]) {
        bytes += JSON.stringify(event).length;
        events++;
      }
    }
    return events;
  });
}

/**
 * The `data` of CloudEvents JSON for the same orders once normalised, written by JSON.stringify
 * (with the replacer where the schema holds bytes) and by the serializer compiled from the
 * schema, alternated, each `rounds` times; `withBytes` adds a bytes field to the order schema.
 * json-serializer.ts picks the faster of the two per version from these figures.
 */
async function dataSerialisation(orders: TopicVersion, withBytes: boolean, rounds: number): Promise<{ stringify: number[]; compiled: number[] }> {
  const schema = JSON.parse(JSON.stringify(orders.schema)) as { fields: unknown[] };
  if (withBytes) schema.fields.push({ name: 'signature', type: 'bytes', default: '' });
  const type = avro.Type.forSchema(schema as avro.Schema);
  const normalize = compileNormalizer(type);
  const compiled = compileJsonSerializer(type);
  const data = orderBodies().flatMap((body) =>
    (JSON.parse(body.toString('utf8')) as Record<string, unknown>[]).map((order) => normalize(withBytes ? { ...order, signature: 'c2lnbmVkIGJ5IHRoZSBzaG9w' } : order, new NormalizeContext())),
  );
  const out = { stringify: [] as number[], compiled: [] as number[] };
  let bytes = 0;
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['stringify', 'compiled'] as const) {
      const write = kind === 'compiled' ? compiled : withBytes ? (d: unknown) => JSON.stringify(d, bytesAsBase64) : (d: unknown) => JSON.stringify(d);
      const r = await timed(() => {
        for (const d of data) bytes += write(d).length;
        return data.length;
      });
      out[kind].push((r.seconds / r.events) * 1e6);
    }
  }
  if (bytes === 0) throw new Error('nothing serialised');
  return out;
}

/**
 * Pixel beacons as the fast path takes them: query string parsed, coerced, accepted. With
 * `invalid`, each has a placement outside the enum and goes to the dead letter (on disk).
 */
async function pixels(invalid = false): Promise<{ events: number; seconds: number }> {
  const { ingest, pixelTopic: topic, pixelVersion: version } = pipeline(new SerialisingDestination('bench'));
  const random = new Random(5);
  const queries = Array.from({ length: 256 }, () => {
    const query = impressionPixelPath(impression(random)).split('?')[1];
    return invalid ? query.replace(/placement=[A-Z]+/, 'placement=sidebar') : query;
  });
  const source = `/v1/beacon/${topic.service}/${topic.name}`;
  return timed(async () => {
    for (const query of queries) {
      const event = coerceParams(readQuery(`?${query}`), version);
      ingest.accept({ topic, version, events: [event], prevalidated: false, bodyBytes: query.length + 30, mode: 'beacon', partial: true, source, clientIp: '127.0.0.1', userAgent: undefined });
    }
    // Lets the batches leave, as the event loop would between requests.
    await new Promise((resolve) => setImmediate(resolve));
    return queries.length;
  });
}

/** Service batches through decoding and ingest to `destination`, each request waiting for its ack. */
async function serviceBatches(destination: Destination, encoding: 'json' | 'avro'): Promise<{ events: number; seconds: number }> {
  const { ingest, topic, version } = pipeline(destination);
  const bodies = orderBodies(encoding, version);
  const mediaType = encoding === 'json' ? 'application/json' : 'avro/binary';
  return timed(async () => {
    let events = 0;
    const pending: Promise<boolean>[] = [];
    for (const body of bodies) {
      const decoded = await decodeEventsBody(mediaType, body, version, LIMITS);
      const result = ingest.accept({ topic, version, events: decoded.events, prevalidated: decoded.prevalidated, bodyBytes: body.length, mode: 'service', partial: false, source: '/v1/events/shop/order-placed', clientIp: '127.0.0.1', userAgent: undefined });
      events += result.accepted;
      pending.push(result.durable!);
    }
    await Promise.all(pending);
    return events;
  });
}

async function memoryPerEvent(count: number): Promise<number> {
  const { ingest, topic, version } = pipeline(new HoldingDestination('hold'));
  const random = new Random(11);
  const body = Buffer.from(JSON.stringify(Array.from({ length: BATCH }, () => orderPlaced(random))));
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let accepted = 0; accepted < count; accepted += BATCH) {
    const decoded = await decodeEventsBody('application/json', body, version, LIMITS);
    ingest.accept({ topic, version, events: decoded.events, prevalidated: false, bodyBytes: body.length, mode: 'beacon', partial: true, source: '/v1/events/shop/order-placed', clientIp: '127.0.0.1', userAgent: undefined });
  }
  global.gc?.();
  return (process.memoryUsage().heapUsed - before) / count;
}

async function main(): Promise<void> {
  const service = await serviceBatches(new SerialisingDestination('bench'), 'json');
  const acceptedJson = await serviceBatches(new AcknowledgingDestination('bench'), 'json');
  const acceptedAvro = await serviceBatches(new AcknowledgingDestination('bench'), 'avro');
  const floor = await jsonFloor();
  const pixel = await pixels();
  const invalidPixel = await pixels(true);
  const perEvent = await memoryPerEvent(200_000);
  const orderVersion = loadTopicRegistry(join(ROOT, 'topics')).get('shop', 'order-placed')!.versions.get(1)!;
  const plain = await dataSerialisation(orderVersion, false, 3);
  const withBytes = await dataSerialisation(orderVersion, true, 3);
  console.log(`pipeline on one core, no HTTP, no disk but the dead letter: events decoded, validated, enriched and routed; serialised as CloudEvents JSON where it says so\n`);
  const row = (name: string, r: { events: number; seconds: number }) => [name, whole(r.events / r.seconds), ((r.seconds / r.events) * 1e6).toFixed(2)];
  console.log(
    formatTable(
      ['measure', 'events/s', 'µs per event'],
      [
        row(`service batches of ${BATCH} orders (JSON), serialised as CloudEvents JSON`, service),
        row(`the same, accepted only (the destination acknowledges and does nothing)`, acceptedJson),
        row(`the same as Avro binary datums, accepted only`, acceptedAvro),
        row('floor: JSON.parse + JSON.stringify of the same orders, nothing else', floor),
        row('pixel beacons, one impression per query string', pixel),
        row('invalid pixel beacons, dead-lettered', invalidPixel),
      ],
    ),
  );
  const range = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`;
  console.log(
    `\nCloudEvents \`data\` of one normalised order, µs per event over 3 alternated rounds: JSON.stringify ${range(plain.stringify)}, compiled ${range(plain.compiled)}; ` +
      `with a bytes field: JSON.stringify with the replacer ${range(withBytes.stringify)}, compiled ${range(withBytes.compiled)}`,
  );
  console.log(`\nheap bytes per buffered event (order, 1–5 items): ${whole(perEvent)}`);
  if (!global.gc) console.log('\n(run with node --expose-gc for a steadier memory figure)');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
