import t from 'tap';
import { mergeStates, type InspectorState } from '../../src/inspect/inspector-state';
import { RecordingDestination, ThrottlingDestination } from '../helpers/destinations';
import { removeDir, SERVICE_AUTH, testGateway, validOrder } from '../helpers/gateway';

// What the page's per-topic view reads: counts, the route as its chain, each hop's state and
// its share of the last minute, over the admin port.

t.test("a throttling head: its state, the chain, and each hop's share", async (t) => {
  const { gateway, dataDir } = testGateway({}, {}, [new ThrottlingDestination('fast', 30), new RecordingDestination('backup')]);
  const { port, adminPort } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const body = JSON.stringify(Array.from({ length: 100 }, (_, i) => validOrder({ orderId: `o-${i}` })));
  const answer = await fetch(`http://127.0.0.1:${port}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body });
  t.equal(answer.status, 200);
  await fetch(`http://127.0.0.1:${port}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify([validOrder({ totalCents: 'x' })]) });

  const state = (await (await fetch(`http://127.0.0.1:${adminPort}/inspect/state`)).json()) as InspectorState;
  const topic = state.topics.find((x) => x.topic === 'order-placed')!;
  t.same(topic.routes, [{ hops: ['fast', 'backup', 'spool'] }], 'the route as its chain, the spool last');
  t.equal(topic.accepted, 100, 'accepted');
  t.equal(topic.refused, 1, 'refused');
  t.equal(state.destinations.fast.state, 'throttled', 'the head throttles');
  t.equal(state.destinations.backup.state, 'healthy');
  const fast = state.destinations.fast.deliveredLastMinute;
  const backup = state.destinations.backup.deliveredLastMinute;
  t.equal(fast + backup, 100, 'every event delivered by one hop or the other in the last minute');
  t.ok(fast >= 30 && backup >= 1, `each took its share (fast ${fast}, backup ${backup})`);
  t.equal(state.destinations.spool.type, 'spool');
  t.ok(state.spool && state.spool.limitBytes > 0, 'the spool’s size and bound');
});

t.test('workers merged: counts and sizes add up, the worst state shows', async (t) => {
  const one = (worker: number, state: 'healthy' | 'down', accepted: number): InspectorState => ({
    at: 1,
    workers: [worker],
    topics: [{ service: 's', topic: 't', access: 'public', defaultVersion: 1, versions: [1], accepted, refused: 1, routes: [{ hops: ['k', 'spool'] }] }],
    destinations: { k: { type: 'kafka', state, learnedRate: 100, deliveredLastMinute: accepted }, spool: { type: 'spool', state: 'healthy', learnedRate: null, deliveredLastMinute: 0 } },
    spool: { bytes: 10, records: 1, limitBytes: 100 },
    deadLetter: { bytes: 5, limitBytes: 50 },
  });
  const merged = mergeStates([one(2, 'healthy', 10), one(1, 'down', 5)])!;
  t.same(merged.workers, [1, 2]);
  t.equal(merged.topics[0].accepted, 15);
  t.equal(merged.destinations.k.state, 'down', 'the worst state');
  t.equal(merged.destinations.k.learnedRate, 200, 'learned rates add up');
  t.equal(merged.destinations.k.deliveredLastMinute, 15);
  t.same(merged.spool, { bytes: 20, records: 2, limitBytes: 200 });
  t.equal(mergeStates([]), undefined, 'no worker answered');
});
