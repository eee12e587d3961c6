import t from 'tap';
import { EventTap, FLUSH_MS, MAX_VIEW_DATA_CHARS, MAX_VIEWS_PER_FLUSH, MAX_VIEWS_PER_REQUEST, type TapBatch } from '../../src/inspect/event-tap';
import { injectableGateway, SERVICE_AUTH, validOrder } from '../helpers/gateway';

// The tap's bounds, and that ingest builds nothing for it while nobody watches.

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const refusal = (i: number, input: unknown = { n: i }) => ({ outcome: 'invalid' as const, service: 's', topic: 't', version: 1, source: '/x', index: i, errors: [{ path: 'n', message: 'bad' }], input });

t.test('a flush holds at most MAX_VIEWS_PER_FLUSH views; the rest are counted; long data is cut', async (t) => {
  const batches: TapBatch[] = [];
  const tap = new EventTap((b) => batches.push(b));
  tap.setWatching(true);
  for (let i = 0; i < MAX_VIEWS_PER_FLUSH + 250; i++) tap.refused(refusal(i));
  tap.refused(refusal(-1, { big: 'x'.repeat(MAX_VIEW_DATA_CHARS * 2) }));
  await wait(FLUSH_MS * 3);
  t.equal(batches.length, 1, 'one batch per flush');
  t.equal(batches[0].events.length, MAX_VIEWS_PER_FLUSH);
  t.equal(batches[0].omitted, 251, 'what did not fit is counted');

  tap.refused(refusal(-2, { big: 'x'.repeat(MAX_VIEW_DATA_CHARS * 2) }));
  await wait(FLUSH_MS * 3);
  const cut = batches[1].events[0];
  t.equal(cut.data, undefined, 'long data is not carried whole');
  t.equal(cut.dataCut!.length, MAX_VIEW_DATA_CHARS, 'its head is');
});

t.test('nobody watching: the sink is never called and ingest hands the tap nothing', async (t) => {
  const { app, gateway } = injectableGateway(t);
  const calls: string[] = [];
  for (const method of ['accepted', 'refused', 'omit'] as const) {
    const original = gateway.tap[method].bind(gateway.tap) as (...args: unknown[]) => void;
    (gateway.tap as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls.push(method);
      original(...args);
    };
  }
  const send = (body: unknown) => app.inject({ method: 'POST', url: '/v1/events/shop/order-placed?partial=true', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  await send([validOrder(), validOrder({ totalCents: 'lots' })]);
  t.same(calls, [], 'not watching: not called');
  gateway.tap.setWatching(true);
  const batch = Array.from({ length: MAX_VIEWS_PER_REQUEST + 10 }, (_, i) => validOrder({ orderId: `o-${i}` }));
  await send([...batch, validOrder({ totalCents: 'lots' })]);
  t.same([...new Set(calls)].sort(), ['accepted', 'omit', 'refused'], 'watching: views of both outcomes');
  gateway.tap.setWatching(false);
});
