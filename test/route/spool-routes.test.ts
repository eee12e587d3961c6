import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { frameRecord, scanSegment } from '../../src/destinations/spool/segment-file';
import type { Destination, Misconfiguration, RecordFailure } from '../../src/destinations/destination';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { until } from '../helpers/clock';
import { BlockedDestination, FailingDestination, RecordingDestination } from '../helpers/destinations';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, tempDir, testGateway, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';

// A topic on two routes, [[a], [b]], with doubles behind the destination contract: what the
// spool records for each route, what replay sends where, what is dead-lettered once and what
// once per route, and what /readyz says.

function topicsWith(t: Test, routes: string): string {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  cpSync(TOPICS_DIR, dir, { recursive: true });
  writeFileSync(join(dir, 'shop/order-placed/topic.yaml'), `access: service\ndefaultVersion: 1\npartitionKey: orderId\n${routes}\n`);
  writeFileSync(join(dir, 'widget/impression/topic.yaml'), `access: public\nallowedOrigins: ["*"]\ndefaultVersion: 2\n${routes}\n`);
  return dir;
}

async function started(t: Test, doubles: Destination[], routes = 'routes: [[a], [b]]', before?: (dataDir: string) => void, config: Record<string, unknown> = {}) {
  const { gateway, dataDir } = testGateway({ topicsDir: topicsWith(t, routes), batch: { maxRecords: 50, lingerMs: 2 }, ...config }, {}, doubles);
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  before?.(dataDir);
  await gateway.start();
  const post = async (ids: string[], path = '/v1/events/shop/order-placed') =>
    (await gateway.publicServer.inject({ method: 'POST', url: path, headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(ids.map((id) => validOrder({ orderId: id, $id: id }))) })).statusCode;
  const metric = async (name: string, labels: Record<string, string> = {}) => metricValue(await gateway.metrics.render(), name, labels);
  return { gateway, dataDir, post, metric };
}

const ids = (n: number, prefix = 'e') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const idsOf = (d: RecordingDestination) => d.events.map((e) => e.id).sort();
const spooledEntries = (dataDir: string) =>
  readdirSync(join(dataDir, '_spool'))
    .filter((f) => f.endsWith('.log'))
    .flatMap((f) => scanSegment(readFileSync(join(dataDir, '_spool', f))).payloads.map((p) => JSON.parse(p.toString('utf8'))));

t.test('the second route down: its events are spooled for it alone, the first delivers at once; replay sends them down the second only', async (t) => {
  const a = new RecordingDestination('a');
  const b = new FailingDestination('b');
  const { dataDir, post, metric } = await started(t, [a, b]);
  t.equal(await post(ids(30)), 200, 'acknowledged: durable in a and in the spool for b');
  t.same(idsOf(a), ids(30).sort(), 'a has every event');
  t.equal(await metric('tracking_gateway_spool_records'), 30, 'one spool entry per event: for route b only');
  const entries = spooledEntries(dataDir);
  t.same([...new Set(entries.map((e) => JSON.stringify(e.routes)))], ['[1]'], 'each entry names route 1');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'b', outcome: 'spooled' }), 30, 'route b spooled 30');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'a', outcome: 'spooled' }), 0, 'route a spooled none');
  b.heal();
  await until(async () => (await metric('tracking_gateway_spool_records')) === 0, 'the spool to drain into b');
  t.same(idsOf(b), ids(30).sort(), 'b has every event, once');
  t.same(idsOf(a), ids(30).sort(), 'a has each once still: replay did not go down route a');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'b', outcome: 'replayed' }), 30);
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'a', outcome: 'replayed' }), 0);
});

t.test('both routes down: each route spools its own entry; replay brings each event to each destination once', async (t) => {
  const a = new FailingDestination('a');
  const b = new FailingDestination('b');
  const { dataDir, post, metric } = await started(t, [a, b]);
  t.equal(await post(ids(20)), 200);
  t.equal(await metric('tracking_gateway_spool_records'), 40, 'one entry per event and route');
  t.same(spooledEntries(dataDir).map((e) => e.routes ?? [0]).flat().sort(), [...Array(20).fill(0), ...Array(20).fill(1)], '20 entries for route 0 (written as before: no routes key), 20 for route 1');
  t.equal(spooledEntries(dataDir).filter((e) => e.routes === undefined).length, 20, 'route 0 entries are in the format older gateways wrote');
  a.heal();
  await until(async () => idsOf(a).length >= 20, 'a to get its 20');
  t.equal(b.events.length, 0, 'b still down: nothing for it');
  b.heal();
  await until(async () => (await metric('tracking_gateway_spool_records')) === 0, 'the spool to drain');
  t.same(idsOf(a), ids(20).sort(), 'a: each once');
  t.same(idsOf(b), ids(20).sort(), 'b: each once');
});

