import t from 'tap';
import { metricValue, readGzipLines, injectableGateway, validImpression } from '../helpers/gateway';



const query = (o: Record<string, unknown>) => new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, String(v)])).toString();

t.test('GET pixel: 1×1 GIF, no-store, values coerced to the schema types', async (t) => {
  const { app, gateway, dataDir } = injectableGateway(t);
  const res = await app.inject({ url: `/v1/beacon/widget/impression?${query({ ...validImpression(), visibleMs: 1500, aboveFold: 'true', viewportRatio: '0.5', $time: '2026-01-01T00:00:00Z', cb: 123 })}` });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'image/gif');
  t.equal(res.headers['cache-control'], 'no-store, max-age=0');
  t.equal(res.rawPayload.length, 43);
  t.equal(res.rawPayload.subarray(0, 6).toString(), 'GIF89a');
  await gateway.close();
  const [line] = readGzipLines(dataDir);
  t.same(line.data, { widgetId: 'w-1', pageUrl: 'https://publisher.example/articles/1', placement: 'SIDEBAR', position: 2, referrer: null, visibleMs: 1500, aboveFold: true, viewportRatio: 0.5 });
  t.equal(line.time, '2026-01-01T00:00:00.000Z');
  t.equal(line.dataschema, '/v1/topics/widget/impression/versions/2');
});

t.test('GET pixel: v=1, 204 when asked, nested payload as base64url JSON in $d', async (t) => {
  const { app, gateway, dataDir } = injectableGateway(t);
  const d = Buffer.from(JSON.stringify(validImpression({ referrer: 'https://search.example/?q=a&b' }))).toString('base64url');
  const res = await app.inject({ url: `/v1/beacon/widget/impression?v=1&$status=204&$id=client-id-1&$d=${d}` });
  t.equal(res.statusCode, 204);
  await gateway.close();
  const [line] = readGzipLines(dataDir);
  t.equal(line.id, 'client-id-1', 'client id kept for deduplication');
  t.equal(line.dataschema, '/v1/topics/widget/impression/versions/1');
  t.equal(line.data.referrer, 'https://search.example/?q=a&b');
  t.notOk('visibleMs' in line.data, 'v1 has no visibleMs');
});

t.test('POST beacon: text/plain (sendBeacon), JSON array, form', async (t) => {
  const { app, gateway, dataDir } = injectableGateway(t);
  const origin = 'https://publisher.example';
  const plain = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'text/plain;charset=UTF-8', origin }, payload: JSON.stringify(validImpression({ widgetId: 'plain' })) });
  t.equal(plain.statusCode, 204);
  t.equal(plain.headers['access-control-allow-origin'], origin);
  const array = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([validImpression({ widgetId: 'arr1' }), validImpression({ widgetId: 'arr2' })]) });
  t.equal(array.statusCode, 204);
  const form = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: query(validImpression({ widgetId: 'form', position: '7' })) });
  t.equal(form.statusCode, 204);
  await gateway.close();
  const lines = readGzipLines(dataDir);
  t.same(lines.map((l) => l.data.widgetId).sort(), ['arr1', 'arr2', 'form', 'plain']);
  t.equal(lines.find((l) => l.data.widgetId === 'form').data.position, 7);
});

t.test('invalid beacons are answered as always and dead-lettered with the reason, counted', async (t) => {
  const { app, gateway, dataDir } = injectableGateway(t);
  const res = await app.inject({ url: `/v1/beacon/widget/impression?${query({ ...validImpression(), position: 'first', placement: 'MIDDLE' })}` });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'image/gif');
  const post = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ widgetId: 'x' }) });
  t.equal(post.statusCode, 204);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_dead_lettered_total', { service: 'widget', topic: 'impression', reason: 'invalid' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { outcome: 'dead_lettered' }), 2);
  await gateway.close();
  const dead = readGzipLines(`${dataDir}/_dead-letter`);
  t.equal(dead.length, 2);
  const pixel = dead.find((d) => d.source.includes('beacon') && d.payload.position === 'first');
  t.equal(pixel.reason, 'invalid');
  t.match(pixel.message, /position: expected int/);
  t.match(pixel.errors, [{ path: 'placement' }, { path: 'position' }]);
  t.equal(readGzipLines(dataDir).filter((l) => l.specversion).length, 0, 'nothing invalid reached the topic files');
});

