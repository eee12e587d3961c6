import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Test } from 'tap';
import t from 'tap';
import { metricValue, readGzipLines, removeDir, tempDir, testGateway, TEST_SERVICE_KEY, TOPICS_DIR, validImpression, validOrder } from '../helpers/gateway';

// The Segment HTTP API over a real socket: per-call outcomes inside a batch, the write key in
// each place SDKs put it, gzip, the limits, browser keys and the settings document.

const BASIC = { authorization: `Basic ${Buffer.from(`${TEST_SERVICE_KEY}:`).toString('base64')}` };
const JSON_TYPE = { 'content-type': 'application/json' };

async function started(t: Test, overrides: Record<string, unknown> = {}) {
  const { gateway, dataDir } = testGateway(overrides);
  const { port, adminPort } = await gateway.start();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await gateway.close();
  };
  t.teardown(async () => {
    await close();
    removeDir(dataDir);
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = { ...BASIC, ...JSON_TYPE }) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers, body: Buffer.isBuffer(body) ? body : JSON.stringify(body) });
  const metrics = async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return { gateway, dataDir, port, post, metrics, close };
}

const order = (id: string, over: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Order Placed',
  messageId: `msg-${id}`,
  timestamp: '2026-12-01T10:00:00.000Z',
  userId: 'u-1',
  properties: validOrder({ orderId: id }),
  ...over,
});

t.test('a batch: valid calls delivered, invalid ones refused by index, event name and field path, 200 either way', async (t) => {
  const { post, dataDir, metrics } = await started(t);
  const res = await post('/v1/batch', {
    batch: [
      order('o1'),
      order('o2', { properties: validOrder({ orderId: 'o2', currency: 'JPY' }) }),
      { type: 'track', event: 'Nobody Maps This', properties: {} },
      order('o3', { timestamp: undefined, originalTimestamp: '2026-12-01T09:00:00Z' }),
      'not a call',
      { type: 'teleport' },
    ],
  });
  t.equal(res.status, 200, 'an SDK drops a batch on a 4xx: the valid calls would go with it');
  const body: any = await res.json();
  t.equal(body.success, true);
  t.equal(body.accepted, 2);
  t.match(body.refused, [
    { index: 1, type: 'track', event: 'Order Placed', code: 'INVALID_EVENTS', path: 'properties.currency' },
    { index: 2, type: 'track', event: 'Nobody Maps This', code: 'UNMAPPED_CALL', path: 'event', message: /no topic takes track "Nobody Maps This"/ },
    { index: 4, code: 'MALFORMED_CALL' },
    { index: 5, code: 'MALFORMED_CALL', path: 'type' },
  ]);
  const lines = readGzipLines(dataDir);
  t.same(lines.map((l) => l.data.orderId).sort(), ['o1', 'o3'], 'each valid call once, in its topic');
  const o1 = lines.find((l) => l.data.orderId === 'o1');
  t.equal(o1.id, 'msg-o1', 'messageId is the event id');
  t.equal(o1.time, '2026-12-01T10:00:00.000Z', 'timestamp is the event time');
  t.equal(o1.type, 'shop.order-placed');
  t.same(o1.data.items[0], { sku: 'SKU-1', quantity: 2, unitPriceCents: 1500 });
  t.equal(lines.find((l) => l.data.orderId === 'o3').time, '2026-12-01T09:00:00.000Z', 'else originalTimestamp');
  const text = await metrics();
  t.equal(metricValue(text, 'tracking_gateway_events_rejected_total', { service: 'shop', topic: 'order-placed', reason: 'invalid' }), 1);
  t.equal(metricValue(text, 'tracking_gateway_events_rejected_total', { service: '_segment', topic: 'track', reason: 'unmapped' }), 1);
  t.equal(metricValue(text, 'tracking_gateway_events_rejected_total', { service: '_segment', reason: 'malformed_call' }), 2);
  t.equal(metricValue(text, 'tracking_gateway_segment_calls_total', { outcome: 'accepted' }), 2);
  t.equal(metricValue(text, 'tracking_gateway_segment_calls_total', { outcome: 'refused' }), 4);
});

t.test('a request none of whose calls is taken: 422 with every reason (nothing valid to lose)', async (t) => {
  const { post } = await started(t);
  const res = await post('/v1/track', { event: 'Order Placed', properties: { orderId: 'x' } });
  t.equal(res.status, 422);
  const body: any = await res.json();
  t.equal(body.error.code, 'INVALID_EVENTS');
  t.match(body.error.events, [{ index: 0, event: 'Order Placed', path: 'properties.customerId', message: 'required field is missing' }]);
});

