import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { KafkaBroker } from '../harness/kafka-broker';
import { MovableClock, until } from '../helpers/clock';
import { metricValue, removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validOrder } from '../helpers/gateway';
import { testBucket } from '../helpers/s3';
import { consumeAll, uniquePrefix } from '../kafka/kafka-helpers';

// One topic on two routes, [[kafka], [file]], the file destination shipping its minute files
// to moto's S3: the real-time consumer reads Kafka, the batch jobs read S3. Each acknowledged
// event reaches each store exactly once; with the broker stopped the file route goes on (S3
// gets the events at once), the Kafka route spools, and replay brings them to Kafka only once
// the broker is back. This test stops its broker, so it runs one of its own.

const MINUTE = 60_000;

t.test('[[kafka], [file]] with S3 shipping: 500 events reach each once; 200 more with the broker stopped reach S3 at once and Kafka after it is back; no duplicate anywhere', async (t) => {
  const broker = await KafkaBroker.start();
  t.teardown(() => broker.stop());
  const bucket = await testBucket(t);
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  writeFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), 'access: service\ndefaultVersion: 1\npartitionKey: orderId\nroutes: [[kafka], [file]]\n');
  // Minute files close by receive time: the clock is moved past each minute and its grace rather than waited for.
  const clock = new MovableClock(t, Date.now());
  const prefix = uniquePrefix('fan-out');
  const { gateway, dataDir } = testGateway({
    topicsDir,
    server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 20_000 },
    destinations: {
      kafka: { type: 'kafka', brokers: broker.brokers, topic: `${prefix}.{service}.{topic}`, requestTimeoutMs: 2000, createTopics: { enabled: true, numPartitions: 2, replicationFactor: 1 } },
      file: { type: 'file', s3: { bucket: bucket.bucket, endpoint: bucket.endpoint, graceSeconds: 1 } },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const post = async (from: number, count: number) => {
    const ids = Array.from({ length: count }, (_, i) => `fan-${from + i}`);
    const res = await gateway.publicServer.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(ids.map((id) => validOrder({ orderId: id, $id: id }))) });
    return res.statusCode;
  };
  const metric = async (name: string, labels: Record<string, string> = {}) => metricValue(await gateway.metrics.render(), name, labels);
  const inS3 = async () => {
    const ids: string[] = [];
    for (const object of (await bucket.objects()).values()) {
      for (const line of gunzipSync(object).toString('utf8').split('\n')) if (line) ids.push(JSON.parse(line).id);
    }
    return ids;
  };
  const expectOnce = (ids: string[], expected: number, where: string) => {
    const distinct = new Set(ids);
    t.equal(distinct.size, expected, `${where}: ${expected} distinct events`);
    t.equal(ids.length, distinct.size, `${where}: no duplicate`);
  };

  // 500 with both routes up.
  for (let from = 0; from < 500; from += 100) t.equal(await post(from, 100), 200, `events ${from}..${from + 99} acknowledged`);
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'kafka', outcome: 'delivered' }), 500, 'the kafka route delivered 500');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'file', outcome: 'delivered' }), 500, 'the file route delivered 500');
  clock.jump(Date.now() + 2 * MINUTE);
  await until(async () => (await inS3()).length >= 500, 'S3 to hold the first 500', 30_000);

  // 200 more with the broker stopped: acknowledged, the Kafka route's in the spool.
  await broker.stop();
  for (let from = 500; from < 700; from += 50) t.equal(await post(from, 50), 200, `events ${from}..${from + 49} acknowledged with the broker stopped`);
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'kafka', outcome: 'spooled' }), 200, 'the kafka route spooled the 200');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'file', outcome: 'spooled' }), 0, 'the file route spooled none: it did not pay for the other route being down');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'file', outcome: 'delivered' }), 700, 'the file route delivered all 700');
  t.equal(await metric('tracking_gateway_spool_records'), 200, 'one spool entry per event, for the kafka route only');
  t.equal((await gateway.adminServer.inject({ url: '/readyz' })).statusCode, 200, '/readyz: every route can deliver or spool');
  clock.jump(Date.now() + 2 * MINUTE);
  await until(async () => (await inS3()).length >= 700, 'S3 to hold all 700 while the broker is away', 30_000);
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'kafka', outcome: 'delivered' }), 500, 'Kafka got nothing more while away');

  // The broker is back: replay sends the 200 down the kafka route, and only there.
  await broker.startAgain();
  await until(async () => (await metric('tracking_gateway_spool_records')) === 0, 'the spool to drain into Kafka', 60_000);
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'kafka', outcome: 'replayed' }), 200, 'the kafka route replayed the 200');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'file', outcome: 'replayed' }), 0, 'nothing replayed down the file route');
  t.equal(await metric('tracking_gateway_events_dropped_total'), 0, 'nothing dropped');
  t.equal(await metric('tracking_gateway_events_dead_lettered_total'), 0, 'nothing dead-lettered');
  clock.jump(Date.now() + 2 * MINUTE);
  await new Promise((resolve) => setTimeout(resolve, 3_000)); // a shipping pass that would upload anything new

  const records = await consumeAll(broker.brokers, [`${prefix}.shop.order-placed`], gateway.registry, 700, 30_000);
  expectOnce(records.map((r) => r.headers.ce_id), 700, 'Kafka');
  expectOnce(await inS3(), 700, 'S3');
  clock.restore();
});
