import pino from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { MemoryBudget } from '../../src/buffer/memory-budget';
import { buildConfig } from '../../src/config/config';
import { DeadLetter } from '../../src/destinations/dead-letter/dead-letter';
import type { Destination } from '../../src/destinations/destination';
import type { GatewayEvent } from '../../src/envelope/envelope';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { Router } from '../../src/route/router';
import { loadTopicRegistry, type Topic } from '../../src/topics/registry';
import { FailingDestination, RecordingDestination, ThrottlingDestination } from '../helpers/destinations';
import { metricValue, readGzipLines, removeDir, tempDir, TOPICS_DIR } from '../helpers/gateway';

const registry = loadTopicRegistry(TOPICS_DIR);
const order = registry.get('shop', 'order-placed')!;

function setup(t: Test, destinations: Destination[], batch = { maxRecords: 10, lingerMs: 1 }) {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const config = buildConfig({
    dataDir: dir,
    // The doubles are entered as `file` destinations for their names only: each takes the batching
    // given here, not the file type's own defaults.
    destinations: Object.fromEntries(destinations.map((d) => [d.name, { type: 'file', batch: { maxBytes: 1024 * 1024, maxInFlight: 1, ...batch } }])),
    defaultRoute: destinations.map((d) => d.name),
  }, {});
  const metrics = new GatewayMetrics();
  const budget = new MemoryBudget(10_000_000, metrics);
  const deadLetter = new DeadLetter(`${dir}/dead`, config.deadLetter, metrics, pino({ level: 'silent' }));
  const router = new Router(destinations, undefined, config, deadLetter, budget, metrics, pino({ level: 'silent' }));
  return { router, budget, metrics, deadDir: `${dir}/dead` };
}

function events(topic: Topic, n: number, size = 100): GatewayEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    schema: topic.versions.get(1)!,
    source: 'test',
    receivedAt: Date.now(),
    data: { orderId: `o${i}` },
    size,
  }));
}

function submit(router: Router, budget: MemoryBudget, list: GatewayEvent[]) {
  budget.tryReserve(list.reduce((sum, e) => sum + e.size, 0));
  return router.submit(list, router.routesFor(order), true)!;
}

t.test('events are batched by maxRecords and delivered; the ack settles durable', async (t) => {
  const a = new RecordingDestination('a');
  const { router, budget, metrics } = setup(t, [a]);
  const ack = submit(router, budget, events(order, 25));
  t.equal(await ack.done, true);
  t.same(a.batches.map((b) => b.length), [10, 10, 5]);
  t.equal(budget.usedBytes, 0, 'memory released');
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_destination_records_total', { destination: 'a', outcome: 'delivered' }), 25);
});

t.test('a failing destination falls back to the next one at once', async (t) => {
  const a = new FailingDestination('a');
  const b = new RecordingDestination('b');
  const { router, budget, metrics } = setup(t, [a, b]);
  t.equal(await submit(router, budget, events(order, 5)).done, true);
  t.equal(b.events.length, 5);
  const text = await metrics.render();
  t.equal(metricValue(text, 'tracking_gateway_fallbacks_total', { from: 'a', to: 'b', reason: 'unavailable' }), 5);
  t.equal(metricValue(text, 'tracking_gateway_destination_records_total', { destination: 'a', outcome: 'failed' }), 5);
});

