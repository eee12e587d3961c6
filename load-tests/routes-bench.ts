import pino from 'pino';
import { join } from 'node:path';
import { MemoryBudget } from '../src/buffer/memory-budget';
import { buildConfig } from '../src/config/config';
import { DeadLetter } from '../src/destinations/dead-letter/dead-letter';
import type { Destination, RecordFailure } from '../src/destinations/destination';
import { toCloudEventJson, type GatewayEvent } from '../src/envelope/envelope';
import { decodeEventsBody } from '../src/http/body-decoding';
import { Ingest } from '../src/ingest/ingest';
import { GatewayMetrics } from '../src/metrics/metrics';
import { Router } from '../src/route/router';
import { loadTopicRegistry } from '../src/topics/registry';
import { numberFromEnv } from './env';
import { orderPlaced, Random } from './payloads';
import { formatTable, whole } from './table';

// One topic on one route against the same topic on two routes (fan-out), alternated in one run
// so that a machine shared with others slows both alike: service batches of 100 JSON orders
// decoded, validated, enriched and routed, each request waiting for its ack; every destination
// serialises each event as CloudEvents JSON (as the file and Firehose destinations do) and
// acknowledges — then the same with destinations that acknowledge and do nothing, which leaves
// what fan-out itself costs. No HTTP, no disk. Prints each round and the ratio two routes / one.

const ROUND_SECONDS = numberFromEnv('ROUTES_BENCH_SECONDS', 2);
const ROUNDS = numberFromEnv('ROUTES_BENCH_ROUNDS', 5);
const BATCH = 100;
const ROOT = join(__dirname, '..', '..');
const LIMITS = { maxEvents: 10_000, maxDecodedBytes: 16 * 1024 * 1024 };

class BenchDestination implements Destination {
  readonly type = 'bench';
  readonly maxRecordBytes = 1 << 24;
  bytes = 0;
  constructor(
    readonly name: string,
    private readonly serialise: boolean,
  ) {}
  async start(): Promise<void> {}
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    if (this.serialise) for (const event of events) this.bytes += toCloudEventJson(event).length;
    return [];
  }
  isHealthy(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

function pipeline(routes: string[][], serialise: boolean) {
  const names = routes.flat();
  const destinations = names.map((name) => new BenchDestination(name, serialise));
  const config = buildConfig({ topicsDir: join(ROOT, 'topics'), dataDir: '/tmp/routes-bench', destinations: Object.fromEntries(names.map((n) => [n, { type: 'file' }])), defaultRoutes: routes, spool: { enabled: false }, buffer: { maxBytes: 8 * 1024 * 1024 * 1024 }, batch: { maxRecords: 1000, lingerMs: 1 } }, {});
  const metrics = new GatewayMetrics();
  const budget = new MemoryBudget(config.buffer.maxBytes, metrics);
  const deadLetter = new DeadLetter('/tmp/routes-bench/dead', config.deadLetter, metrics, pino({ level: 'silent' }));
  const router = new Router(destinations, undefined, config, deadLetter, budget, metrics, pino({ level: 'silent' }));
  const ingest = new Ingest(config, router, budget, deadLetter, undefined, metrics);
  const topic = loadTopicRegistry(config.topicsDir).get('shop', 'order-placed')!;
  return { ingest, topic, version: topic.versions.get(1)! };
}

async function round(routes: string[][], bodies: Buffer[], serialise: boolean): Promise<number> {
  const { ingest, topic, version } = pipeline(routes, serialise);
  let events = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(ROUND_SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline) {
    const pending: Promise<boolean>[] = [];
    for (const body of bodies) {
      const decoded = await decodeEventsBody('application/json', body, version, LIMITS);
      const result = ingest.accept({ topic, version, events: decoded.events, prevalidated: decoded.prevalidated, bodyBytes: body.length, mode: 'service', partial: false, source: '/v1/events/shop/order-placed', clientIp: '127.0.0.1', userAgent: undefined });
      events += result.accepted;
      pending.push(result.durable!);
    }
    await Promise.all(pending);
  }
  return events / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function main(): Promise<void> {
  const random = new Random(7);
  const bodies = Array.from({ length: 64 }, () => Buffer.from(JSON.stringify(Array.from({ length: BATCH }, () => orderPlaced(random)))));
  const one = [['a']];
  const two = [['a'], ['b']];
  await round(one, bodies.slice(0, 8), true); // warm-up: JIT, avsc and ajv compiled
  for (const serialise of [true, false]) {
    const rows: string[][] = [];
    const ratios: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so neither always runs on a warmer or quieter core.
      const [first, second] = i % 2 === 0 ? [one, two] : [two, one];
      const a = await round(first, bodies, serialise);
      const b = await round(second, bodies, serialise);
      const [single, double] = first === one ? [a, b] : [b, a];
      ratios.push(double / single);
      rows.push([String(i + 1), whole(single), whole(double), (double / single).toFixed(2)]);
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    const what = serialise ? 'each destination serialising CloudEvents JSON' : 'destinations that acknowledge and do nothing';
    console.log(`\none topic, service batches of ${BATCH} JSON orders, ${what}; ${ROUND_SECONDS} s per round\n`);
    console.log(formatTable(['round', 'one route [[a]] events/s', 'two routes [[a],[b]] events/s', 'two / one'], rows));
    console.log(`ratio two routes / one route: median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)}, range ${sorted[0].toFixed(2)}–${sorted[sorted.length - 1].toFixed(2)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
