// confluent-avro on the real broker, read by a stock client: every value the gateway wrote is
// decoded by @confluentinc/schemaregistry's AvroDeserializer pointed at the gateway's own
// registry URL (the admin port), field by field, across both versions of widget/impression.
import { appendFileSync, cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AvroDeserializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { Consumer, stringDeserializer } from '@platformatic/kafka';
import avro from 'avsc';
import t from 'tap';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';
import { uniquePrefix } from './kafka-helpers';

interface RawRecord {
  topic: string;
  key: string;
  headers: Record<string, string>;
  value: Buffer;
}

/** Every record of `topics` from the start, values as the producer wrote them. */
async function consumeRaw(brokers: string[], topics: string[], expected: number, timeoutMs = 20_000): Promise<RawRecord[]> {
  const consumer = new Consumer({
    clientId: 'confluent-avro-test',
    groupId: uniquePrefix('confluent-avro-test'),
    bootstrapBrokers: brokers,
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
  const records: RawRecord[] = [];
  try {
    const stream = await consumer.consume({ topics, mode: 'earliest', autocommit: false, maxWaitTime: 100 });
    stream.on('data', (message) => records.push({ topic: message.topic, key: message.key ?? '', headers: Object.fromEntries(message.headers) as Record<string, string>, value: message.value }));
    const deadline = Date.now() + timeoutMs;
    while (records.length < expected && Date.now() < deadline) await sleep(100);
    await sleep(300);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return records;
}

t.test('every confluent-avro value decodes with AvroDeserializer against the gateway registry', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('confluent');
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  // The destination writes confluent-avro; shop/order-placed keeps bare datums by its own option.
  appendFileSync(join(topicsDir, 'shop/order-placed/topic.yaml'), '\ndestinationOptions:\n  kafka: { valueFormat: avro }\n');
  const { gateway, dataDir } = testGateway({
    topicsDir,
    destinations: {
      kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}`, valueFormat: 'confluent-avro', createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 } },
    },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const { port, adminPort } = await gateway.start();
  const registryUrl = `http://127.0.0.1:${adminPort}/schema-registry`;

  const post = async (path: string, body: string | Buffer, type: string, headers: Record<string, string> = SERVICE_AUTH) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { ...headers, 'content-type': type }, body });
    t.equal(response.status, path.startsWith('/v1/beacon') ? 204 : 200, `${path}: ${await response.text()}`);
  };
  // widget/impression v1 and v2 as JSON, v2 as the client's own Avro datums, v1 as a beacon.
  const expected: Record<string, { version: number; data: Record<string, unknown> }> = {};
  const impressionV1 = [validImpression({ widgetId: 'v1-a' }), validImpression({ widgetId: 'v1-b', placement: 'FOOTER', position: 0, referrer: 'https://ref.example/' })];
  const impressionV2 = [validImpression({ widgetId: 'v2-a', visibleMs: 1234, aboveFold: true, viewportRatio: 0.5 }), validImpression({ widgetId: 'v2-b', aboveFold: null })];
  await post('/v1/events/widget/impression?v=1', JSON.stringify(impressionV1), 'application/json');
  await post('/v1/events/widget/impression?v=2', JSON.stringify(impressionV2), 'application/json');
  const v2Type = avro.Type.forSchema(JSON.parse(readFileSync(join(TOPICS_DIR, 'widget/impression/v2.avsc'), 'utf8')));
  const v1Type = avro.Type.forSchema(JSON.parse(readFileSync(join(TOPICS_DIR, 'widget/impression/v1.avsc'), 'utf8')));
  const avroEvents = [
    { widgetId: 'avro-a', pageUrl: 'https://publisher.example/x', placement: 'TOP', position: 7, referrer: null, visibleMs: 99, aboveFold: false, viewportRatio: 0.25 },
    { widgetId: 'avro-b', pageUrl: 'https://publisher.example/y', placement: 'INLINE', position: 1, referrer: 'https://r.example/', visibleMs: 5, aboveFold: null, viewportRatio: 1 },
  ];
  const datums = avroEvents.map((event) => v2Type.toBuffer(event));
  await post('/v1/events/widget/impression?v=2', Buffer.concat(datums), 'avro/binary');
  const beacon = validImpression({ widgetId: 'beacon-v1' });
  await post('/v1/beacon/widget/impression?v=1', JSON.stringify(beacon), 'text/plain', { origin: 'https://publisher.example' });
  for (const data of impressionV1) expected[data.widgetId as string] = { version: 1, data: { referrer: null, ...data } };
  for (const data of impressionV2) expected[data.widgetId as string] = { version: 2, data: { referrer: null, visibleMs: 0, aboveFold: null, viewportRatio: 0, ...data } };
  for (const data of avroEvents) expected[data.widgetId] = { version: 2, data };
  expected[beacon.widgetId as string] = { version: 1, data: { referrer: null, ...beacon } };
  await post('/v1/events/shop/order-placed', JSON.stringify(validOrder({ orderId: 'bare' })), 'application/json');

  const impressions = await consumeRaw(brokers, [`${prefix}.widget.impression`], Object.keys(expected).length);
  t.equal(impressions.length, Object.keys(expected).length, 'every impression is on the broker');

  const client = new SchemaRegistryClient({ baseURLs: [registryUrl] });
  const writerSchema = new AvroDeserializer(client, SerdeType.VALUE, {});
  const latestSchema = new AvroDeserializer(client, SerdeType.VALUE, { useLatestVersion: true });
  const seen = new Set<string>();
  for (const record of impressions) {
    const want = expected[record.key];
    t.ok(want, `record ${record.key} was sent`);
    if (!want) continue;
    seen.add(record.key);
    t.equal(record.value[0], 0, 'magic byte 0');
    t.equal(record.value.readUInt32BE(1), want.version, `${record.key}: schema id ${want.version} (widget/impression v${want.version})`);
    t.equal(record.headers.ce_dataschema, `/v1/topics/widget/impression/versions/${want.version}`, 'the CloudEvents headers stay');
    t.equal(record.headers.ce_type, 'widget.impression');
    const decoded = (await writerSchema.deserialize(record.topic, record.value)) as Record<string, unknown>;
    for (const [field, value] of Object.entries(want.data)) t.same(decoded[field], value, `${record.key}.${field}`);
    t.same(Object.keys(decoded).sort(), Object.keys((want.version === 1 ? v1Type : v2Type).fromBuffer((want.version === 1 ? v1Type : v2Type).toBuffer(want.data)) as object).sort(), `${record.key}: no other field`);
    // A consumer reading with the latest version sees v1 events with v2's defaults.
    const asLatest = (await latestSchema.deserialize(record.topic, record.value)) as Record<string, unknown>;
    t.same(asLatest, { visibleMs: 0, aboveFold: null, viewportRatio: 0, ...want.data }, `${record.key} read as the latest version`);
  }
  t.same([...seen].sort(), Object.keys(expected).sort(), 'each event once');

  // The client's own datum bytes follow the 5-byte prefix unchanged.
  for (const [i, event] of avroEvents.entries()) {
    const record = impressions.find((r) => r.key === event.widgetId)!;
    t.ok(record.value.subarray(5).equals(datums[i]), `${event.widgetId}: the datum as the client sent it`);
  }

  const orders = await consumeRaw(brokers, [`${prefix}.shop.order-placed`], 1);
  t.equal(orders.length, 1);
  const orderType = avro.Type.forSchema(JSON.parse(readFileSync(join(TOPICS_DIR, 'shop/order-placed/v1.avsc'), 'utf8')));
  t.match(orderType.fromBuffer(orders[0].value), { orderId: 'bare' }, 'a topic that sets valueFormat: avro keeps bare datums');
});
