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
    batch,
    destinations: Object.fromEntries(destinations.map((d) => [d.name, { type: 'file' }])),
    defaultRoute: destinations.map((d) => d.name),
  });
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
  return router.submit(list, router.routeFor(order), true)!;
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