t.test('per-record throttling moves only the throttled records on', async (t) => {
  const a = new ThrottlingDestination('a', 3);
  const b = new RecordingDestination('b');
  const { router, budget } = setup(t, [a, b]);
  await submit(router, budget, events(order, 10)).done;
  t.same(a.events.map((e) => e.id), ['e0', 'e1', 'e2']);
  t.same(b.events.map((e) => e.id).sort(), ['e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);
});

t.test('when every hop fails, events wait and are retried from the head until it recovers', async (t) => {
  const a = new FailingDestination('a');
  const { router, budget } = setup(t, [a]);
  const ack = submit(router, budget, events(order, 4));
  let settled = false;
  void ack.done.then(() => (settled = true));
  await sleep(350);
  t.equal(settled, false, 'no 2xx while nothing is durable');
  t.ok(a.attempts >= 2, `retried (${a.attempts} attempts)`);
  a.heal();
  t.equal(await ack.done, true);
  t.equal(a.events.length, 4, 'nothing lost');
});

t.test('terminal failures and events too big for every hop go to the dead letter, counted', async (t) => {
  const a = new FailingDestination('a', 'too_large');
  const small = new RecordingDestination('small', 50);
  const { router, budget, metrics, deadDir } = setup(t, [small, a]);
  t.equal(await submit(router, budget, events(order, 2, 100)).done, true, 'dead-lettered counts as settled');
  const lines = readGzipLines(deadDir);
  t.equal(lines.length, 2);
  t.equal(lines[0].reason, 'too_large');
  t.equal(lines[0].payload.type, 'shop.order-placed');
  t.equal(small.events.length, 0, 'skipped by the destination it is too big for');
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_events_dead_lettered_total', { reason: 'too_large' }), 2);
});

t.test('drain flushes what waits in a batch before linger', async (t) => {
  const a = new RecordingDestination('a');
  const { router, budget } = setup(t, [a], { maxRecords: 1000, lingerMs: 60000 });
  submit(router, budget, events(order, 3));
  t.equal(a.events.length, 0);
  await router.drain();
  t.equal(a.events.length, 3);
});

t.test('a destination that keeps failing is skipped, probed, and gets its traffic back when it recovers', async (t) => {
  const a = new FailingDestination('a');
  const b = new RecordingDestination('b');
  const { router, budget, metrics } = setup(t, [a, b], { maxRecords: 1, lingerMs: 0 });
  for (let i = 0; i < 5; i++) await submit(router, budget, events(order, 1)).done;
  t.equal(a.attempts, 3, 'three failures in a row, then skipped');
  t.match(await metrics.render(), /tracking_gateway_destination_state\{destination="a",state="down"\} 1/);
  t.ok(metricValue(await metrics.render(), 'tracking_gateway_fallbacks_total', { from: 'a', to: 'b', reason: 'skipped' }) >= 2);
  a.heal();
  await sleep(1100); // the first probe interval
  await submit(router, budget, events(order, 1)).done;
  t.equal(a.events.length, 1, 'the probe was delivered');
  await submit(router, budget, events(order, 3)).done;
  t.equal(a.events.length, 4, 'traffic is back on a');
  t.match(await metrics.render(), /tracking_gateway_destination_state\{destination="a",state="healthy"\} 1/);
});

function setupWithSpool(t: Test, destinations: Destination[], spool: Destination) {
  const dir = tempDir();
  t.teardown(() => removeDir(dir));
  const config = buildConfig({
    dataDir: dir,
    batch: { maxRecords: 10, lingerMs: 1 },
    destinations: Object.fromEntries(destinations.map((d) => [d.name, { type: 'file' }])),
    defaultRoute: destinations.map((d) => d.name),
  }, {});
  const metrics = new GatewayMetrics();
  const budget = new MemoryBudget(10_000_000, metrics);
  const logged: { level: number; msg: string; destination?: string; state?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const deadLetter = new DeadLetter(`${dir}/dead`, config.deadLetter, metrics, log);
  const router = new Router(destinations, spool, config, deadLetter, budget, metrics, log);
  return { router, budget, metrics, logged };
}

t.test('replayed events that no hop before the spool takes are handed back, never spooled again', async (t) => {
  const a = new FailingDestination('a');
  const spool = new RecordingDestination('spool');
  const { router, budget, metrics } = setupWithSpool(t, [a], spool);
  const list = events(order, 5);
  budget.tryReserve(500);
  const givenBack: GatewayEvent[] = [];
  const ack = router.replay(list, router.routesFor(order)[0], (event) => givenBack.push(event));
  t.equal(await ack.done, false, 'not durable anew: still in the spool');
  t.same(givenBack.map((e) => e.id).sort(), list.map((e) => e.id).sort());
  t.equal(spool.events.length, 0, 'nothing written to the spool');
  t.equal(budget.usedBytes, 0, 'memory released');
  t.equal(metricValue(await metrics.render(), 'tracking_gateway_fallbacks_total', { to: 'spool' }), 0);

  // Live events on the same route still end in the spool.
  t.equal(await submit(router, budget, events(order, 2)).done, true);
  t.equal(spool.events.length, 2);
});

t.test('replay room: unlimited for a healthy hop, none for one that throttled lately or is down and not due a probe', async (t) => {
  const a = new ThrottlingDestination('a', 0);
  const spool = new RecordingDestination('spool');
  const { router, budget } = setupWithSpool(t, [a], spool);
  const route = router.routesFor(order)[0];
  t.equal(router.replayRoom(route, Date.now()), Infinity);
  await submit(router, budget, events(order, 3)).done; // a throttles all three; they go to the spool
  t.equal(router.replayRoom(route, Date.now()), 0, 'throttled in the last seconds, with no rate of its own to tell: wait');
  t.equal(router.replayRoom(route, Date.now() + 6_000), Infinity, 'after the throttled state passes, try again');
  const withRoom = Object.assign(new RecordingDestination('b'), { room: () => 42 });
  const other = setupWithSpool(t, [withRoom], spool);
  t.equal(other.router.replayRoom(other.router.routesFor(order)[0], Date.now()), 42, 'a hop that knows its room says it');
});

t.test('a destination’s failures are logged once per change of state, not per batch', async (t) => {
  const a = new FailingDestination('a');
  const b = new RecordingDestination('b');
  const { router, budget, logged } = setupWithSpool(t, [a, b], new RecordingDestination('spool'));
  for (let i = 0; i < 10; i++) await submit(router, budget, events(order, 1)).done;
  const about = () => logged.filter((l) => l.destination === 'a');
  t.same(about().map((l) => l.state ?? 'failed'), ['failed', 'down'], 'ten failed batches: one line for the first failure, one when it is skipped as down');
  t.match(about()[0].msg, /destination a failed a batch \(a always fails\)/);
  t.match(about()[1].msg, /destination a is down \(a always fails\)/);
  a.heal();
  await sleep(1100);
  for (let i = 0; i < 3; i++) await submit(router, budget, events(order, 1)).done;
  t.same(about().map((l) => l.state ?? 'failed'), ['failed', 'down', 'healthy'], 'and one when it recovers');
});
