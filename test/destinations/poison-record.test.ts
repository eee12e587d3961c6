import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { createDestination } from '../../src/destinations/create-destination';
import type { Destination } from '../../src/destinations/destination';
import { encodeSpoolEntry } from '../../src/destinations/spool/spool-entry';
import { toKafkaMessage } from '../../src/destinations/kafka/kafka-message';
import { toCloudEventJson, type GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { kafkaBrokersForTests } from '../harness/kafka-global';
import { setupStreams } from '../helpers/firehose';
import { RecordingDestination } from '../helpers/destinations';
import { injectableGateway, metricValue, readGzipLines, removeDir, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder, SERVICE_AUTH } from '../helpers/gateway';
import { consumeAll, uniquePrefix } from '../kafka/kafka-helpers';

// "A value that validates can always be delivered": an edge-value corpus goes through the
// HTTP API, and whatever is accepted must encode for every destination. Should one record
// still fail to encode, only it fails — its batch-mates are delivered by the real file, Kafka
// and Firehose destinations, and the destination stays healthy.

t.setTimeout(5 * 60_000);

const registry = loadTopicRegistry(TOPICS_DIR);
const orders = registry.get('shop', 'order-placed')!.versions.get(1)!;

function event(id: string, over: Partial<GatewayEvent> = {}): GatewayEvent {
  return { id, schema: orders, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), data: orders.normalize(validOrder({ orderId: id }), { path: [], problems: [] } as any) as Record<string, unknown>, size: 600, key: id, ...over };
}

/** Past what `Date` can print: every encoder of the envelope throws on it. */
const poison = () => event('poison', { eventTime: 1e20 });

const EDGE_TIMES: unknown[] = [
  0, 253402300799999, 253402300800000, -1, 1.5, 1e300, 9007199254740993, '0', '253402300799999', '253402300800000',
  '1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '9999-12-31T23:00:00-05:00', '+275760-09-13T00:00:00.000Z',
  '2026-13-01T00:00:00Z', 'Tue, 01 Jan 2030 00:00:00 GMT', '2030-01-01', '', ' 1', null, true, [], {},
];
const EDGE_STRINGS: unknown[] = ['', 'é', '\u{1F600}', '\ud800', 'a\udc00b', '\u0000', 'x'.repeat(10_000), '"\\\n'];
const EDGE_LONGS: unknown[] = [0, -0, 9007199254740990, 9007199254740991, 9007199254740992, -4503599627370496, -4503599627370497, -9007199254740991, 1e21, 1.5, Number.MAX_VALUE, '1'];

t.test('edge values: every answer is 200 or 4xx, and every accepted event encodes for every destination', async (t) => {
  const recording = new RecordingDestination('recording');
  const { gateway, dataDir } = testGateway({}, {}, [recording]);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const app = gateway.publicServer;
  const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.slice(0, 30)) : String(v));
  const bodies: [string, unknown][] = [
    ...EDGE_TIMES.map((time): [string, unknown] => [`$time ${show(time)}`, validOrder({ $time: time })]),
    ...EDGE_TIMES.map((time): [string, unknown] => [`$id ${show(time)}`, validOrder({ $id: time })]),
    ...EDGE_STRINGS.map((s): [string, unknown] => [`customerId and $id ${show(s)}`, validOrder({ customerId: s, $id: s })]),
    ...EDGE_STRINGS.map((s): [string, unknown] => [`nested sku ${show(s)}`, validOrder({ items: [{ sku: s, quantity: 1, unitPriceCents: 1 }] })]),
    ...EDGE_LONGS.map((n): [string, unknown] => [`long ${show(n)}`, validOrder({ placedAt: n, totalCents: n })]),
    ['misspelt $idd', validOrder({ $idd: 'misspelt' })],
  ];
  const statuses = new Map<number, number>();
  for (const [label, body] of bodies) {
    const res = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    t.ok(res.statusCode === 200 || res.statusCode === 422, `${label} → ${res.statusCode}`);
    if (res.statusCode === 422) t.ok(res.json().error.events.length > 0, 'the refusal names the field');
  }
  for (const time of EDGE_TIMES) {
    const url = `/v1/beacon/widget/impression?${new URLSearchParams({ ...validImpression(), position: '2', $time: String(time) })}`;
    const res = await app.inject({ url });
    t.ok(res.statusCode === 200, `pixel with $time=${String(time)} → ${res.statusCode}`);
  }
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(422) ?? 0) > 0, 'the corpus has both kinds');
  const deadline = Date.now() + 5_000;
  while (recording.events.length < (statuses.get(200) ?? 0) && Date.now() < deadline) await sleep(20);
  t.ok(recording.events.length >= (statuses.get(200) ?? 0), 'the accepted events reached the destination');
  for (const accepted of recording.events) {
    t.doesNotThrow(() => {
      JSON.parse(toCloudEventJson(accepted));
      encodeSpoolEntry(accepted);
      // Kafka's value must read back as what was validated: an encoder that changed a value silently is worse than one that threw.
      t.same(accepted.schema.type.fromBuffer(toKafkaMessage(accepted).value as Buffer), accepted.data, 'the Avro value reads back unchanged');
    }, `event ${accepted.id.slice(0, 40)} encodes for files, Firehose, Kafka and the spool`);
    if (accepted.eventTime !== undefined) t.ok(accepted.eventTime >= 0 && accepted.eventTime <= 253402300799999);
  }
});