t.test('the write key: Basic user, Bearer, or writeKey in the body; gzip bodies; the short paths', async (t) => {
  const { post, dataDir } = await started(t);
  t.equal((await post('/v1/track', order('basic'))).status, 200);
  t.equal((await post('/v1/track', order('bearer'), { authorization: `Bearer ${TEST_SERVICE_KEY}`, ...JSON_TYPE })).status, 200);
  t.equal((await post('/v1/t', { ...order('body'), writeKey: TEST_SERVICE_KEY }, JSON_TYPE)).status, 200);
  const gz = gzipSync(JSON.stringify({ batch: [order('gz1'), order('gz2')] }));
  const res = await post('/v1/batch', gz, { ...BASIC, ...JSON_TYPE, 'content-encoding': 'gzip' });
  t.equal(res.status, 200);
  t.same(await res.json(), { success: true, accepted: 2 });
  t.same(readGzipLines(dataDir).map((l) => l.data.orderId).sort(), ['basic', 'bearer', 'body', 'gz1', 'gz2']);

  const none = await post('/v1/batch', { batch: [order('nokey')] }, JSON_TYPE);
  t.equal(none.status, 401);
  t.equal(((await none.json()) as any).error.code, 'UNAUTHORIZED');
  t.equal((await post('/v1/batch', { batch: [order('bad')] }, { authorization: 'Basic d3Jvbmc6', ...JSON_TYPE })).status, 401);
  t.equal((await post('/v1/batch', { batch: [order('bad')], writeKey: 'wrong' }, JSON_TYPE)).status, 401);
  t.equal((await post('/v1/batch', { batch: 'x' })).status, 400);
  t.equal((await post('/v1/batch', Buffer.from('{"batch":['))).status, 400);
});

t.test('a key scoped to other topics: its calls are refused one by one', async (t) => {
  const { post } = await started(t, { auth: { keys: [{ key: TEST_SERVICE_KEY, scopes: ['*'] }, { key: 'widget-only-key', scopes: ['widget'] }] } });
  const res = await post('/v1/batch', { batch: [order('nope'), { type: 'track', event: 'Widget Impression', properties: validImpression() }] }, { authorization: 'Bearer widget-only-key', ...JSON_TYPE });
  t.equal(res.status, 200);
  const body: any = await res.json();
  t.equal(body.accepted, 1);
  t.match(body.refused, [{ index: 0, code: 'FORBIDDEN_SCOPE', message: /may not write shop\/order-placed/ }]);
});

t.test('identify, page, screen, group, alias: off until segment.calls lists them, then in their topics', async (t) => {
  const off = await started(t);
  const refused: any = await (await off.post('/v1/batch', { batch: [order('t1'), { type: 'identify', userId: 'u-1', traits: { plan: 'pro' } }] })).json();
  t.match(refused.refused, [{ index: 1, type: 'identify', code: 'CALL_TYPE_OFF', message: /segment\.calls/ }]);

  const { post, dataDir, close } = await started(t, { segment: { calls: ['track', 'identify', 'page', 'screen', 'group', 'alias'] } });
  const context = { ip: '203.0.113.9', library: { name: 'test', version: '1.0' }, page: { url: 'https://shop.example/a' }, campaign: { name: 'not declared' } };
  const res = await post('/v1/batch', {
    context,
    batch: [
      { type: 'identify', messageId: 'i1', userId: 'u-1', traits: { plan: 'pro', address: { city: 'Oslo' } } },
      { type: 'page', messageId: 'p1', anonymousId: 'a-1', name: 'Home', properties: { url: 'https://shop.example/', title: 'Shop' } },
      { type: 'screen', messageId: 's1', userId: 'u-1', name: 'Cart' },
      { type: 'group', messageId: 'g1', userId: 'u-1', groupId: 'acme', traits: { seats: 5 } },
      { type: 'alias', messageId: 'a1', previousId: 'a-1', userId: 'u-1' },
    ],
  });
  t.same(await res.json(), { success: true, accepted: 5 });
  await close();
  const byType = Object.fromEntries(readGzipLines(dataDir).map((l) => [l.type, l]));
  t.same(Object.keys(byType).sort(), ['segment.alias', 'segment.group', 'segment.identify', 'segment.page', 'segment.screen']);
  t.equal(byType['segment.identify'].id, 'i1');
  t.same(JSON.parse(byType['segment.identify'].data.traits), { plan: 'pro', address: { city: 'Oslo' } }, 'traits kept whole as JSON text');
  t.same(byType['segment.identify'].data.context, {
    ip: '203.0.113.9',
    userAgent: null,
    locale: null,
    timezone: null,
    library: { name: 'test', version: '1.0' },
    page: { path: null, referrer: null, search: null, title: null, url: 'https://shop.example/a' },
  }, 'the batch context, cut to what the schema declares');
  t.equal(byType['segment.page'].data.name, 'Home');
  t.equal(byType['segment.page'].data.anonymousId, 'a-1');
  t.same(JSON.parse(byType['segment.page'].data.properties), { url: 'https://shop.example/', title: 'Shop' });
  t.equal(byType['segment.group'].data.groupId, 'acme');
  t.same(byType['segment.alias'].data, { previousId: 'a-1', userId: 'u-1' });
});