t.test('a spool segment an older gateway wrote (entries without routes) is replayed down the first route only', async (t) => {
  const a = new RecordingDestination('a');
  const b = new RecordingDestination('b');
  const old = ['old-1', 'old-2'].map((id) => frameRecord(Buffer.from(JSON.stringify({ id, service: 'shop', topic: 'order-placed', version: 1, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), size: 300, data: validOrder({ orderId: id }) }))));
  const { metric } = await started(t, [a, b], 'routes: [[a], [b]]', (dataDir) => {
    mkdirSync(join(dataDir, '_spool'), { recursive: true });
    writeFileSync(join(dataDir, '_spool', 'segment-000000000001.log'), Buffer.concat(old));
  });
  await until(async () => (await metric('tracking_gateway_spool_records')) === 0, 'the old segment to be replayed');
  t.same(idsOf(a), ['old-1', 'old-2'], 'the first route got them');
  t.same(b.events, [], 'the second route did not: an old entry belongs to the first route');
});

/** Refuses one event id as malformed (its encoder cannot represent it), takes the rest. */
class PickyDestination extends RecordingDestination {
  constructor(name: string, private readonly refuse: string) {
    super(name);
  }
  async send(events: readonly GatewayEvent[]): Promise<RecordFailure[]> {
    await super.send(events.filter((e) => e.id !== this.refuse));
    return events.flatMap((e, index) => (e.id === this.refuse ? [{ index, kind: 'malformed' as const, message: `cannot encode ${e.id}` }] : []));
  }
}

t.test('dead letter once: an invalid beacon once, not per route; a record one route cannot encode once, for that route, named', async (t) => {
  const a = new RecordingDestination('a');
  const b = new PickyDestination('b', 'poison');
  const { gateway, dataDir, post, metric } = await started(t, [a, b]);
  t.equal(await post(['good', 'poison']), 200, 'settled: delivered, and dead-lettered for route b');
  t.same(idsOf(a), ['good', 'poison'], 'route a carries the record b cannot');
  t.same(idsOf(b), ['good']);
  const bad = new URLSearchParams({ ...validImpression(), position: 'not-a-number' } as Record<string, string>);
  t.equal((await gateway.publicServer.inject({ url: `/v1/beacon/widget/impression?${bad}`, headers: { origin: 'https://x.example' } })).statusCode, 200);
  await until(async () => (await metric('tracking_gateway_events_dead_lettered_total')) >= 2, 'two dead letters');
  await gateway.close();
  const dead = readGzipLines(join(dataDir, '_dead-letter'));
  t.equal(dead.length, 2, 'two dead letters, no more');
  const poison = dead.find((d) => d.reason === 'malformed')!;
  t.equal(poison.route, 'b', 'the route that could not carry it is named');
  t.match(poison.message, /^route b: b: cannot encode poison/);
  const invalid = dead.find((d) => d.reason === 'invalid')!;
  t.equal(invalid.route, undefined, 'an invalid event is no route\'s: dead-lettered once, before any route');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_route_events_total', { route: 'b', outcome: 'dead_lettered' }), 1);
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_route_events_total', { route: 'a', outcome: 'dead_lettered' }), 0);
});

/** Takes nothing: its stream does not exist, as a Firehose or Kinesis stream that was never created. */
class MisconfiguredDestination extends FailingDestination {
  misconfiguration(): Misconfiguration | undefined {
    return this.failing ? { reason: 'missing_stream', message: `stream of ${this.name} not found` } : undefined;
  }
}

t.test('/readyz: ready while each route can deliver or spool; a route whose only destination refuses for a setting is not ready, and names it', async (t) => {
  const a = new RecordingDestination('a');
  const b = new MisconfiguredDestination('b');
  const { gateway, post, metric } = await started(t, [a, b]);
  t.equal(await post(ids(5)), 200, 'still acknowledged: b\'s events wait in the spool');
  const res = await gateway.adminServer.inject({ url: '/readyz' });
  t.equal(res.statusCode, 503);
  t.match(res.json(), { status: 'not ready', reason: /route b cannot deliver until its configuration is fixed: b \(missing_stream: stream of b not found\)/, misconfigured: [{ destination: 'b', reason: 'missing_stream' }] });
  t.equal(await metric('tracking_gateway_destination_misconfigured', { destination: 'b', reason: 'missing_stream' }), 1);
  t.equal(await metric('tracking_gateway_ready'), 0);
  b.heal();
  t.equal((await gateway.adminServer.inject({ url: '/readyz' })).statusCode, 200, 'ready once the setting is fixed');
  t.equal(await metric('tracking_gateway_destination_misconfigured', { destination: 'b', reason: 'missing_stream' }), 0, 'the series is gone');
});

t.test('/readyz: a misconfigured destination with a working fallback on its route is named, and the gateway stays ready', async (t) => {
  const a = new RecordingDestination('a');
  const b = new MisconfiguredDestination('b');
  const c = new RecordingDestination('c');
  const { gateway } = await started(t, [a, b, c], 'routes: [[a], [b, c]]');
  const res = await gateway.adminServer.inject({ url: '/readyz' });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { status: 'ready', misconfigured: [{ destination: 'b', reason: 'missing_stream' }] });
});

