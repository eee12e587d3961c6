import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import t from 'tap';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, testGateway, validOrder } from '../helpers/gateway';
import { consumeAll, uniquePrefix } from './kafka-helpers';

// A record over the broker's size limit goes to the dead letter with the reason, counted;
// the records sent with it in the same batch are delivered.

const TOPIC_MAX_MESSAGE_BYTES = 20_000;

t.test('a record the broker refuses as too large is dead-lettered; its batch-mates are delivered', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('too-large');
  const kafkaTopic = `${prefix}.shop.order-placed`;
  // The topic's own limit is below the broker's default, which the destination assumes, so
  // only the broker can say no: the path a cluster with a lowered max.message.bytes takes.
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: kafkaTopic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }] },
      // The other example topic routes to the destination too, and must exist for it to start.
      { topic: `${prefix}.widget.impression`, numPartitions: 1, replicationFactor: 1 },
    ],
  });
  await admin.disconnect();

  const { gateway, dataDir } = testGateway({ destinations: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}` } } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  // Random text does not compress below the limit.
  const big = randomBytes(30_000).toString('base64');
  const res = await gateway.publicServer.inject({
    method: 'POST',
    url: '/v1/events/shop/order-placed',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
    payload: JSON.stringify([validOrder({ orderId: 'small-1' }), validOrder({ orderId: 'big', couponCode: big }), validOrder({ orderId: 'small-2' })]),
  });
  t.equal(res.statusCode, 200, 'answered once every event is durable: delivered or dead-lettered');

  const records = await consumeAll(brokers, [kafkaTopic], gateway.registry, 2, 10_000);
  t.same(records.map((r) => r.key).sort(), ['small-1', 'small-2']);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_dead_lettered_total', { service: 'shop', topic: 'order-placed', reason: 'too_large' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'kafka', outcome: 'too_large' }), 1);
  t.ok(metricValue(metrics, 'tracking_gateway_kafka_produce_requests_total', { destination: 'kafka', outcome: 'too_large' }) >= 1, 'the refused producer batches are counted');
  await gateway.close();
  const [dead, ...more] = readGzipLines(join(dataDir, '_dead-letter'));
  t.equal(more.length, 0);
  t.equal(dead.reason, 'too_large');
  t.match(dead.message, /^route kafka: kafka: .*(larger|too large|MESSAGE_TOO_LARGE|size)/i, 'the reason names the destination and what the broker said');
  // 40 KB of CloudEvent is over deadLetter.maxPayloadBytes (8 KiB): cut, with its size and digest.
  t.equal(dead.payload, undefined);
  t.ok(dead.payloadBytes > 40_000, 'the original size is kept');
  t.match(dead.payloadTruncated, /^\{"specversion":"1.0".*"orderId":"big"/);
  t.equal(Buffer.byteLength(dead.payloadTruncated), 8192);
  t.match(dead.payloadSha256, /^[0-9a-f]{64}$/);
});
