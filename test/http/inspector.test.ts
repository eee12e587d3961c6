import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { metricValue, removeDir, SERVICE_AUTH, testGateway, validOrder } from '../helpers/gateway';

// The inspector's routes on the admin port, attacked over real sockets: the subscriber bound,
// a page that never reads, and every bound of the re-drive request.

t.setTimeout(120_000);

/** A page's stream on a socket of its own, paused: it reads nothing until destroyed. */
function rawStream(admin: string): Socket {
  const socket = connect(Number(new URL(admin).port), '127.0.0.1');
  socket.pause();
  socket.write('GET /inspect/stream HTTP/1.1\r\nHost: x\r\n\r\n');
  return socket;
}

async function started(t: Test, overrides: Record<string, unknown> = {}) {
  const { gateway, dataDir } = testGateway(overrides);
  const { port, adminPort } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  return { gateway, url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}` };
}

t.test('one page more than inspector.maxSubscribers is answered 503 in the documented shape', async (t) => {
  const { admin, gateway } = await started(t, { inspector: { maxSubscribers: 2 } });
  const pages = [rawStream(admin), rawStream(admin)];
  t.teardown(() => pages.forEach((p) => p.destroy()));
  for (let i = 0; i < 100 && gateway.eventStream.size < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(gateway.eventStream.size, 2, 'two pages subscribe');
  t.ok(gateway.tap.watching, 'the tap runs while pages watch');
  const third = await fetch(`${admin}/inspect/stream`);
  t.equal(third.status, 503, 'the third page is refused');
  t.equal(((await third.json()) as { error: { code: string } }).error.code, 'INSPECTOR_FULL', 'as INSPECTOR_FULL');
  t.ok(third.headers.get('retry-after'), 'with Retry-After');
  pages.forEach((p) => p.destroy());
  for (let i = 0; i < 50 && gateway.tap.watching; i++) await new Promise((r) => setTimeout(r, 20));
  t.notOk(gateway.tap.watching, 'the tap stops when the last page goes');
});

t.test('a page that never reads is dropped at inspector.subscriberQueueBytes; memory does not grow', async (t) => {
  const { admin, url, gateway } = await started(t, { inspector: { subscriberQueueBytes: 65536 } });
  // A raw socket that asks for the stream and never reads a byte of it.
  const socket = rawStream(admin);
  t.teardown(() => socket.destroy());
  for (let i = 0; i < 100 && !gateway.tap.watching; i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(gateway.tap.watching, 'the silent page subscribed');
  const batch = JSON.stringify(Array.from({ length: 50 }, (_, i) => validOrder({ orderId: `o-${i}`, customerId: 'x'.repeat(2000) })));
  const deadline = Date.now() + 30_000;
  let dropped = 0;
  while (Date.now() < deadline) {
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`${url}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: batch })));
    t.ok(answers.every((a) => a.status === 200), 'ingest goes on');
    dropped = metricValue(await gateway.metrics.render(), 'tracking_gateway_inspector_dropped_subscribers_total');
    if (dropped > 0) break;
  }
  t.equal(dropped, 1, 'the page that did not read was dropped');
  for (let i = 0; i < 50 && gateway.tap.watching; i++) await new Promise((r) => setTimeout(r, 20));
  t.notOk(gateway.tap.watching, 'and with it the tap stopped');
  t.equal(gateway.eventStream.size, 0, 'no subscriber is held');
});

t.test('the re-drive request: JSON only, confirmed, bounded; the dead-letter query validated', async (t) => {
  const { admin } = await started(t);
  const post = (body: string, type = 'application/json') => fetch(`${admin}/inspect/dead-letter/replay`, { method: 'POST', headers: { 'content-type': type }, body });
  const codeOf = async (answer: Response) => ((await answer.json()) as { error: { code: string } }).error.code;
  let answer = await post('{"confirm":true}', 'text/plain');
  t.equal(answer.status, 415, 'a cross-site text/plain POST (no preflight) cannot re-drive');
  answer = await post('{}');
  t.equal(answer.status, 400, 'a re-drive needs confirm');
  t.equal(await codeOf(answer), 'BAD_PARAMETER');
  answer = await post(JSON.stringify({ confirm: true, ids: Array.from({ length: 501 }, (_, i) => `a#${i}`) }));
  t.equal(answer.status, 400, 'at most 500 ids');
  answer = await post(JSON.stringify({ confirm: true, since: 'yesterday' }));
  t.equal(answer.status, 400, 'a time that is not one');
  answer = await post(JSON.stringify({ confirm: true, ids: ['x'.repeat(70_000)] }));
  t.equal(answer.status, 413, 'a body over 64 KiB');
  answer = await post(JSON.stringify({ dryRun: true }));
  t.equal(answer.status, 200, 'a dry run of an empty dead letter');
  t.same(await answer.json(), { dryRun: true, counts: {}, results: [] });
  t.equal((await fetch(`${admin}/inspect/dead-letter?reason=nonsense`)).status, 400, 'an unknown reason');
  t.equal((await fetch(`${admin}/inspect/dead-letter?limit=100000`)).status, 400, 'a limit over 500');
  t.equal((await fetch(`${admin}/inspect/dead-letter?topic=../../etc`)).status, 400, 'a topic that is not a name');
  const page = await fetch(`${admin}/inspect`);
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/, 'the page runs only its own script');
});

t.test('inspector.enabled false: no /inspect on the admin port either', async (t) => {
  const { admin } = await started(t, { inspector: { enabled: false } });
  t.equal((await fetch(`${admin}/inspect`)).status, 404);
  t.equal((await fetch(`${admin}/inspect/state`)).status, 404);
});
