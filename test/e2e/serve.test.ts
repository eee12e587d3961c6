import { once } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { startServe } from '../helpers/process';
import { metricValue, readGzipLines, removeDir, tempDir, validImpression, validOrder, SERVICE_AUTH, TEST_KEYS_ENV } from '../helpers/gateway';

// The gateway as users run it: `node dist/src/cli.js serve` (what `npm start` runs) with no
// config file, real sockets, SIGTERM at the end.

t.test('beacon GET, sendBeacon POST and service POST end up in the gzip files; SIGTERM exits 0', async (t) => {
  const dataDir = tempDir();
  t.teardown(() => removeDir(dataDir));
  const { child, output, base, admin } = await startServe({ GATEWAY_DATA_DIR: dataDir, ...TEST_KEYS_ENV });
  t.teardown(() => child.kill('SIGKILL'));

  t.equal((await fetch(`${admin}/healthz`)).status, 200);
  t.equal((await fetch(`${admin}/readyz`)).status, 200);

  const params = new URLSearchParams({ ...validImpression({ widgetId: 'pixel' }), position: '1' } as Record<string, string>);
  const pixel = await fetch(`${base}/v1/beacon/widget/impression?${params}`);
  t.equal(pixel.status, 200);
  t.equal(pixel.headers.get('content-type'), 'image/gif');
  t.equal(pixel.headers.get('cache-control'), 'no-store, max-age=0');

  const beacon = await fetch(`${base}/v1/beacon/widget/impression`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://publisher.example' }, body: JSON.stringify(validImpression({ widgetId: 'beacon' })) });
  t.equal(beacon.status, 204);

  const orders = await fetch(`${base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify([validOrder({ orderId: 'e2e-1' }), validOrder({ orderId: 'e2e-2' })]) });
  t.equal(orders.status, 200);
  t.equal(((await orders.json()) as any).accepted, 2);
  t.same(readGzipLines(join(dataDir, 'shop')).map((l) => l.data.orderId).sort(), ['e2e-1', 'e2e-2'], 'durable before the answer');

  const invalid = await fetch(`${base}/v1/events/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: '{"orderId": 1}' });
  t.equal(invalid.status, 422);

  const metrics = await (await fetch(`${admin}/metrics`)).text();
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { service: 'widget', topic: 'impression', version: '2', outcome: 'accepted' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { service: 'shop', topic: 'order-placed', outcome: 'accepted' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { service: 'shop', outcome: 'invalid' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/v1/beacon/:service/:topic', method: 'GET', status_code: '200' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/v1/events/:service/:topic', status_code: '422' }), 1);
  t.ok(metricValue(metrics, 'tracking_gateway_http_request_duration_seconds_count', { route: '/v1/events/:service/:topic' }) >= 2);
  t.ok(metricValue(metrics, 'tracking_gateway_destination_records_total', { destination: 'file', outcome: 'delivered' }) >= 2);
  t.ok(metricValue(metrics, 'tracking_gateway_batch_records_count', { destination: 'file' }) >= 1);
  t.match(metrics, /process_resident_memory_bytes \d+/);
  t.match(metrics, /tracking_gateway_buffer_limit_bytes 268435456/);

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0, output());
  t.match(output(), /shut down cleanly/);
  const impressions = readGzipLines(join(dataDir, 'widget'));
  t.same(impressions.map((l) => l.data.widgetId).sort(), ['beacon', 'pixel'], 'beacons flushed by shutdown at the latest');
});
