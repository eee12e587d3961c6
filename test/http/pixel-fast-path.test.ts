import { request } from 'node:http';
import t from 'tap';
import { BlockedDestination } from '../helpers/destinations';
import { watchFastPath } from '../helpers/fast-path';
import { metricValue, readGzipLines, removeDir, testGateway, validImpression } from '../helpers/gateway';

// The pixel fast path must answer exactly as the Fastify route does, and leave to it every
// request it cannot answer that way. Each request goes once over a real socket (where the fast
// path sits) and once through `inject` (the Fastify route only); the answers are compared.

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

/** Headers that say something about the answer (not Date, Connection, Keep-Alive). */
const COMPARED_HEADERS = ['content-type', 'content-length', 'cache-control', 'retry-after', 'access-control-allow-origin', 'access-control-allow-credentials', 'vary'];

function pick(headers: Record<string, string | string[] | number | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(COMPARED_HEADERS.map((name) => [name, headers[name] === undefined ? undefined : String(headers[name])]));
}

function overSocket(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: pick(res.headers), body: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', reject);
    req.end();
  });
}


const pixel = (query: Record<string, unknown>) => `/v1/beacon/widget/impression?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`;
const ALLOWED = 'https://publisher.example';

const CASES: { name: string; path: string; headers?: Record<string, string>; method?: string; fast: boolean }[] = [
  { name: 'plain pixel', path: pixel(validImpression({ visibleMs: 1500 })), fast: true },
  { name: '204 asked for', path: pixel({ ...validImpression(), $status: 204 }), fast: true },
  { name: 'allowed Origin gets CORS headers', path: pixel(validImpression()), headers: { origin: ALLOWED }, fast: true },
  { name: 'allowed Referer, no Origin', path: pixel(validImpression()), headers: { referer: `${ALLOWED}/articles/1` }, fast: true },
  { name: 'v=1 in the query', path: pixel({ ...validImpression(), v: 1 }), fast: true },
  { name: 'version header', path: pixel(validImpression()), headers: { 'x-schema-version': '1' }, fast: true },
  { name: 'invalid event: answered, dead-lettered', path: pixel({ widgetId: 'w' }), fast: true },
  { name: 'cache busters', path: pixel({ ...validImpression(), cb: 1, _: 2 }), fast: true },
  { name: 'foreign Origin', path: pixel(validImpression()), headers: { origin: 'https://elsewhere.example' }, fast: false },
  { name: 'foreign Referer', path: pixel(validImpression()), headers: { referer: 'https://elsewhere.example/x' }, fast: false },
  // `null` is an origin of its own (a sandboxed frame), allowed only by name: the Referer does not vouch for it.
  { name: 'Origin null with an allowed Referer', path: pixel(validImpression()), headers: { origin: 'null', referer: `${ALLOWED}/a` }, fast: false },
  { name: 'service-only topic', path: '/v1/beacon/shop/order-placed?orderId=o', fast: false },
  { name: 'unknown topic', path: '/v1/beacon/widget/click?x=1', fast: false },
  { name: 'unknown service', path: '/v1/beacon/nope/impression?x=1', fast: false },
  { name: 'unknown version', path: pixel({ ...validImpression(), v: 9 }), fast: false },
  { name: 'bad version', path: pixel({ ...validImpression(), v: 'two' }), fast: false },
  { name: 'prototype poisoning', path: `${pixel(validImpression())}&__proto__=x`, fast: false },
  { name: 'malformed $d', path: pixel({ $d: 'not-json' }), fast: false },
  { name: 'trailing slash', path: '/v1/beacon/widget/impression/?widgetId=w', fast: false },
  { name: 'escaped path', path: `/v1/beacon/widget/imp%72ession?${pixel(validImpression()).split('?')[1]}`, fast: false },
  { name: 'HEAD', path: pixel(validImpression()), method: 'HEAD', fast: false },
];

