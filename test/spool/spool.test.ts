import { appendFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import t from 'tap';
import { frameRecord, scanSegment } from '../../src/destinations/spool/segment-file';
import { Spool } from '../../src/destinations/spool/spool';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { loadTopicRegistry } from '../../src/topics/registry';
import { BlockedDestination, FailingDestination } from '../helpers/destinations';
import { metricValue, removeDir, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder, SERVICE_AUTH } from '../helpers/gateway';

t.test('segment framing: checksummed records; a torn or corrupt tail is found', async (t) => {
  const a = frameRecord(Buffer.from('{"a":1}'));
  const b = frameRecord(Buffer.from('{"b":2}'));
  t.same(scanSegment(Buffer.concat([a, b])).payloads.map(String), ['{"a":1}', '{"b":2}']);
  const torn = scanSegment(Buffer.concat([a, b.subarray(0, 10)]));
  t.equal(torn.payloads.length, 1);
  t.equal(torn.validBytes, a.length);
  t.equal(torn.corruptTail, true);
  const flipped = Buffer.concat([a, b]);
  flipped[flipped.length - 2] ^= 0xff;
  t.equal(scanSegment(flipped).payloads.length, 1, 'a bad checksum ends the good part');
});

t.test('the spool is bounded in bytes and counts a full refusal', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const metrics = new GatewayMetrics();
  const spool = new Spool('spool', dir, 1_048_576, 65536, metrics, pino({ level: 'silent' }));
  await spool.start();
  const registry = loadTopicRegistry(TOPICS_DIR);
  const schema = registry.get('shop', 'order-placed')!.versions.get(1)!;
  const big = { id: 'x', schema, source: 't', receivedAt: Date.now(), data: { ...validOrder(), customerId: 'c'.repeat(300_000) }, size: 300_000 };
  await spool.send([big, big, big]);
  t.ok(spool.bytes > 900_000);
  await t.rejects(spool.send([big]), /spool is full/);
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_spool_full_rejections_total'), 1);
  t.ok(readdirSync(dir).length >= 1, 'segments rolled at segmentBytes');
  await spool.close();
});

t.test('when the only destination fails, a 2xx rests on the spool fsync; replay delivers when it recovers', async (t) => {
  const flaky = new FailingDestination('flaky');
  const { gateway, dataDir } = testGateway({}, {}, [flaky]);
  t.teardown(() => removeDir(dataDir));
  await gateway.start();
  t.teardown(() => gateway.close());
  const app = gateway.publicServer;
  const post = (ids: string[]) => app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(ids.map((orderId) => validOrder({ orderId }))) });
  const res = await post(['s1', 's2', 's3']);
  t.equal(res.statusCode, 200);
  let metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_spool_records'), 3, 'durable in the spool');
  t.equal(metricValue(metrics, 'tracking_gateway_fallbacks_total', { from: 'flaky', to: 'spool' }), 3);
  t.equal(flaky.events.length, 0);

  flaky.heal();
  for (let i = 0; i < 100 && flaky.events.length < 3; i++) await sleep(100);
  t.same(flaky.events.map((e) => e.data.orderId).sort(), ['s1', 's2', 's3'], 'replayed to the head of the route');
  for (let i = 0; i < 50 && metricValue(await gateway.metrics.render(), 'tracking_gateway_spool_records') > 0; i++) await sleep(100);
  metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_spool_records'), 0, 'replayed segment deleted');
  t.equal(metricValue(metrics, 'tracking_gateway_spool_replayed_records_total'), 3);
});

t.test('a torn segment tail left by a crash is cut off and counted at start', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  writeFileSync(join(dir, 'segment-000000000007.log'), Buffer.concat([frameRecord(Buffer.from('{}')), frameRecord(Buffer.from('{}'))]));
  appendFileSync(join(dir, 'segment-000000000007.log'), Buffer.from([0, 0, 0, 99, 1, 2]));
  const metrics = new GatewayMetrics();
  const spool = new Spool('spool', dir, 10_000_000, 65536, metrics, pino({ level: 'silent' }));
  await spool.start();
  t.equal(spool.records, 2);
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_torn_tails_cut_total', { store: 'spool_segment' }), 1);
  t.equal((await spool.nextForReplay())?.records, 2);
});

t.test('under memory pressure beacons go straight to the spool; service requests get 503', async (t) => {
  const stuck = new BlockedDestination('stuck');
  const { gateway, dataDir } = testGateway({ buffer: { maxBytes: 65536 } }, {}, [stuck]);
  t.teardown(() => removeDir(dataDir));
  await gateway.start();
  t.teardown(async () => {
    stuck.unblock();
    await gateway.close();
  });
  const app = gateway.publicServer;
  const beacon = () => app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(Array.from({ length: 20 }, (_, i) => validImpression({ widgetId: `w${i}` }))) });
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) statuses.push((await beacon()).statusCode);
  t.ok(statuses.every((s) => s === 204), 'every beacon answered as always');
  const order = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(Array.from({ length: 50 }, (_, i) => validOrder({ orderId: `o${i}` }))) });
  t.equal(order.statusCode, 503);
  t.equal(order.headers['retry-after'], '1');
  for (let i = 0; i < 50 && metricValue(await gateway.metrics.render(), 'tracking_gateway_destination_records_total', { destination: 'spool', outcome: 'spilled' }) === 0; i++) await sleep(20);
  const metrics = await gateway.metrics.render();
  const spilled = metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'spool', outcome: 'spilled' });
  t.ok(spilled > 0, `${spilled} beacons spilled to the spool`);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { service: 'widget', outcome: 'accepted' }), 600, 'all 600 beacons accepted');
  t.equal(metricValue(metrics, 'tracking_gateway_events_dropped_total'), 0);
});

t.test('a segment that cannot be read at start is logged and left for replay; the spool starts with the others', async (t) => {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  mkdirSync(join(dir, 'segment-000000000001.log'));
  writeFileSync(join(dir, 'segment-000000000002.log'), Buffer.concat([frameRecord(Buffer.from('{}')), frameRecord(Buffer.from('{}'))]));
  const metrics = new GatewayMetrics();
  const logged: string[] = [];
  const spool = new Spool('spool', dir, 10_000_000, 65536, metrics, pino({ level: 'error' }, { write: (line: string) => void logged.push(line) }));
  await spool.start();
  t.equal(spool.records, 2, 'the readable segment counted');
  t.match(logged.join(''), /cannot read spool segment .*segment-000000000001\.log at start: EISDIR/);
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_background_errors_total', { task: 'spool_replay' }), 1);
  t.equal((await spool.nextForReplay())?.path, join(dir, 'segment-000000000001.log'), 'replay still tries it first');
  t.equal((await spool.nextForReplay((path) => path.endsWith('01.log')))?.path, join(dir, 'segment-000000000002.log'), 'and passes it while it waits to try again');
});
