import t from 'tap';
import { TokenBuckets } from '../../src/limits/token-buckets';
import { metricValue, removeDir, SERVICE_AUTH, testGateway, validImpression, validOrder } from '../helpers/gateway';

// Token buckets per client address and per service key, answered 429 with Retry-After and
// RateLimit-* headers, on every path: the pixel fast path as much as the Fastify routes.

t.test('a bucket admits its burst, then its rate; a full map forgets its oldest client', async (t) => {
  const buckets = new TokenBuckets(2);
  const rule = { requestsPerSecond: 10, burst: 3 };
  const at = (ms: number) => buckets.take('a', rule, 1_000_000 + ms);
  t.same([at(0), at(0), at(0)].map((r) => r.allowed), [true, true, true]);
  const over = at(0);
  t.equal(over.allowed, false);
  t.equal(over.retryAfterMs, 100, 'one token every 100 ms');
  t.equal(at(100).allowed, true, 'refilled after 100 ms');
  t.equal(at(150).allowed, false);
  buckets.take('b', rule, 1_000_000);
  buckets.take('c', rule, 1_000_000);
  t.equal(buckets.size, 2, 'bounded');
});

const pixelUrl = (port: number) => `http://127.0.0.1:${port}/v1/beacon/widget/impression?${new URLSearchParams({ ...validImpression(), position: '2' })}`;

t.test('per client address: the pixel fast path and the Fastify routes share one bucket', async (t) => {
  const { gateway, dataDir } = testGateway({ rateLimit: { perIp: { requestsPerSecond: 1, burst: 3 } } });
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const statuses: number[] = [];
  // Three plain pixels (the fast path answers those), then a discovery GET through Fastify.
  for (let i = 0; i < 3; i++) statuses.push((await fetch(pixelUrl(port))).status);
  const limited = await fetch(`http://127.0.0.1:${port}/v1/topics`);
  statuses.push(limited.status);
  t.same(statuses, [200, 200, 200, 429]);
  t.equal(limited.headers.get('retry-after'), '1');
  t.equal(limited.headers.get('ratelimit-limit'), '3');
  t.equal(limited.headers.get('ratelimit-remaining'), '0');
  t.match(limited.headers.get('ratelimit-reset') ?? '', /^[1-3]$/);
  t.equal(((await limited.json()) as any).error.code, 'RATE_LIMITED');
  // And the other way round: a pixel after the bucket emptied is refused by the fast path.
  const pixel = await fetch(pixelUrl(port));
  t.equal(pixel.status, 429);
  t.equal(pixel.headers.get('ratelimit-limit'), '3');
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_rate_limited_requests_total', { limit: 'ip' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/v1/beacon/:service/:topic', status_code: '429' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { service: 'widget', reason: 'rate_limited' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { outcome: 'accepted' }), 3);
});

t.test('per key, by key class', async (t) => {
  const { gateway, dataDir } = testGateway({
    auth: { keys: [{ key: 'batch-key', scopes: ['*'], class: 'batch' }, { key: 'other-key', scopes: ['*'] }] },
    rateLimit: { perKey: { requestsPerSecond: 100, burst: 100 }, keyClasses: { batch: { requestsPerSecond: 0.5, burst: 2 } } },
  });
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const post = (key: string) =>
    fetch(`http://127.0.0.1:${port}/v1/events/shop/order-placed`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(validOrder()) });
  const statuses = [await post('batch-key'), await post('batch-key'), await post('batch-key')].map((r) => r.status);
  t.same(statuses, [200, 200, 429], 'the batch class allows bursts of 2');
  const limited = await post('batch-key');
  t.equal(limited.headers.get('retry-after'), '2', 'a token every 2 s');
  t.notMatch(await limited.text(), /batch-key/, 'the key is not echoed');
  t.equal((await post('other-key')).status, 200, 'another key has its own bucket');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_rate_limited_requests_total', { limit: 'key' }), 2);
  t.ok(SERVICE_AUTH);
});

t.test('a topic may set its own per-address limit; a publishable key identifies the site', async (t) => {
  const { gateway, dataDir } = testGateway({}, {});
  const topic = gateway.registry.get('widget', 'impression')!;
  // The example topic as a site would configure it: its own limit and a publishable key.
  Object.assign(topic.config, { rateLimit: { perIp: { requestsPerSecond: 1, burst: 2 } }, publishableKeys: ['pk_publisher_1'] });
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const noKey = await fetch(pixelUrl(port));
  t.equal(noKey.status, 401, 'no publishable key');
  t.equal(((await noKey.json()) as any).error.code, 'PUBLISHABLE_KEY_REQUIRED');
  const withKey = await fetch(`${pixelUrl(port)}&k=pk_publisher_1`);
  t.equal(withKey.status, 200, 'k= names the site');
  const header = await fetch(pixelUrl(port), { headers: { 'x-publishable-key': 'pk_publisher_1' } });
  t.equal(header.status, 429, 'the same address is over the topic\'s own burst of 2');
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/topics`)).status, 200, 'other routes keep the gateway-wide rule (off)');
});

t.test('the clients tracked are bounded: a flood of addresses evicts the least recently seen, the process stays up', async (t) => {
  const { gateway, dataDir } = testGateway({ server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', trustProxy: true }, rateLimit: { perIp: { requestsPerSecond: 0.001, burst: 1 }, maxClients: 3 } });
  const { port, adminPort } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const from = (address: string) => fetch(`http://127.0.0.1:${port}/v1/topics`, { headers: { 'x-forwarded-for': address } }).then((r) => r.status);
  t.same([await from('198.51.100.1'), await from('198.51.100.1')], [200, 429], 'one request per address, then refused');
  // 500 other addresses: each gets a bucket, and the map keeps only the last three.
  const statuses = new Set<number>();
  for (let i = 0; i < 500; i++) statuses.add(await from(`203.0.${Math.floor(i / 250)}.${i % 250}`));
  t.same([...statuses], [200], 'every new address starts with a full bucket');
  t.equal(await from('198.51.100.1'), 200, 'the first address was evicted long ago: its bucket starts full again');
  t.equal((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status, 200, 'the process is up');
});
