import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { numberFromEnv } from './env';
import { orderPlaced, Random } from './payloads';
import { startGateway, LOAD_TEST_AUTH } from './gateway-process';
import { formatTable, whole } from './table';
import { eventOfCall } from '../src/segment/call-mapping';
import { loadTopicRegistry } from '../src/topics/registry';
import { NormalizeContext } from '../src/topics/avro-normalizer';

// `node dist/load-tests/segment-bench.js`: the same 100 orders a request through the Segment
// API (/v1/batch, JSON and gzip) and through /v1/events, in alternating rounds against one
// gateway process, then the mapping alone (call → event) per event, in this process.

const ROUND_S = numberFromEnv('SEGMENT_BENCH_ROUND_S', 5);
const ROUNDS = numberFromEnv('SEGMENT_BENCH_ROUNDS', 3);
const CONNECTIONS = numberFromEnv('SEGMENT_BENCH_CONNECTIONS', 16);
const EVENTS_PER_REQUEST = 100;

// One set of orders, the load tests' own (payloads.ts), sent as Segment calls and as events.
const random = new Random(19);
const placed = Array.from({ length: EVENTS_PER_REQUEST }, () => orderPlaced(random));
const calls = placed.map((order, i) => ({ type: 'track', event: 'Order Placed', messageId: `m-${i}`, timestamp: '2026-12-01T10:00:00.000Z', userId: order.customerId, properties: order }));
const orders = placed.map((order, i) => ({ ...order, $id: `m-${i}`, $time: '2026-12-01T10:00:00.000Z' }));
const batchJson = Buffer.from(JSON.stringify({ batch: calls }));

interface Contender {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

const CONTENDERS: Contender[] = [
  { name: '/v1/events (JSON array)', path: '/v1/events/shop/order-placed', headers: { ...LOAD_TEST_AUTH, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(orders)) },
  { name: '/v1/batch (JSON)', path: '/v1/batch', headers: { ...LOAD_TEST_AUTH, 'content-type': 'application/json' }, body: batchJson },
  { name: '/v1/batch (gzip)', path: '/v1/batch', headers: { ...LOAD_TEST_AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(batchJson) },
];

async function round(baseUrl: string, c: Contender): Promise<{ eventsPerSecond: number; p99: number; non2xx: number }> {
  const result = await autocannon({ url: `${baseUrl}${c.path}`, method: 'POST', headers: c.headers, body: c.body, connections: CONNECTIONS, duration: ROUND_S });
  return { eventsPerSecond: (result['2xx'] / ROUND_S) * EVENTS_PER_REQUEST, p99: result.latency.p99, non2xx: result.non2xx };
}

/** ns per event of `fn` over `count` events, best of 5 runs. */
function nsPerEvent(count: number, fn: (i: number) => void): number {
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / count);
  }
  return best;
}

async function main(): Promise<void> {
  const gateway = await startGateway({ env: { GATEWAY_WORKERS: '1' } });
  const samples = new Map<string, { eventsPerSecond: number[]; p99: number[]; non2xx: number }>();
  try {
    for (const c of CONTENDERS) await autocannon({ url: `${gateway.baseUrl}${c.path}`, method: 'POST', headers: c.headers, body: c.body, connections: CONNECTIONS, duration: 1 });
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the order each round, so no contender always runs first after a pause.
      const order = r % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
      for (const c of order) {
        const result = await round(gateway.baseUrl, c);
        const s = samples.get(c.name) ?? { eventsPerSecond: [], p99: [], non2xx: 0 };
        s.eventsPerSecond.push(result.eventsPerSecond);
        s.p99.push(result.p99);
        s.non2xx += result.non2xx;
        samples.set(c.name, s);
      }
    }
  } finally {
    await gateway.stop();
  }
  const base = samples.get(CONTENDERS[0].name)!.eventsPerSecond;
  const rows = CONTENDERS.map((c) => {
    const s = samples.get(c.name)!;
    const ratios = s.eventsPerSecond.map((e, i) => e / base[i]);
    return [c.name, `${c.body.length}`, s.eventsPerSecond.map(whole).join(' / '), `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`, s.p99.join(' / '), String(s.non2xx)];
  });
  console.log(`${ROUNDS} alternating rounds of ${ROUND_S} s, ${CONNECTIONS} connections, ${EVENTS_PER_REQUEST} orders a request; one gateway process, load generator in this process, machine shared`);
  console.log(formatTable(['contender', 'body bytes', 'events/s per round', 'ratio to /v1/events', 'p99 ms per round', 'non-2xx'], rows));

  // The mapping alone: a call → the event ingest then checks, against checking the event itself.
  const registry = loadTopicRegistry(join(__dirname, '..', '..', 'topics'));
  const version = registry.get('shop', 'order-placed')!.versions.get(1)!;
  const count = 200_000;
  const mapping = nsPerEvent(count, (i) => eventOfCall(calls[i % EVENTS_PER_REQUEST], 'track', version));
  const normalize = nsPerEvent(count, (i) => version.normalize(orders[i % EVENTS_PER_REQUEST], new NormalizeContext()));
  console.log(`mapping a call to its event: ${mapping.toFixed(0)} ns/event; schema check of the event (for scale): ${normalize.toFixed(0)} ns/event`);
}

void main();
