import { once } from 'node:events';
import { connect } from 'node:net';
import t from 'tap';
import { BlockedDestination } from '../helpers/destinations';
import { metricValue, removeDir, testGateway, validOrder, SERVICE_AUTH } from '../helpers/gateway';

t.test('graceful shutdown: not ready at once, in-flight requests finish, buffers flush', async (t) => {
  const slow = new BlockedDestination('slow');
  const { gateway, dataDir } = testGateway({}, {}, [slow]);
  t.teardown(() => removeDir(dataDir));
  const { port, adminPort } = await gateway.start();
  t.equal((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status, 200);
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_ready'), 1);

  // A service request waits for its events to be durable; the destination holds them.
  const inFlight = fetch(`http://127.0.0.1:${port}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(validOrder()) });
  while (slow.waiting === 0) await new Promise((r) => setTimeout(r, 5));

  const closing = gateway.close();
  const ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  t.equal(ready.status, 503, 'not ready once shutdown began');
  t.match(await ready.json(), { reason: 'closing' });
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_ready'), 0, 'the ready gauge follows without a probe');
  slow.release();
  const res = await inFlight;
  t.equal(res.status, 200, 'the in-flight request finished with its durable answer');
  await closing;
  t.equal(slow.events.length, 1);
  await t.rejects(fetch(`http://127.0.0.1:${port}/v1/topics`), 'the public port is closed after shutdown');
});

t.test('shutdown does not wait for idle keep-alive connections or preconnects that never sent a request', async (t) => {
  const { gateway, dataDir } = testGateway();
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  // What browsers leave open: a connection opened ahead of need, and one kept alive after a request.
  const preconnect = connect(port, '127.0.0.1');
  const keptAlive = connect(port, '127.0.0.1');
  for (const socket of [preconnect, keptAlive]) socket.on('error', () => undefined);
  keptAlive.write('GET /v1/topics HTTP/1.1\r\nHost: gateway\r\n\r\n');
  await once(keptAlive, 'data');
  const started = Date.now();
  await gateway.close();
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
});