t.test('limits: 32 KB per call, 500 KB per batch, and the inflated size of a gzip body', async (t) => {
  const { post, dataDir, metrics } = await started(t);
  const big = order('big', { properties: validOrder({ orderId: 'big', couponCode: 'x'.repeat(33 * 1024) }) });
  const inBatch = await post('/v1/batch', { batch: [order('small'), big] });
  t.equal(inBatch.status, 200, 'an oversized call is refused alone');
  t.match(((await inBatch.json()) as any).refused, [{ index: 1, code: 'CALL_TOO_LARGE', message: /at most 32768 \(segment\.maxCallBytes\)/ }]);
  t.same(readGzipLines(dataDir).map((l) => l.data.orderId), ['small']);

  const alone = await post('/v1/track', big);
  t.equal(alone.status, 413, 'a single call over 32 KB is one body over the bound');

  const calls = Array.from({ length: 20 }, (_, i) => order(`b${i}`, { properties: validOrder({ orderId: `b${i}`, couponCode: 'y'.repeat(26 * 1024) }) }));
  const tooBig = await post('/v1/batch', { batch: calls });
  t.equal(tooBig.status, 413, 'a batch over 500 KB');
  t.equal(((await tooBig.json()) as any).error.code, 'BODY_TOO_LARGE');

  const bomb = gzipSync(Buffer.from(JSON.stringify({ batch: calls })));
  t.ok(bomb.length < 50_000, 'small on the wire');
  const inflated = await post('/v1/batch', bomb, { ...BASIC, ...JSON_TYPE, 'content-encoding': 'gzip' });
  t.equal(inflated.status, 413);
  t.match(((await inflated.json()) as any).error, { code: 'DECODED_TOO_LARGE', message: /segment\.maxBatchBytes/ });
  t.ok(metricValue(await metrics(), 'tracking_gateway_events_rejected_total', { reason: 'call_too_large' }) >= 1);
});

