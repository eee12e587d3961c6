/**
 * `node dist/load-tests/kafka-value-bench.js`: what the Kafka value format costs per event,
 * in-process and without the network, so that a shared machine's noise (which swamps a 3 %
 * difference in `npm run bench:kafka`) mostly cancels out: the same 10,000 shop/order-placed
 * events turned into Kafka records as `avro` (bare datum) and as `confluent-avro` (the 5-byte
 * prefix and a copy), from JSON (encoded) and from the client's own Avro datums (reused),
 * alternated for BENCH_ROUNDS rounds. Prints ns per record (median, and the fastest round, which
 * a busy machine disturbs least) and the per-round ratios.
 *
 *   BENCH_ROUNDS=15 BENCH_EVENTS=10000
 */
import { join, resolve } from 'node:path';
import type { GatewayEvent } from '../src/envelope/envelope';
import { confluentPrefix, toKafkaMessage } from '../src/destinations/kafka/kafka-message';
import { loadTopicRegistry } from '../src/topics/registry';
import { numberFromEnv } from './env';
import { formatTable } from './table';

const ROOT = resolve(__dirname, '..', '..');
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 15);
const EVENTS = numberFromEnv('BENCH_EVENTS', 10_000);

const registry = loadTopicRegistry(join(ROOT, 'topics'));
const schema = registry.get('shop', 'order-placed')!.versions.get(1)!;
const prefix = confluentPrefix(schema.schemaId ?? 3);

function events(withDatum: boolean): GatewayEvent[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const data = { orderId: `o-${i}`, customerId: `c-${i % 1000}`, placedAt: 1764000000000 + i, totalCents: 4599, currency: 'EUR', couponCode: null, items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1500 }, { sku: 'SKU-2', quantity: 1, unitPriceCents: 1599 }] };
    return { id: `019ab6c0-0000-7000-8000-${String(i).padStart(12, '0')}`, schema, source: '/v1/events/shop/order-placed', receivedAt: 1764000000000 + i, data, size: 200, key: `o-${i}`, datum: withDatum ? schema.type.toBuffer(data) : undefined };
  });
}

/** ns per record to turn every event into a record; the sum of value lengths keeps the work from being optimised away. */
function time(batch: GatewayEvent[], wirePrefix: Buffer | undefined): { ns: number; bytes: number } {
  let bytes = 0;
  const started = process.hrtime.bigint();
  for (const event of batch) bytes += toKafkaMessage(event, 'bench', wirePrefix).value.length;
  return { ns: Number(process.hrtime.bigint() - started) / batch.length, bytes };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const inputs = { 'from JSON (encoded)': events(false), "client's Avro datums (reused)": events(true) };
const rows: string[][] = [];
for (const [input, batch] of Object.entries(inputs)) {
  for (let i = 0; i < 3; i++) time(batch, i % 2 ? prefix : undefined); // warm-up
  const avroNs: number[] = [];
  const confluentNs: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternated, and in turn first: a slow moment of the machine falls on both.
    const [a, c] = round % 2 ? [time(batch, undefined), time(batch, prefix)] : (() => {
      const c2 = time(batch, prefix);
      return [time(batch, undefined), c2];
    })();
    if (c.bytes !== a.bytes + 5 * EVENTS) throw new Error('confluent-avro values must be 5 bytes longer each');
    avroNs.push(a.ns);
    confluentNs.push(c.ns);
    ratios.push(c.ns / a.ns);
  }
  const [bestAvro, bestConfluent] = [Math.min(...avroNs), Math.min(...confluentNs)];
  rows.push([
    input,
    `${median(avroNs).toFixed(0)} (${bestAvro.toFixed(0)})`,
    `${median(confluentNs).toFixed(0)} (${bestConfluent.toFixed(0)})`,
    `${(median(confluentNs) - median(avroNs)).toFixed(0)} (${(bestConfluent - bestAvro).toFixed(0)})`,
    `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
  ]);
}
console.log(`kafka-value-bench: ${EVENTS} shop/order-placed events per round, ${ROUNDS} rounds alternated, Node ${process.version}`);
console.log(formatTable(['input', 'avro ns/record: median (fastest)', 'confluent-avro', 'difference ns', 'confluent ÷ avro per round: median (range)'], rows));
