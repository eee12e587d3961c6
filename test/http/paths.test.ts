import t from 'tap';
import { buildConfig } from '../../src/config/config';
import { watchFastPath } from '../helpers/fast-path';
import { publicPaths } from '../../src/http/paths';
import { metricValue, readGzipLines, removeDir, SERVICE_AUTH, testGateway, validImpression, validOrder } from '../helpers/gateway';

// server.paths: one configuration for every public route, read by the Fastify routes and the
// pixel fast path alike.

const query = (event: Record<string, unknown>) => new URLSearchParams(Object.entries(event).map(([k, v]): [string, string] => [k, String(v)])).toString();

t.test('the default paths: /v1/beacon, its alias /v1/in, /v1/events, /v1/topics, /v1/tracker.js and /v1/in.js', async (t) => {
  const paths = publicPaths(buildConfig({}, {}).server.paths);
  t.same(paths.beaconRoutes, ['/v1/beacon/:service/:topic', '/v1/in/:service/:topic']);
  t.same(paths.beaconPrefixes, ['/v1/beacon/', '/v1/in/']);
  t.equal(paths.eventsRoute, '/v1/events/:service/:topic');
  t.equal(paths.topicsRoute, '/v1/topics');
  t.same(paths.trackerRoutes, ['/v1/tracker.js', '/v1/in.js']);
  const noAlias = publicPaths(buildConfig({ server: { paths: { beaconAlias: '' } } }, {}).server.paths);
  t.same(noAlias.beaconRoutes, ['/v1/beacon/:service/:topic'], 'an empty alias turns it off');
  t.same(noAlias.trackerRoutes, ['/v1/tracker.js']);
});

t.test('paths that cannot be routed as written, or would put two routes on one path, stop the start naming the key', async (t) => {
  t.throws(() => buildConfig({ server: { paths: { prefix: 'v1' } } }, {}), /server\.paths\.prefix must match pattern/);
  t.throws(() => buildConfig({ server: { paths: { prefix: '/v1/' } } }, {}), /server\.paths\.prefix must match pattern/);
  t.throws(() => buildConfig({ server: { paths: { beacon: 'a/b' } } }, {}), /server\.paths\.beacon must match pattern/);
  t.throws(() => buildConfig({ server: { paths: { beacon: '%2e' } } }, {}), /server\.paths\.beacon must match pattern/);
  t.throws(() => buildConfig({ server: { paths: { beaconAlias: 'events' } } }, {}), /server\.paths\.beaconAlias is "events", as server\.paths\.events is/);
  t.throws(() => buildConfig({ server: { paths: { beaconAlias: 'tracker', tracker: 'tracker.js' } } }, {}), /server\.paths\.beaconAlias \(its script\) is "tracker\.js", as server\.paths\.tracker is/);
  t.throws(() => buildConfig({ server: { paths: { prefx: '/x' } } }, {}), /server\.paths: unknown key "prefx"/);
  t.equal(buildConfig({ server: { paths: { prefix: '' } } }, {}).server.paths.prefix, '', 'no prefix: the routes at the root');
});

t.test('a site\'s own prefix and names: every route answers there and only there, fast path and Fastify alike', async (t) => {
  const answered = watchFastPath(t);

  const paths = { prefix: '/assets/t', beacon: 'b', beaconAlias: 'p', events: 'e', topics: 'd' };
  const { gateway, dataDir } = testGateway({ server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', paths } });
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  const base = `http://127.0.0.1:${port}`;
  const origin = 'https://publisher.example';

  const pixel = await fetch(`${base}/assets/t/b/widget/impression?${query(validImpression({ widgetId: 'pixel' }))}`);
  const aliasPixel = await fetch(`${base}/assets/t/p/widget/impression?${query(validImpression({ widgetId: 'alias-pixel' }))}`);
  t.equal(pixel.status, 200);
  t.equal(aliasPixel.status, 200);
  t.same(answered, [`/assets/t/b/widget/impression?${query(validImpression({ widgetId: 'pixel' }))}`, `/assets/t/p/widget/impression?${query(validImpression({ widgetId: 'alias-pixel' }))}`], 'the fast path answered both pixels');

  const aliasBeacon = await fetch(`${base}/assets/t/p/widget/impression`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', origin }, body: JSON.stringify([validImpression({ widgetId: 'alias-beacon' })]) });
  t.equal(aliasBeacon.status, 204, 'the alias takes sendBeacon POSTs');
  t.equal(aliasBeacon.headers.get('access-control-allow-origin'), origin, 'with the CORS answer of the beacon path');
  const preflight = await fetch(`${base}/assets/t/p/widget/impression`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
  t.equal(preflight.status, 204, 'and preflights');
  const foreign = await fetch(`${base}/assets/t/p/widget/impression?${query(validImpression())}`, { headers: { origin: 'https://elsewhere.example' } });
  t.equal(foreign.status, 403, 'the alias refuses a foreign origin as the beacon path does');

  const order = await fetch(`${base}/assets/t/e/shop/order-placed`, { method: 'POST', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, body: JSON.stringify(validOrder()) });
  t.equal(order.status, 200, 'service events at the configured events path');
  const list = (await (await fetch(`${base}/assets/t/d`)).json()) as { topics: { topic: string; endpoints: unknown }[] };
  t.same(list.topics.find((x) => x.topic === 'impression')?.endpoints, { beacon: '/assets/t/b/widget/impression', events: '/assets/t/e/widget/impression' }, 'discovery names the configured paths');
  t.equal((await fetch(`${base}/assets/t/d/widget/impression/versions/1`)).status, 200);

  for (const old of ['/v1/beacon/widget/impression', '/v1/in/widget/impression', '/v1/topics']) {
    const res = await fetch(`${base}${old}?${query(validImpression())}`);
    t.equal(res.status, 404, `${old} is not a route any more`);
  }

  const metrics = await gateway.metrics.render();
  await gateway.close();
  const lines = readGzipLines(`${dataDir}/widget`);
  t.same(lines.map((l) => l.data.widgetId).sort(), ['alias-beacon', 'alias-pixel', 'pixel']);
  t.same([...new Set(lines.map((l) => l.source))], ['/assets/t/b/widget/impression'], 'the alias is the same endpoint: one CloudEvents source');
  t.equal(readGzipLines(`${dataDir}/shop`)[0].source, '/assets/t/e/shop/order-placed');
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/assets/t/p/:service/:topic', method: 'GET', status_code: '200' }), 1, 'the fast path counts the alias under its own route');
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/assets/t/b/:service/:topic', method: 'GET', status_code: '200' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { route: '/assets/t/p/:service/:topic', method: 'POST', status_code: '204' }), 1);
});
