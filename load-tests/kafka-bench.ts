/**
 * Events/s delivered to a real Kafka broker (acks=all) from service POSTs of 100 events each,
 * with p50/p99 request latency; then beacons/s. The broker, the gateway (a child process, as
 * it runs in production) and autocannon share this machine.
 *
 *   npm run bench:kafka    # BENCH_SECONDS=20 BENCH_CONNECTIONS=64 BENCH_COMPRESSION=gzip by default
 *
 * Delivered events are counted from the broker's end offsets, not from answers.
 * Exits 1 when a threshold is missed: any 5xx, or fewer than BENCH_MIN_EVENTS_PER_S.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaBroker } from '../test/harness/kafka-broker';
import { GATEWAY_NODE_FLAGS, LOAD_TEST_AUTH, LOAD_TEST_KEY } from './gateway-process';

const ROOT = resolve(__dirname, '..', '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const MIN_EVENTS_PER_S = Number(process.env.BENCH_MIN_EVENTS_PER_S ?? 200_000);
const EVENTS_PER_POST = 100;
const PARTITIONS = 6;
const PORT = 18080;
const ADMIN_PORT = 19464;
const TOPICS = ['shop.order-placed', 'widget.impression'];

function order(i: number) {
  return { orderId: `o-${i}`, customerId: `c-${i % 1000}`, placedAt: 1764000000000 + i, totalCents: 4599, currency: 'EUR', couponCode: null, items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1500 }, { sku: 'SKU-2', quantity: 1, unitPriceCents: 1599 }] };
}

async function endOffsets(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

async function waitReady(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${ADMIN_PORT}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error('gateway not ready after 20 s');
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))));
}

async function main(): Promise<number> {
  const broker = await KafkaBroker.start();
  let gateway: ChildProcess | undefined;
  try {
    const kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: TOPICS.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })) });
    await admin.disconnect();

    const configFile = join(tmpdir(), `kafka-bench-${process.pid}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        topicsDir: join(ROOT, 'topics'),
        dataDir: join(tmpdir(), `kafka-bench-data-${process.pid}`),
        logLevel: 'warn',
        server: { host: '127.0.0.1', port: PORT, adminHost: '127.0.0.1', adminPort: ADMIN_PORT },
        batch: { maxRecords: 10_000, lingerMs: 5, maxInFlight: 4 },
        destinations: { kafka: { type: 'kafka', brokers: broker.brokers, compression: process.env.BENCH_COMPRESSION ?? 'gzip' } },
      }),
    );
    gateway = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--config', configFile], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, GATEWAY_KEYS: `${LOAD_TEST_KEY}=*` },
    });
    await waitReady();

    const body = JSON.stringify(Array.from({ length: EVENTS_PER_POST }, (_, i) => order(i)));
    const before = await endOffsets(kafka, 'shop.order-placed');
    const service = await run({
      url: `http://127.0.0.1:${PORT}/v1/events/shop/order-placed`,
      method: 'POST',
      headers: { ...LOAD_TEST_AUTH, 'content-type': 'application/json' },
      body,
      connections: CONNECTIONS,
      duration: SECONDS,
    });
    const delivered = (await endOffsets(kafka, 'shop.order-placed')) - before;
    const acknowledged = service['2xx'] * EVENTS_PER_POST;
    const eventsPerSecond = delivered / SECONDS;

    const impression = 'widgetId=w-1&pageUrl=https%3A%2F%2Fpublisher.example%2Fa&placement=TOP&position=1';
    const beacons = await run({ url: `http://127.0.0.1:${PORT}/v1/beacon/widget/impression?${impression}`, connections: CONNECTIONS, duration: Math.min(SECONDS, 10) });
    await sleep(2000);
    const beaconsDelivered = await endOffsets(kafka, 'widget.impression');

    console.log(`service POSTs of ${EVENTS_PER_POST} events, ${CONNECTIONS} connections, ${SECONDS} s, acks=all, ${process.env.BENCH_COMPRESSION ?? "gzip"}, ${PARTITIONS} partitions:`);
    console.log(`  ${Math.round(eventsPerSecond)} events/s delivered (${delivered} at the broker; ${acknowledged} acknowledged with 2xx)`);
    console.log(`  ${Math.round(service.requests.average)} requests/s; latency p50 ${service.latency.p50} ms, p99 ${service.latency.p99} ms; non-2xx ${service.non2xx}, errors ${service.errors}, timeouts ${service.timeouts}`);
    console.log(`beacons (GET pixel): ${Math.round(beacons.requests.average)} beacons/s; latency p50 ${beacons.latency.p50} ms, p99 ${beacons.latency.p99} ms; non-2xx ${beacons.non2xx}; ${beaconsDelivered} at the broker`);

    const problems: string[] = [];
    if (service['5xx'] > 0 || beacons['5xx'] > 0) problems.push(`5xx answers: ${service['5xx']} service, ${beacons['5xx']} beacon`);
    if (delivered < acknowledged) problems.push(`fewer events at the broker (${delivered}) than acknowledged (${acknowledged})`);
    if (eventsPerSecond < MIN_EVENTS_PER_S) problems.push(`${Math.round(eventsPerSecond)} events/s is under the target of ${MIN_EVENTS_PER_S}`);
    for (const p of problems) console.log(`FAIL: ${p}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((resolve) => gateway!.once('exit', resolve));
      gateway.kill('SIGTERM');
      await exited;
    }
    await broker.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