t.test('the file destination fails only the record it cannot encode, and the route dead-letters it', async (t) => {
  const { app, gateway, dataDir } = injectableGateway(t);
  const file = createDestination('file', { type: 'file' }, gateway.config, gateway.metrics, gateway.log);
  const failures = await file.send([event('good-1'), poison(), event('good-2')]);
  await file.close();
  t.same(failures.map((f) => [f.index, f.kind]), [[1, 'malformed']]);
  t.match(failures[0].message, /cannot encode event poison/);
  t.ok(file.isHealthy(), 'one bad record does not mark the destination down');
  t.same(readGzipLines(`${dataDir}/shop`).map((l) => l.data.orderId).sort(), ['good-1', 'good-2']);
  t.ok(app, 'gateway built');
});

t.test('the real Kafka destination: only the poisoned record fails', async (t) => {
  const brokers = await kafkaBrokersForTests();
  const prefix = uniquePrefix('poison');
  const config = buildConfig({ topicsDir: TOPICS_DIR, dataDir: tempDir(), destinations: { kafka: { type: 'kafka', brokers, topic: `${prefix}.{service}.{topic}`, createTopics: { enabled: true, numPartitions: 1, replicationFactor: 1 } } } }, {});
  const kafka = createDestination('kafka', config.destinations.kafka, config, new GatewayMetrics(), pino({ level: 'silent' }));
  t.teardown(() => kafka.close());
  await kafka.start({ topics: [registry.get('shop', 'order-placed')!], log: pino({ level: 'silent' }) });
  const failures = await kafka.send([event('good-1'), poison(), event('good-2')]);
  t.same(failures.map((f) => [f.index, f.kind]), [[1, 'malformed']]);
  t.ok(kafka.isHealthy());
  const records = await consumeAll(brokers, [`${prefix}.shop.order-placed`], registry, 2, 10_000);
  t.same(records.map((r) => r.key).sort(), ['good-1', 'good-2']);
});

t.test('the real Firehose destination (moto): only the poisoned record fails', async (t) => {
  const { proxy, streams, idsIn } = await setupStreams(t, ['poison']);
  const config = buildConfig({ topicsDir: TOPICS_DIR, dataDir: tempDir(), destinations: { firehose: { type: 'firehose', stream: streams[0], endpoint: proxy.endpoint, packRecordBytes: 0 } } }, {});
  const firehose: Destination = createDestination('firehose', config.destinations.firehose, config, new GatewayMetrics(), pino({ level: 'silent' }));
  t.teardown(() => firehose.close());
  await firehose.start({ topics: [], log: pino({ level: 'silent' }) });
  const failures = await firehose.send([event('good-1'), poison(), event('good-2')]);
  t.same(failures.map((f) => [f.index, f.kind]), [[1, 'malformed']]);
  t.ok(firehose.isHealthy());
  let ids: string[] = [];
  const deadline = Date.now() + 30_000;
  while (ids.length < 2 && Date.now() < deadline) {
    ids = await idsIn(streams[0]);
    if (ids.length < 2) await sleep(250);
  }
  t.same(ids.sort(), ['good-1', 'good-2']);
});

t.test('through the route: the poisoned event is dead-lettered with the reason, counted, and the head stays up', async (t) => {
  const { gateway, dataDir } = testGateway({ spool: { enabled: false } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const router = (gateway as any).router;
  const routes = router.routesFor(registry.get('shop', 'order-placed')!);
  const ack = router.submit([event('good-1'), poison(), event('good-2')], routes, true);
  t.equal(await ack.done, true, 'every event is settled durably: two delivered, one dead-lettered');
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_dead_lettered_total', { reason: 'malformed' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_destination_state', { destination: 'file', state: 'healthy' }), 1);
  await gateway.close();
  const [dead] = readGzipLines(`${dataDir}/_dead-letter`);
  t.equal(dead.reason, 'malformed');
  t.match(dead.message, /cannot encode event poison/);
  t.equal(dead.payload.id, 'poison');
});