t.test('the memory bound counts every route: a request that fits once is refused 503 when two routes must each hold it', async (t) => {
  // 100 orders take about 55 KB in memory per route; the bound is 64 KiB.
  const bounded = { buffer: { maxBytes: 65_536 } };
  const one = await started(t, [new RecordingDestination('a'), new RecordingDestination('b')], 'routes: [[a]]', undefined, bounded);
  t.equal(await one.post(ids(100)), 200, 'one route: fits');
  const two = await started(t, [new RecordingDestination('a'), new RecordingDestination('b')], 'routes: [[a], [b]]', undefined, bounded);
  t.equal(await two.post(ids(100)), 503, 'two routes: twice the memory, over the bound');
  t.equal(await two.metric('tracking_gateway_events_rejected_total', { reason: 'overloaded' }), 100);
  t.equal(await two.post(ids(40)), 200, 'a smaller request fits on both');
});

t.test('/readyz without a spool: one route that cannot deliver is enough for 503, naming it, while the other delivers', async (t) => {
  const a = new RecordingDestination('a');
  const b = new FailingDestination('b');
  const { gateway, post } = await started(t, [a, b], 'routes: [[a], [b]]', undefined, { spool: { enabled: false }, server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 300 } });
  t.equal(await post(ids(3)), 503, 'not durable on route b within ackTimeoutMs');
  t.same(idsOf(a), ids(3).sort(), 'route a delivered nonetheless');
  await until(() => !gateway.readiness().ready, 'b to be down');
  t.same(gateway.readiness(), { ready: false, reason: 'route b can neither deliver nor spool: no destination is healthy' });
});

t.test('spool entries whose routes the topic no longer has, or that are not route indexes, go to the dead letter with the reason; the rest replay', async (t) => {
  const a = new RecordingDestination('a');
  const entry = (id: string, routes: unknown) =>
    frameRecord(Buffer.from(JSON.stringify({ id, service: 'shop', topic: 'order-placed', version: 1, source: '/v1/events/shop/order-placed', receivedAt: Date.now(), size: 300, data: validOrder({ orderId: id }), routes })));
  // Written while the topic had two routes; it has one now.
  const { gateway, dataDir, metric } = await started(t, [a], 'routes: [[a]]', (dataDir) => {
    mkdirSync(join(dataDir, '_spool'), { recursive: true });
    writeFileSync(join(dataDir, '_spool', 'segment-000000000001.log'), Buffer.concat([entry('kept', [0]), entry('gone-route', [1]), entry('garbage', ['x']), entry('both', [0, 1])]));
  });
  await until(async () => (await metric('tracking_gateway_spool_records')) === 0, 'the segment to be replayed');
  t.same(idsOf(a), ['both', 'kept'], 'what route 0 waited for reached it');
  await gateway.close();
  const dead = readGzipLines(join(dataDir, '_dead-letter')).map((d) => d.message).sort();
  t.equal(dead.length, 3);
  t.match(dead, [/no route 1 any more \(it has 1\)/, /no route 1 any more \(it has 1\)/, /routes \["x"\] is not a list of route indexes/]);
});

t.test('beacons spilled under memory pressure: one spool entry for every route; replay brings each to each route once', async (t) => {
  const a = new BlockedDestination('a');
  const b = new BlockedDestination('b');
  const { gateway, dataDir, metric } = await started(t, [a, b], 'routes: [[a], [b]]', undefined, { buffer: { maxBytes: 65_536 } });
  const sent = ids(300, 'beacon');
  for (const id of sent) {
    const query = new URLSearchParams({ ...validImpression(), $id: id, position: '1' } as Record<string, string>);
    const res = await gateway.publicServer.inject({ url: `/v1/beacon/widget/impression?${query}`, headers: { origin: 'https://x.example' } });
    t.equal(res.statusCode, 200, `beacon ${id}`, { diagnostic: res.statusCode !== 200 });
  }
  const spilled = await metric('tracking_gateway_destination_records_total', { destination: 'spool', outcome: 'spilled' });
  t.ok(spilled > 100, `${spilled} beacons spilled to the spool while memory was full`);
  await until(() => spooledEntries(dataDir).length === spilled, 'the spilled beacons to be on disk');
  const routes = [...new Set(spooledEntries(dataDir).map((e) => JSON.stringify(e.routes)))];
  t.same(routes, ['[0,1]'], 'one entry per beacon, naming both routes');
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'a', outcome: 'spooled' }), spilled);
  t.equal(await metric('tracking_gateway_route_events_total', { route: 'b', outcome: 'spooled' }), spilled);
  a.unblock();
  b.unblock();
  await until(async () => (await metric('tracking_gateway_spool_records')) === 0, 'the spool to drain');
  await until(() => a.events.length >= 300 && b.events.length >= 300, 'both routes to have every beacon');
  t.same(idsOf(a), [...sent].sort(), 'a: each beacon once');
  t.same(idsOf(b), [...sent].sort(), 'b: each beacon once');
});