t.test('segment/* topics whose call type is off are not served: no route, no beacon path, their key writes nothing', async (t) => {
  const { post, port } = await started(t);
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/beacon/segment/page?name=x`)).status, 404);
  const res: any = await (await post('/v1/t', { type: 'track', event: 'Widget Impression', writeKey: 'example-write-key', properties: validImpression() }, { 'content-type': 'text/plain', origin: 'http://localhost:3000' })).json();
  t.match(res, { error: { code: 'UNAUTHORIZED' } }, 'not a publishable key of a served topic');
});

t.test('browser SDKs: a publishable key, origin-checked, CORS answered, and the settings document', async (t) => {
  // example-write-key is segment/page's (and its peers'): served once page calls are on.
  const { post, port, dataDir, close } = await started(t, { segment: { calls: ['track', 'page'] } });
  const origin = 'http://localhost:3000';
  const headers = { 'content-type': 'text/plain', origin };
  const res = await post('/v1/t', { type: 'track', event: 'Widget Impression', messageId: 'w1', writeKey: 'example-write-key', properties: validImpression() }, headers);
  t.equal(res.status, 200);
  t.equal(res.headers.get('access-control-allow-origin'), origin);
  const service: any = await (await post('/v1/t', { ...order('from-browser'), writeKey: 'example-write-key' }, headers)).json();
  t.match(service.refused, [{ code: 'SERVICE_ONLY_TOPIC' }], 'a publishable key never writes a service-only topic');
  const foreign: any = await (await post('/v1/t', { type: 'track', event: 'Widget Impression', writeKey: 'example-write-key', properties: validImpression() }, { ...headers, origin: 'https://evil.example' })).json();
  t.match(foreign.refused, [{ code: 'ORIGIN_NOT_ALLOWED' }]);

  const preflight = await fetch(`http://127.0.0.1:${port}/v1/b`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
  t.equal(preflight.status, 204);
  t.match(preflight.headers.get('access-control-allow-headers'), /authorization/);
  const badPreflight = await fetch(`http://127.0.0.1:${port}/v1/b`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  t.equal(badPreflight.status, 403);

  const settings = await fetch(`http://127.0.0.1:${port}/v1/projects/example-write-key/settings`, { headers: { origin } });
  t.equal(settings.status, 200);
  const doc: any = await settings.json();
  t.same(doc.integrations['Segment.io'].apiHost, `127.0.0.1:${port}/v1`);
  t.equal(doc.integrations['Segment.io'].protocol, 'http');
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/projects/${TEST_SERVICE_KEY}/settings`)).status, 404, 'a service key is never confirmed');
  await close();
  t.same(readGzipLines(`${dataDir}`).filter((l) => l.type === 'widget.impression').map((l) => l.id), ['w1']);
});

t.test('segment.deadLetterRefused: refused calls of a service key are dead-lettered with the reason', async (t) => {
  const { post, dataDir, close } = await started(t, { segment: { deadLetterRefused: true } });
  const body: any = await (await post('/v1/batch', { batch: [order('ok'), order('bad', { properties: { orderId: 'bad' } }), { type: 'track', event: 'Unmapped' }] })).json();
  t.equal(body.accepted, 1);
  await close();
  const dead = readGzipLines(`${dataDir}/_dead-letter`);
  t.equal(dead.length, 2);
  t.match(dead.find((d) => d.service === 'shop'), { reason: 'invalid', topic: 'order-placed' });
  t.match(dead.find((d) => d.service === '_segment'), { reason: 'invalid', topic: 'track', message: /Unmapped/ });
});

t.test('segment.enabled false: the routes are not there', async (t) => {
  const { post } = await started(t, { segment: { enabled: false } });
  t.equal((await post('/v1/batch', { batch: [order('x')] })).status, 404);
});

t.test('a catch-all topic (track: "*") takes every track no other topic names, properties as JSON text', async (t) => {
  const topicsDir = tempDir();
  t.teardown(() => removeDir(topicsDir));
  cpSync(TOPICS_DIR, topicsDir, { recursive: true });
  mkdirSync(join(topicsDir, 'misc/any-track'), { recursive: true });
  writeFileSync(join(topicsDir, 'misc/any-track/topic.yaml'), 'access: service\ndefaultVersion: 1\nsegment:\n  track: "*"\n');
  const string = (name: string) => ({ name, type: ['null', 'string'], default: null });
  writeFileSync(join(topicsDir, 'misc/any-track/v1.avsc'), JSON.stringify({ type: 'record', name: 'AnyTrack', fields: [{ name: 'event', type: 'string' }, string('userId'), string('properties')] }));
  const { post, dataDir, close } = await started(t, { topicsDir });
  const res = await post('/v1/batch', { batch: [order('known'), { type: 'track', event: 'Newsletter Signup', messageId: 'n1', userId: 'u-9', properties: { list: 'weekly', source: { page: '/home' } } }] });
  t.same(await res.json(), { success: true, accepted: 2 });
  await close();
  const lines = readGzipLines(dataDir);
  t.same(lines.find((l) => l.id === 'msg-known').type, 'shop.order-placed', 'a mapped name still goes to its topic');
  const caught = lines.find((l) => l.id === 'n1');
  t.equal(caught.type, 'misc.any-track');
  t.same({ ...caught.data, properties: JSON.parse(caught.data.properties) }, { event: 'Newsletter Signup', userId: 'u-9', properties: { list: 'weekly', source: { page: '/home' } } });
});

t.test('the routes get every hook: the per-key rate limit answers 429 with Retry-After (SDKs retry it), request metrics by route', async (t) => {
  const { post, metrics } = await started(t, { rateLimit: { perKey: { requestsPerSecond: 0.01, burst: 1 } } });
  t.equal((await post('/v1/batch', { batch: [order('first')] })).status, 200);
  const limited = await post('/v1/batch', { batch: [order('second')] });
  t.equal(limited.status, 429);
  t.ok(Number(limited.headers.get('retry-after')) >= 1, 'Retry-After, which analytics-node and analytics-next honour');
  t.equal(((await limited.json()) as any).error.code, 'RATE_LIMITED');
  const text = await metrics();
  t.equal(metricValue(text, 'tracking_gateway_http_requests_total', { route: '/v1/batch', method: 'POST', status_code: '429' }), 1);
  t.equal(metricValue(text, 'tracking_gateway_http_requests_total', { route: '/v1/batch', method: 'POST', status_code: '200' }), 1);
});
