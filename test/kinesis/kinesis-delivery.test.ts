import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import t from 'tap';
import { rabinFingerprint } from '../../src/destinations/kinesis/avro-single-object';
import { metricValue, removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';
import { setupKinesisStream, type StreamRecord } from '../helpers/kinesis';
import { waitDelivered } from '../kafka/kafka-helpers';

// Both example topics through a real gateway into a 2-shard stream of the real Kinesis API
// (moto), read back shard by shard as a consumer would, and checked field by field: widget
// impressions as CloudEvents JSON (the destination's format), orders as Avro single objects
// (their topic file's destinationOptions.kinesis.format).

t.setTimeout(120_000);

const ORIGIN = 'https://publisher.example';
const USER_AGENT = 'kinesis-test/1.0';
const schemaFile = (path: string) => JSON.parse(readFileSync(join(TOPICS_DIR, path), 'utf8'));
const orderType = avro.Type.forSchema(schemaFile('shop/order-placed/v1.avsc'));
const impressionTypes = [1, 2].map((v) => avro.Type.forSchema(schemaFile(`widget/impression/v${v}.avsc`)));
const query = (o: Record<string, unknown>) => new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();

/** The example topics, with order-placed sent to Kinesis as Avro. */
function topicsWithAvroOrders(): string {
  const dir = tempDir();
  cpSync(TOPICS_DIR, dir, { recursive: true });
  const file = join(dir, 'shop/order-placed/topic.yaml');
  writeFileSync(file, `${readFileSync(file, 'utf8')}destinationOptions:\n  kinesis:\n    format: avro\n`);
  return dir;
}

/** The fingerprint a consumer computes from the schema file: CRC-64-AVRO of its canonical form. */
const fingerprintOf = (type: avro.Type) => rabinFingerprint(Buffer.from(JSON.stringify(type.schema())));

t.test('both example topics reach a 2-shard stream: CloudEvents JSON and Avro single objects, keyed by the partition key field', async (t) => {
  const { endpoint, stream, readAll } = await setupKinesisStream(t, 'delivery', 2);
  const topicsDir = topicsWithAvroOrders();
  const { gateway, dataDir } = testGateway({
    topicsDir,
    envelope: { clientIp: 'full', userAgent: true },
    destinations: { kinesis: { type: 'kinesis', stream, endpoint } },
  });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
    removeDir(topicsDir);
  });
  await gateway.start();
  const app = gateway.publicServer;
  const headers = (contentType: string) => ({ ...SERVICE_AUTH, 'content-type': contentType, 'user-agent': USER_AGENT, origin: ORIGIN });
  const eventTime = '2026-01-01T00:00:00.000Z';

  // Impressions: a pixel (v1, client id and time), a sendBeacon body (v2) and a service POST (v2).
  const pixel = await app.inject({ url: `/v1/beacon/widget/impression?v=1&${query({ ...validImpression({ widgetId: 'pixel' }), $id: 'id-pixel', $time: eventTime })}`, headers: { 'user-agent': USER_AGENT } });
  t.equal(pixel.statusCode, 200);
  const beacon = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: headers('text/plain;charset=UTF-8'), payload: JSON.stringify(validImpression({ widgetId: 'beacon', visibleMs: 1200, aboveFold: true, viewportRatio: 0.75 })) });
  t.equal(beacon.statusCode, 204);
  const service = await app.inject({ method: 'POST', url: '/v1/events/widget/impression', headers: headers('application/json'), payload: JSON.stringify([validImpression({ widgetId: 'svc' })]) });
  t.equal(service.statusCode, 200);

  // Orders: JSON, and Avro datums whose bytes must travel unchanged (one with its items in two
  // blocks, which avsc would not write, so re-encoding would show).
  const json = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: headers('application/json'), payload: JSON.stringify([validOrder({ orderId: 'j1', $id: 'id-j1', $time: eventTime }), validOrder({ orderId: 'j2', couponCode: 'SALE' })]) });
  t.equal(json.statusCode, 200);
  const order = validOrder({ orderId: 'two-blocks' });
  const itemType = (orderType as avro.types.RecordType).field('items')!.type as avro.types.ArrayType;
  const head = orderType.toBuffer({ ...order, items: [] }).subarray(0, -1);
  const [one, two] = (order.items as unknown[]).map((item) => itemType.itemsType.toBuffer(item));
  const twoBlocks = Buffer.concat([head, Buffer.from([2]), one, Buffer.from([2]), two, Buffer.from([0])]);
  t.notOk(twoBlocks.equals(orderType.toBuffer(order)), 'the hand-written datum differs from what avsc writes');
  const plainDatum = orderType.toBuffer(validOrder({ orderId: 'a2', totalCents: 1 }));
  const binary = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed?v=1', headers: headers('avro/binary'), payload: Buffer.concat([twoBlocks, plainDatum]) });
  t.equal(binary.statusCode, 200);

  const total = 7;
  t.equal(await waitDelivered(gateway, 'kinesis', total), total, 'the gateway counts every event delivered');
  const records = await readAll();
  t.equal(records.length, total, 'every event in the stream once');
  t.comment(`records per shard: ${JSON.stringify(Object.fromEntries([...new Set(records.map((r) => r.shardId))].map((s) => [s, records.filter((r) => r.shardId === s).length])))}`);

  const byKey = new Map<string, StreamRecord>(records.map((r) => [r.partitionKey, r]));
  t.same([...byKey.keys()].sort(), ['a2', 'beacon', 'j1', 'j2', 'pixel', 'svc', 'two-blocks'], 'partition key: the topic’s partitionKey field');

  // CloudEvents JSON: every attribute and the data.
  const ce = (key: string) => JSON.parse(byKey.get(key)!.data.toString('utf8'));
  for (const key of ['pixel', 'beacon', 'svc']) {
    const event = ce(key);
    t.equal(event.specversion, '1.0');
    t.equal(event.type, 'widget.impression');
    t.equal(event.datacontenttype, 'application/json');
    t.equal(event.clientip, '127.0.0.1');
    t.equal(event.useragent, USER_AGENT);
    t.ok(Date.parse(event.receivedtime) > Date.now() - 120_000, 'receive time is recent');
    t.match(event.id, /.+/);
  }
  const pixelEvent = ce('pixel');
  t.equal(pixelEvent.id, 'id-pixel', 'client id kept for deduplication');
  t.equal(pixelEvent.time, eventTime);
  t.equal(pixelEvent.source, '/v1/beacon/widget/impression');
  t.equal(pixelEvent.dataschema, '/v1/topics/widget/impression/versions/1');
  t.same(pixelEvent.data, { widgetId: 'pixel', pageUrl: 'https://publisher.example/articles/1', placement: 'SIDEBAR', position: 2, referrer: null });
  const beaconEvent = ce('beacon');
  t.equal(beaconEvent.dataschema, '/v1/topics/widget/impression/versions/2');
  t.equal(beaconEvent.time, beaconEvent.receivedtime, 'no event time: time is the receive time');
  t.same(beaconEvent.data, { widgetId: 'beacon', pageUrl: 'https://publisher.example/articles/1', placement: 'SIDEBAR', position: 2, referrer: null, visibleMs: 1200, aboveFold: true, viewportRatio: 0.75 });
  t.equal(ce('svc').source, '/v1/events/widget/impression');

  // Avro single objects: marker, the fingerprint of v1's canonical form, then the datum.
  const orderFingerprint = fingerprintOf(orderType);
  t.not(orderFingerprint, fingerprintOf(impressionTypes[1]));
  const decoded = new Map<string, unknown>();
  for (const key of ['j1', 'j2', 'two-blocks', 'a2']) {
    const data = byKey.get(key)!.data;
    t.same([data[0], data[1]], [0xc3, 0x01], `${key}: single-object marker`);
    t.equal(data.readBigUInt64LE(2), orderFingerprint, `${key}: the fingerprint names order-placed v1`);
    decoded.set(key, orderType.fromBuffer(data.subarray(10)));
  }
  const expected = (over: Record<string, unknown>) => {
    const o = validOrder(over) as Record<string, unknown>;
    delete o.$id;
    delete o.$time;
    return orderType.fromBuffer(orderType.toBuffer(o));
  };
  t.same(decoded.get('j1'), expected({ orderId: 'j1' }));
  t.same(decoded.get('j2'), expected({ orderId: 'j2', couponCode: 'SALE' }));
  t.same(decoded.get('a2'), expected({ orderId: 'a2', totalCents: 1 }));
  t.ok(byKey.get('two-blocks')!.data.subarray(10).equals(twoBlocks), 'the client’s datum travels byte for byte');
  t.ok(byKey.get('a2')!.data.subarray(10).equals(plainDatum), 'the second datum of the body too');

  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_open_shards', { destination: 'kinesis' }), 2, 'shards counted at start');
  t.equal(metricValue(metrics, 'tracking_gateway_destination_learned_rate_records_per_second', { destination: 'kinesis' }), 2000, 'the rate is 1,000 records/s per shard');
  t.ok(metricValue(metrics, 'tracking_gateway_kinesis_put_records_calls_total', { destination: 'kinesis', outcome: 'ok' }) >= 1, 'calls counted');
  t.equal(metricValue(metrics, 'tracking_gateway_kinesis_records_failed_total'), 0);
});