t.test('a HEAD of the pixel records nothing', async (t) => {
  const { app, gateway } = injectableGateway(t);
  const res = await app.inject({ method: 'HEAD', url: `/v1/beacon/widget/impression?${query(validImpression())}` });
  t.equal(res.statusCode, 405);
  t.equal(res.headers.allow, 'GET, OPTIONS, POST');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_events_total', { outcome: 'accepted' }), 0);
});

t.test('access: service-only topics, foreign origins, CORS preflight', async (t) => {
  const { app } = injectableGateway(t);
  const serviceOnly = await app.inject({ url: '/v1/beacon/shop/order-placed?orderId=1' });
  t.equal(serviceOnly.statusCode, 403);
  t.equal(serviceOnly.json().error.code, 'SERVICE_ONLY_TOPIC');
  const foreign = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, payload: JSON.stringify(validImpression()) });
  t.equal(foreign.statusCode, 403);
  t.match(foreign.json().error.message, /origin https:\/\/evil\.example may not send widget\/impression/);
  const foreignPixel = await app.inject({ url: `/v1/beacon/widget/impression?${query(validImpression())}`, headers: { referer: 'https://evil.example/page' } });
  t.equal(foreignPixel.statusCode, 403, 'an <img> pixel is checked by its Referer');
  const preflight = await app.inject({ method: 'OPTIONS', url: '/v1/beacon/widget/impression', headers: { origin: 'https://publisher.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  t.equal(preflight.statusCode, 204);
  t.equal(preflight.headers['access-control-allow-origin'], 'https://publisher.example');
  t.match(preflight.headers['access-control-allow-headers'], /content-type/);
  t.equal(preflight.headers['access-control-allow-credentials'], 'true');
  const badPreflight = await app.inject({ method: 'OPTIONS', url: '/v1/beacon/widget/impression', headers: { origin: 'https://evil.example' } });
  t.equal(badPreflight.statusCode, 403);
});

t.test('bad beacon requests: 400 malformed / poisoned text/plain, 404 unknown names', async (t) => {
  const { app, gateway } = injectableGateway(t);
  const malformed = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'text/plain' }, payload: '{"widgetId":' });
  t.equal(malformed.statusCode, 400);
  t.equal(malformed.json().error.code, 'MALFORMED_BODY');
  const poisoned = await app.inject({ method: 'POST', url: '/v1/beacon/widget/impression', headers: { 'content-type': 'text/plain' }, payload: '{"widgetId":"w","constructor":{"prototype":{"polluted":true}}}' });
  t.equal(poisoned.statusCode, 400);
  t.equal(poisoned.json().error.code, 'PROTOTYPE_POISONING');
  const poisonedQuery = await app.inject({ url: '/v1/beacon/widget/impression?__proto__=x&widgetId=w' });
  t.equal(poisonedQuery.statusCode, 400);
  t.equal(({} as any).polluted, undefined);
  const unknownTopic = await app.inject({ url: '/v1/beacon/widget/clicks' });
  t.equal(unknownTopic.statusCode, 404);
  t.match(unknownTopic.json().error.message, /service widget has no topic "clicks"/);
  const badVersion = await app.inject({ url: '/v1/beacon/widget/impression?v=two' });
  t.equal(badVersion.statusCode, 400);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { service: 'widget', topic: 'impression', reason: 'malformed' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { reason: 'prototype_poisoning' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { service: 'widget', topic: 'impression', reason: 'unknown_topic' }), 0, 'an unknown topic is not given a topic label');
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { service: '_unknown', reason: 'unknown_topic' }), 1);
});