t.test('the fast path answers as the Fastify route does, and hands over what it cannot', async (t) => {
  const answered = watchFastPath(t);
  const { gateway, dataDir } = testGateway();
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  for (const c of CASES) {
    const before = answered.length;
    const socket = await overSocket(port, c.path, c.headers ?? {}, c.method);
    const tookIt = answered.length > before;
    const injected = await gateway.publicServer.inject({ method: (c.method ?? 'GET') as 'GET', url: c.path, headers: c.headers });
    t.same(socket, { status: injected.statusCode, headers: pick(injected.headers), body: injected.rawPayload.toString('latin1') }, c.name);
    t.equal(tookIt, c.fast, `${c.name}: ${c.fast ? 'answered by the fast path' : 'handed to Fastify'}`);
  }
  const metrics = await gateway.metrics.render();
  await gateway.close();

  // Both paths accepted the same events: every line written twice, once per path.
  const fastAccepted = CASES.filter((c) => c.fast && c.name !== 'invalid event: answered, dead-lettered').length;
  const lines = readGzipLines(`${dataDir}/widget`);
  t.equal(lines.length, 2 * fastAccepted + 2, 'each valid pixel twice, and the escaped path twice');
  const strip = (line: { id: string; receivedtime: string; time: string }) => ({ ...line, id: undefined, receivedtime: undefined, time: undefined });
  for (let i = 0; i < lines.length; i += 2) t.same(strip(lines[i]), strip(lines[i + 1]), `line ${i / 2}: same event from both paths`);
  t.equal(readGzipLines(`${dataDir}/_dead-letter`).length, 2, 'the invalid pixel dead-lettered by both paths');
  const route = { route: '/v1/beacon/:service/:topic', method: 'GET' };
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { ...route, status_code: '200' }), 2 * CASES.filter((c) => c.fast && !c.name.startsWith('204')).length + 2);
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { ...route, status_code: '204' }), 2);
  const routed = CASES.filter((c) => c.name !== 'HEAD' && c.name !== 'trailing slash');
  t.equal(metricValue(metrics, 'tracking_gateway_http_request_duration_seconds_count', { route: route.route }), 2 * routed.length, 'every request the pixel route took, timed once');
});

t.test('over the memory bound with no spool, the fast path answers 503 with Retry-After as the route does', async (t) => {
  const held = new BlockedDestination('held');
  const { gateway, dataDir } = testGateway({ buffer: { maxBytes: 65536 }, spool: { enabled: false } }, {}, [held]);
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  const path = pixel(validImpression());
  let socket: Answer | undefined;
  for (let sent = 0; sent < 1000 && socket?.status !== 503; sent++) socket = await overSocket(port, path, {});
  t.equal(socket?.status, 503, 'refused once the buffer is full');
  t.equal(socket?.headers['retry-after'], '1');
  const injected = await gateway.publicServer.inject({ url: path });
  t.same(socket, { status: injected.statusCode, headers: pick(injected.headers), body: injected.rawPayload.toString('latin1') });
  t.match(JSON.parse(socket!.body), { error: { code: 'OVERLOADED' } });
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { reason: 'overloaded' }), 2, 'each refused pixel counted once');
  t.equal(metricValue(metrics, 'tracking_gateway_http_requests_total', { status_code: '503' }), 2);
  held.unblock();
  await gateway.close();
});

t.test('behind a trusted proxy, the fast path records the client address and user agent as the route does', async (t) => {
  const answered = watchFastPath(t);
  const { gateway, dataDir } = testGateway({ server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', trustProxy: true }, envelope: { clientIp: 'full', userAgent: true } });
  t.teardown(() => removeDir(dataDir));
  const { port } = await gateway.start();
  const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'user-agent': 'Mozilla/5.0 (test)' };
  const path = pixel(validImpression());
  const socket = await overSocket(port, path, headers);
  t.equal(answered.length, 1, 'answered by the fast path');
  const injected = await gateway.publicServer.inject({ url: path, headers, remoteAddress: '127.0.0.1' });
  t.same(socket, { status: injected.statusCode, headers: pick(injected.headers), body: injected.rawPayload.toString('latin1') });
  await gateway.close();
  const lines = readGzipLines(`${dataDir}/widget`);
  t.equal(lines.length, 2);
  t.same(
    lines.map((line) => [line.clientip, line.useragent]),
    [
      ['203.0.113.7', 'Mozilla/5.0 (test)'],
      ['203.0.113.7', 'Mozilla/5.0 (test)'],
    ],
    'the first forwarded address, as Fastify gives request.ip, on both paths',
  );
});