t.test('the destination format applies where a topic sets none: impressions as Avro of their own version', async (t) => {
  const { endpoint, stream, readAll } = await setupKinesisStream(t, 'avro-default', 1);
  const { gateway, dataDir } = testGateway({ destinations: { kinesis: { type: 'kinesis', stream, endpoint, format: 'avro' } } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const res = await gateway.publicServer.inject({
    method: 'POST',
    url: '/v1/events/widget/impression?v=1',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
    payload: JSON.stringify([validImpression({ widgetId: 'v1-event' })]),
  });
  t.equal(res.statusCode, 200);
  const [record, ...more] = await readAll();
  t.equal(more.length, 0);
  t.equal(record.partitionKey, 'v1-event');
  t.equal(record.data.readBigUInt64LE(2), fingerprintOf(impressionTypes[0]), 'the fingerprint names v1, the version the event was sent in');
  t.same(impressionTypes[0].fromBuffer(record.data.subarray(10)), impressionTypes[0].fromBuffer(impressionTypes[0].toBuffer({ ...validImpression({ widgetId: 'v1-event' }), referrer: null })));
});

t.test('with streamArn the calls name the stream by its ARN (a stream in another account)', async (t) => {
  const { endpoint, proxy, stream, arn, readAll } = await setupKinesisStream(t, 'by-arn', 1);
  const { gateway, dataDir } = testGateway({ destinations: { kinesis: { type: 'kinesis', stream, streamArn: arn, endpoint } } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  await gateway.start();
  const res = await gateway.publicServer.inject({
    method: 'POST',
    url: '/v1/events/shop/order-placed',
    headers: { ...SERVICE_AUTH, 'content-type': 'application/json' },
    payload: JSON.stringify([validOrder({ orderId: 'by-arn' })]),
  });
  t.equal(res.statusCode, 200);
  t.same((await readAll()).map((r) => r.partitionKey), ['by-arn']);
  t.match(proxy.stats(stream), { recordsAccepted: 1, calls: 1, callsByArn: 1 }, 'the put named the stream by its ARN');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_kinesis_open_shards', { destination: 'kinesis' }), 1, 'DescribeStreamSummary by ARN too');
});
