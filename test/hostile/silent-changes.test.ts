import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { checkTopicConfig } from '../../src/topics/topic-config';
import { gatewayAllowing, removeDir, SERVICE_AUTH, testGateway } from '../helpers/gateway';
import { exchange, jsonOf, refusalShapeProblems, requestBytes, type HttpSend, type RawAnswer } from './raw-http';

// Issue 24's "what did not hold", items 2–4, over real sockets: `Origin: null`, values the
// gateway used to change silently (impossible dates, control characters in ids, `TRUE`,
// a second charset, `0x1` versions) and framing off the documented shape (HTTP/0.9 and 2.0
// request lines, `Expect`, 100-continue before the key is checked, two Authorization headers).

const ORDER = { orderId: 'o-1', customerId: 'c-1', placedAt: 1764057600000, totalCents: 1, currency: 'EUR', items: [] };
const IMPRESSION = { widgetId: 'w-1', pageUrl: 'https://p.example/', placement: 'TOP', position: 0 };

async function send(port: number, request: HttpSend | Buffer): Promise<RawAnswer> {
  const outcome = await exchange({ port, data: Buffer.isBuffer(request) ? request : requestBytes(request), timeoutMs: 5000 });
  if (outcome.kind !== 'answer') throw new Error(`no answer: ${outcome.kind}`);
  return outcome.answer;
}

/** Asserts a refusal with this status and code, in the documented shape. */
function refused(t: Test, answer: RawAnswer, status: number, code: string, what: string): void {
  t.equal(answer.status, status, `${what}: ${status}`);
  t.equal(jsonOf(answer)?.error?.code, code, `${what}: ${code}`);
  t.same(refusalShapeProblems(answer), [], `${what}: the documented error shape`);
}

const postEvents = (body: unknown, path = '/v1/events/shop/order-placed', headers: Record<string, string | string[]> = {}): HttpSend => ({
  method: 'POST',
  path,
  headers: { ...SERVICE_AUTH, 'content-type': 'application/json', ...headers },
  body: Buffer.from(JSON.stringify(body)),
});

