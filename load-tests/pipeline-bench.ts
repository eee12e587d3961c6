import { join } from 'node:path';
import { MemoryBudget } from '../src/buffer/memory-budget';
import { buildConfig } from '../src/config/config';
import { DeadLetter } from '../src/destinations/dead-letter/dead-letter';
import type { Destination, RecordFailure } from '../src/destinations/destination';
import type { GatewayEvent } from '../src/envelope/envelope';
import { toCloudEventJson } from '../src/envelope/envelope';
import { decodeEventsBody } from '../src/http/body-decoding';
import { Ingest } from '../src/ingest/ingest';
import { GatewayMetrics } from '../src/metrics/metrics';
import { Router } from '../src/route/router';
import { loadTopicRegistry } from '../src/topics/registry';
import { numberFromEnv } from './env';
import { orderPlaced, Random } from './payloads';
import { formatTable, whole } from './table';

// The pipeline without HTTP and disk, on one core: service batches of 100 JSON events
// decoded, validated, enriched and handed to the route, whose destination serialises each
// event as the file and Firehose destinations do (CloudEvents JSON) and acknowledges. Then
// the memory one buffered event costs, with the destination holding everything.

const SECONDS = numberFromEnv('PIPELINE_BENCH_SECONDS', 5);
const BATCH = 100;
const ROOT = join(__dirname, '..', '..');

/** Serialises like the file destination, keeps nothing. */
class SerialisingDestination implements Destination {
  readonly type = 'bench';
  readonly maxRecordBytes = 1 << 24;
  bytes = 0;
  constructor(readonly name: string) {}
  async start(): Promise<void> {}
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    for (const event of events) this.bytes += toCloudEventJson(event).length;
    return [];
  }
  isHealthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/** Never answers: every event stays buffered. */
class HoldingDestination extends SerialisingDestination {
  send(): Promise<RecordFailure[]> {
    return new Promise(() => undefined);
  }
}

function pipeline(destination: Destination) {
  const config = buildConfig({ topicsDir: join(ROOT, 'topics'), dataDir: '/tmp/pipeline-bench', destinations: { [destination.name]: { type: 'file' } }, spool: { enabled: false }, buffer: { maxBytes: 8 * 1024 * 1024 * 1024 }, batch: { maxRecords: 1000, lingerMs: 1 } }, {});
  const metrics = new GatewayMetrics();
  const budget = new MemoryBudget(config.buffer.maxBytes, metrics);
  const deadLetter = new DeadLetter('/tmp/pipeline-bench/dead', metrics);
  const router = new Router([destination], undefined, config, deadLetter, budget, metrics);
  const ingest = new Ingest(config, router, budget, deadLetter, undefined, metrics);
  const registry = loadTopicRegistry(config.topicsDir);
  const topic = registry.get('shop', 'order-placed')!;
  return { ingest, topic, version: topic.versions.get(1)! };
}

async function throughput(): Promise<{ events: number; seconds: number }> {
  const { ingest, topic, version } = pipeline(new SerialisingDestination('bench'));
  const random = new Random(7);
  const bodies = Array.from({ length: 64 }, () => Buffer.from(JSON.stringify(Array.from({ length: BATCH }, () => orderPlaced(random)))));
  let events = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(SECONDS * 1e9);
  let pending: Promise<boolean>[] = [];
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < 64; i++) {
      const body = bodies[i];
      const decoded = await decodeEventsBody('application/json', body, version);
      const result = ingest.accept({ topic, version, events: decoded.events, prevalidated: false, bodyBytes: body.length, mode: 'service', partial: false, source: '/v1/events/shop/order-placed', clientIp: '127.0.0.1', userAgent: undefined });
      events += result.accepted;
      pending.push(result.durable!);
    }
    await Promise.all(pending);
    pending = [];
  }
  return { events, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function memoryPerEvent(count: number): Promise<number> {
  const { ingest, topic, version } = pipeline(new HoldingDestination('hold'));
  const random = new Random(11);
  const body = Buffer.from(JSON.stringify(Array.from({ length: BATCH }, () => orderPlaced(random))));
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let accepted = 0; accepted < count; accepted += BATCH) {
    const decoded = await decodeEventsBody('application/json', body, version);
    ingest.accept({ topic, version, events: decoded.events, prevalidated: false, bodyBytes: body.length, mode: 'beacon', partial: true, source: '/v1/events/shop/order-placed', clientIp: '127.0.0.1', userAgent: undefined });
  }
  global.gc?.();
  return (process.memoryUsage().heapUsed - before) / count;
}

async function main(): Promise<void> {
  const { events, seconds } = await throughput();
  const perEvent = await memoryPerEvent(200_000);
  console.log(`pipeline on one core: JSON batches of ${BATCH} orders decoded, validated, enriched, routed and serialised as CloudEvents JSON (no HTTP, no disk)\n`);
  console.log(
    formatTable(
      ['measure', 'value'],
      [
        ['events/s', whole(events / seconds)],
        ['µs per event', ((seconds / events) * 1e6).toFixed(2)],
        ['heap bytes per buffered event (order, 1–5 items)', whole(perEvent)],
      ],
    ),
  );
  if (!global.gc) console.log('\n(run with node --expose-gc for a steadier memory figure)');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