t.test('the default gateway', async (t) => {
  const { gateway, dataDir } = testGateway();
  const { port } = await gateway.start();
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });

  t.test('Origin: null is refused by a topic that allows only named sites; on the pixel fast path too', async (t) => {
    const beacon = { method: 'POST', path: '/v1/beacon/widget/impression', headers: { origin: 'null', 'content-type': 'text/plain' }, body: Buffer.from(JSON.stringify(IMPRESSION)) };
    refused(t, await send(port, beacon), 403, 'ORIGIN_NOT_ALLOWED', 'sendBeacon from a sandboxed frame');
    const pixel = `/v1/beacon/widget/impression?widgetId=w&pageUrl=x&placement=TOP&position=0`;
    refused(t, await send(port, { method: 'GET', path: pixel, headers: { origin: 'null' } }), 403, 'ORIGIN_NOT_ALLOWED', 'pixel with Origin: null');
    // A data: page's Referer has no origin but "null" either.
    refused(t, await send(port, { method: 'GET', path: pixel, headers: { referer: 'data:text/html,<img>' } }), 403, 'ORIGIN_NOT_ALLOWED', 'pixel from a data: page');
    t.equal((await send(port, { method: 'GET', path: pixel, headers: { referer: 'https://publisher.example/a' } })).status, 200, 'a named origin still passes');
  });

  t.test('the example topic allows a development page on localhost, on any port, and nothing else on loopback', async (t) => {
    const beacon = (origin: string) => ({ method: 'POST', path: '/v1/in/widget/impression', headers: { origin, 'content-type': 'text/plain' }, body: Buffer.from(JSON.stringify([IMPRESSION])) });
    const local = await send(port, beacon('http://localhost:5173'));
    t.equal(local.status, 204, 'http://localhost:5173 takes beacons');
    t.equal(local.headers['access-control-allow-origin'], 'http://localhost:5173', 'and may read the answer');
    refused(t, await send(port, beacon('http://127.0.0.1:5173')), 403, 'ORIGIN_NOT_ALLOWED', 'another loopback name, not listed');
    refused(t, await send(port, beacon('http://localhost.evil.example:5173')), 403, 'ORIGIN_NOT_ALLOWED', 'a host that only starts with localhost');
  });

  t.test('$time with an impossible date or time is refused, not rolled over', async (t) => {
    for (const time of ['2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-12-31T23:59:60Z', '2026-01-01T00:00:00+24:00']) {
      const answer = await send(port, postEvents({ ...ORDER, $time: time }));
      refused(t, answer, 422, 'INVALID_EVENTS', time);
      t.match(jsonOf(answer)?.error?.events?.[0]?.message, /\$time/, `${time}: the problem names $time`);
    }
    t.equal((await send(port, postEvents({ ...ORDER, $time: '2028-02-29T23:59:59.5+01:00' }))).status, 200, 'a leap day with an offset still passes');
  });

  t.test('$id with a control character or a line separator is refused', async (t) => {
    for (const [name, id] of [['\\n', 'a\nb'], ['\\r', 'a\rb'], ['NUL', 'a\u0000b'], ['DEL', 'a\u007fb'], ['C1 NEL', 'a\u0085b'], ['U+2028', 'a\u2028b'], ['U+2029', 'a\u2029b']]) {
      const answer = await send(port, postEvents({ ...ORDER, $id: id }));
      refused(t, answer, 422, 'INVALID_EVENTS', `$id with ${name}`);
    }
    // On the pixel too, as a query value.
    const pixel = await send(port, { method: 'GET', path: `/v1/beacon/widget/impression?$status=204&$id=a%0Ab&widgetId=w&pageUrl=x&placement=TOP&position=0` });
    t.equal(pixel.status, 204, 'a pixel is answered as always (the page never reads it) …');
    t.equal((await send(port, postEvents({ ...ORDER, $id: 'order-ünïcode-1' }))).status, 200, 'an id of printable Unicode still passes');
  });

  t.test('partial= other than true/false/1/0 is a clear 400, never read as false', async (t) => {
    const batch = [ORDER, { orderId: 'bad' }];
    for (const value of ['TRUE', 'True', 'yes', '', 'truee']) {
      const answer = await send(port, postEvents(batch, `/v1/events/shop/order-placed?partial=${value}`));
      refused(t, answer, 400, 'BAD_PARAMETER', `partial=${value}`);
      t.match(jsonOf(answer).error.message, /partial/, `partial=${value}: the message names the parameter`);
    }
    const partial = await send(port, postEvents(batch, '/v1/events/shop/order-placed?partial=true'));
    t.equal(partial.status, 200, 'partial=true takes the valid event');
    t.equal(jsonOf(partial).accepted, 1);
    refused(t, await send(port, postEvents(batch, '/v1/events/shop/order-placed?partial=false')), 422, 'INVALID_EVENTS', 'partial=false refuses the batch');
  });

  t.test('a second charset parameter is refused', async (t) => {
    for (const type of ['application/json; charset=utf-8; charset=iso-8859-1', 'application/json; charset=utf-8; charset=utf-8', 'application/json;charset="utf-8";CHARSET=latin1']) {
      refused(t, await send(port, postEvents(ORDER, undefined, { 'content-type': type })), 415, 'UNSUPPORTED_CHARSET', type);
    }
    t.equal((await send(port, postEvents(ORDER, undefined, { 'content-type': 'application/json; charset=UTF-8' }))).status, 200, 'one UTF-8 charset passes');
  });

  t.test('versions only in canonical decimal: path, ?v= and X-Schema-Version', async (t) => {
    for (const version of ['0x1', '01', '1e0', '+1', '1.0', '%201']) {
      refused(t, await send(port, { method: 'GET', path: `/v1/topics/widget/impression/versions/${version}` }), 400, 'BAD_VERSION', `/versions/${version}`);
      refused(t, await send(port, postEvents(ORDER, `/v1/events/shop/order-placed?v=${version}`)), 400, 'BAD_VERSION', `?v=${version}`);
    }
    for (const version of ['0x1', '01', ' 1 x']) {
      refused(t, await send(port, postEvents(ORDER, undefined, { 'x-schema-version': version })), 400, 'BAD_VERSION', `X-Schema-Version: ${version}`);
    }
    t.equal((await send(port, { method: 'GET', path: '/v1/topics/widget/impression/versions/1' })).status, 200, '/versions/1 answers');
    refused(t, await send(port, { method: 'GET', path: '/v1/topics/widget/impression/versions/9' }), 404, 'UNKNOWN_VERSION', '/versions/9');
  });

  t.test('request lines of HTTP versions other than 1.0 and 1.1 get 400 BAD_REQUEST (not a 5xx)', async (t) => {
    for (const version of ['0.9', '2.0', '3.0', '1.2']) {
      const answer = await send(port, Buffer.from(`GET /v1/topics HTTP/${version}\r\nHost: x\r\n\r\n`, 'latin1'));
      refused(t, answer, 400, 'BAD_REQUEST', `HTTP/${version}`);
    }
    const pixel = await send(port, Buffer.from(`GET /v1/beacon/widget/impression?widgetId=w&pageUrl=x&placement=TOP&position=0 HTTP/2.0\r\nHost: x\r\n\r\n`, 'latin1'));
    refused(t, pixel, 400, 'BAD_REQUEST', 'a pixel on HTTP/2.0 (the fast path too)');
    t.equal((await send(port, Buffer.from('GET /v1/topics HTTP/1.0\r\nHost: x\r\n\r\n', 'latin1'))).status, 200, 'HTTP/1.0 still answers');
  });

  t.test('Expect other than 100-continue: 417 EXPECTATION_FAILED in the documented shape', async (t) => {
    for (const expect of ['200-ok', '101-switch', 'x']) {
      refused(t, await send(port, postEvents(ORDER, undefined, { expect })), 417, 'EXPECTATION_FAILED', `Expect: ${expect}`);
    }
  });

  t.test('Expect: 100-continue: no 100 before the key is checked nor for a body over the limit; 100 and then 200 with a key', async (t) => {
    const interim = (headers: Record<string, string>) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ port, host: '127.0.0.1' });
        let text = '';
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(text);
        }, 3000);
        socket.on('data', (chunk) => {
          text += chunk.toString('latin1');
          // The body goes only once the 100 came (a client that waits for it).
          if (text.startsWith('HTTP/1.1 100')) socket.write(JSON.stringify(ORDER));
          if (/\r\n\r\n[\s\S]*\}$/.test(text.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, ''))) {
            clearTimeout(timer);
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
        const head = Object.entries({ host: 'x', 'content-type': 'application/json', 'content-length': String(JSON.stringify(ORDER).length), expect: '100-continue', ...headers });
        socket.write(`POST /v1/events/shop/order-placed HTTP/1.1\r\n${head.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
      });
    const anonymous = await interim({});
    t.match(anonymous, /^HTTP\/1\.1 401 /, 'without a key: the 401 is the first thing on the wire');
    t.notMatch(anonymous, /100 Continue/, 'and no 100 Continue at all');
    t.match(anonymous, /"UNAUTHORIZED"/);
    const badKey = await interim({ authorization: 'Bearer nope' });
    t.match(badKey, /^HTTP\/1\.1 401 /, 'with an unknown key: 401 first');
    const keyed = await interim(SERVICE_AUTH);
    t.match(keyed, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, 'with a key: 100 Continue, then the body is read and taken');
    const huge = await interim({ ...SERVICE_AUTH, 'content-length': String(1024 * 1024 * 1024) });
    t.match(huge, /^HTTP\/1\.1 413 /, 'a declared 1 GiB body, with a key: the 413 is the first thing on the wire');
    t.notMatch(huge, /100 Continue/, 'and no 100 Continue that would invite the body');
    t.match(huge, /"BODY_TOO_LARGE"/);
  });

  t.test('two Authorization headers are refused, whichever comes first', async (t) => {
    for (const pair of [
      ['Bearer test-service-key', 'Bearer nope'],
      ['Bearer nope', 'Bearer test-service-key'],
      ['Bearer test-service-key', 'Bearer test-service-key'],
    ]) {
      const answer = await send(port, postEvents(ORDER, undefined, { authorization: pair }));
      refused(t, answer, 400, 'BAD_REQUEST', `Authorization: ${pair.join(' + ')}`);
      t.match(jsonOf(answer).error.message, /2 Authorization headers/);
    }
  });
});

t.test('a topic that lists "null" by name takes beacons with Origin: null, and echoes it', async (t) => {
  const { url } = await gatewayAllowing(t, 'null');
  const port = Number(new URL(url).port);
  const answer = await send(port, { method: 'POST', path: '/v1/beacon/widget/impression', headers: { origin: 'null', 'content-type': 'text/plain' }, body: Buffer.from(JSON.stringify(IMPRESSION)) });
  t.equal(answer.status, 204);
  t.equal(answer.headers['access-control-allow-origin'], 'null');
  refused(t, await send(port, { method: 'POST', path: '/v1/beacon/widget/impression', headers: { origin: 'https://publisher.example', 'content-type': 'text/plain' }, body: Buffer.from(JSON.stringify(IMPRESSION)) }), 403, 'ORIGIN_NOT_ALLOWED', 'a named site it does not list');
});

t.test('allowedOrigins: "*" does not cover null; any-port patterns only for loopback hosts', async (t) => {
  const config = (allowedOrigins: string[]) => checkTopicConfig({ access: 'public', defaultVersion: 1, allowedOrigins }).problems;
  for (const ok of [['null'], ['http://localhost:*'], ['https://127.0.0.1:*'], ['http://[::1]:*'], ['https://a.example:8443']]) t.same(config(ok), [], `${ok} is a valid entry`);
  for (const bad of [['https://evil.example:*'], ['http://localhost.evil.example:*'], ['http://*.example'], ['nul']]) t.not(config(bad).length, 0, `${bad} is refused at start`);
  const { url } = await gatewayAllowing(t, '*');
  const answer = await send(Number(new URL(url).port), { method: 'POST', path: '/v1/beacon/widget/impression', headers: { origin: 'null', 'content-type': 'text/plain' }, body: Buffer.from(JSON.stringify(IMPRESSION)) });
  refused(t, answer, 403, 'ORIGIN_NOT_ALLOWED', 'Origin: null on a "*" topic');
});
