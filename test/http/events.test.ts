import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import t from 'tap';
import { BlockedDestination } from '../helpers/destinations';
import { metricValue, readGzipLines, injectableGateway, removeDir, testGateway, TOPICS_DIR, validOrder, SERVICE_AUTH } from '../helpers/gateway';

const orderType = avro.Type.forSchema(JSON.parse(readFileSync(join(TOPICS_DIR, 'shop/order-placed/v1.avsc'), 'utf8')));
const URL_ORDERS = '/v1/events/shop/order-placed';



const json = (payload: unknown) => ({ method: 'POST' as const, url: URL_ORDERS, headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

t.test('a 2xx means the events are in the file, fsynced', async (t) => {
  const { app, dataDir } = injectableGateway(t);
  const res = await app.inject(json([validOrder({ orderId: 'a', $id: 'order-a' }), validOrder({ orderId: 'b' })]));
  t.equal(res.statusCode, 200);
  t.same(res.json(), { accepted: 2, rejected: 0, errors: [] });
  // Read before any shutdown: the answer waited for the write and fsync.
  const lines = readGzipLines(dataDir);
  t.same(lines.map((l) => l.data.orderId).sort(), ['a', 'b']);
  const a = lines.find((l) => l.data.orderId === 'a');
  t.equal(a.id, 'order-a');
  t.equal(a.type, 'shop.order-placed');
  t.equal(a.source, '/v1/events/shop/order-placed');
  t.match(lines.find((l) => l.data.orderId === 'b').id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/, 'UUIDv7 when no $id');
  t.same(a.data.items[0], { sku: 'SKU-1', quantity: 2, unitPriceCents: 1500 });
});

t.test('NDJSON, Avro binary datums and an Avro Object Container File', async (t) => {
  const { app, dataDir } = injectableGateway(t);
  const ndjson = await app.inject({ method: 'POST', url: URL_ORDERS, headers: { ...SERVICE_AUTH, 'content-type': 'application/x-ndjson' }, payload: `${JSON.stringify(validOrder({ orderId: 'n1' }))}\n${JSON.stringify(validOrder({ orderId: 'n2' }))}\n` });
  t.equal(ndjson.statusCode, 200);
  t.equal(ndjson.json().accepted, 2);

  const datums = Buffer.concat([orderType.toBuffer(validOrder({ orderId: 'd1' })), orderType.toBuffer(validOrder({ orderId: 'd2', couponCode: 'SALE' }))]);
  const binary = await app.inject({ method: 'POST', url: `${URL_ORDERS}?v=1`, headers: { ...SERVICE_AUTH, 'content-type': 'avro/binary' }, payload: datums });
  t.equal(binary.statusCode, 200, binary.body);
  t.equal(binary.json().accepted, 2);

  const container = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const encoder = new avro.streams.BlockEncoder(orderType);
    encoder.on('data', (c: Buffer) => chunks.push(c));
    encoder.on('end', () => resolve(Buffer.concat(chunks)));
    encoder.write(validOrder({ orderId: 'f1' }));
    encoder.write(validOrder({ orderId: 'f2' }));
    encoder.end();
  });
  const ocf = await app.inject({ method: 'POST', url: URL_ORDERS, headers: { ...SERVICE_AUTH, 'content-type': 'application/avro' }, payload: container });
  t.equal(ocf.statusCode, 200, ocf.body);
  t.equal(ocf.json().accepted, 2);

  const truncated = await app.inject({ method: 'POST', url: URL_ORDERS, headers: { ...SERVICE_AUTH, 'content-type': 'avro/binary' }, payload: datums.subarray(0, datums.length - 3) });
  t.equal(truncated.statusCode, 400);
  t.match(truncated.json().error.message, /Avro datum 1 at byte \d+: .*runs past the end/);

  const lines = readGzipLines(dataDir);
  t.same(lines.map((l) => l.data.orderId).sort(), ['d1', 'd2', 'f1', 'f2', 'n1', 'n2']);
  t.equal(lines.find((l) => l.data.orderId === 'd2').data.couponCode, 'SALE');
});

t.test('invalid batch: 422 naming each bad event index and field path; nothing accepted', async (t) => {
  const { app, gateway, dataDir } = injectableGateway(t);
  const res = await app.inject(json([validOrder(), validOrder({ totalCents: '12.50', items: [{ sku: 'x', quantity: 1 }] }), validOrder({ currency: 'YEN' })]));
  t.equal(res.statusCode, 422);
  const body = res.json();
  t.equal(body.error.code, 'INVALID_EVENTS');
  t.same(
    body.error.events.map((e: any) => `${e.index}:${e.path}`),
    ['1:totalCents', '1:items[0].unitPriceCents', '2:currency'],
  );
  t.match(body.error.message, /2 of 3 events invalid; nothing was accepted/);
  t.equal(readGzipLines(dataDir).length, 0);
  const metrics = await gateway.metrics.render();
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { service: 'shop', outcome: 'invalid' }), 2);
  t.equal(metricValue(metrics, 'tracking_gateway_events_total', { service: 'shop', outcome: 'rejected' }), 1);
  t.equal(metricValue(metrics, 'tracking_gateway_events_rejected_total', { service: 'shop', reason: 'invalid' }), 3);
});

t.test('?partial=true accepts the valid events and lists the invalid', async (t) => {
  const { app, dataDir } = injectableGateway(t);
  const res = await app.inject({ ...json([validOrder({ orderId: 'ok1' }), { orderId: 'bad' }, validOrder({ orderId: 'ok2' })]), url: `${URL_ORDERS}?partial=true` });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.accepted, 2);
  t.equal(body.rejected, 1);
  t.ok(body.errors.every((e: any) => e.index === 1));
  t.same(readGzipLines(dataDir).map((l) => l.data.orderId).sort(), ['ok1', 'ok2']);
});

t.test('413 for a body over the limit and for an event over the topic max size', async (t) => {
  const { app } = injectableGateway(t, { server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', bodyLimitBytes: 200_000 } });
  const huge = await app.inject({ method: 'POST', url: URL_ORDERS, headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: `[${'"x",'.repeat(60_000)}"x"]` });
  t.equal(huge.statusCode, 413);
  t.equal(huge.json().error.code, 'BODY_TOO_LARGE');
  const bigEvent = validOrder({ items: Array.from({ length: 2000 }, (_, i) => ({ sku: `SKU-${i}-xxxxxxxxxxxx`, quantity: 1, unitPriceCents: 1 })) });
  const tooBig = await app.inject(json([validOrder(), bigEvent]));
  t.equal(tooBig.statusCode, 413);
  t.equal(tooBig.json().error.code, 'EVENT_TOO_LARGE');
  t.same(tooBig.json().error.events.map((e: any) => e.index), [1]);
  t.match(tooBig.json().error.events[0].message, /takes at most 65536/);
});

t.test('400s: malformed JSON, prototype poisoning; 415 for a wrong content type; prototype poisoning; 404s name what is unknown', async (t) => {
  const { app } = injectableGateway(t);
  const cases: [Record<string, unknown>, number, string, RegExp][] = [
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: '[{"orderId": }]' }, 400, 'MALFORMED_BODY', /malformed JSON/],
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/x-ndjson' }, payload: '{"a":1}\n{oops\n' }, 400, 'MALFORMED_BODY', /line 2: malformed JSON/],
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/xml' }, payload: '<order/>' }, 415, 'UNSUPPORTED_CONTENT_TYPE', /"application\/xml" is not accepted here/],
    // Its elements would be CloudEvents (specversion, data…), which the gateway does not unwrap: refused, not misread.
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/cloudevents-batch+json' }, payload: '[{"specversion":"1.0","data":{}}]' }, 415, 'UNSUPPORTED_CONTENT_TYPE', /"application\/cloudevents-batch\+json" is not accepted here/],
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: '{"orderId":"x","__proto__":{"admin":true}}' }, 400, 'PROTOTYPE_POISONING', /__proto__/],
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: '[{"constructor":{"prototype":{"admin":true}}}]' }, 400, 'PROTOTYPE_POISONING', /constructor\.prototype/],
    [{ headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: '42' }, 400, 'MALFORMED_BODY', /object or an array/],
  ];
  for (const [req, status, code, message] of cases) {
    const res = await app.inject({ method: 'POST', url: URL_ORDERS, ...req });
    t.equal(res.statusCode, status, String(req.payload));
    t.equal(res.json().error.code, code);
    t.match(res.json().error.message, message);
  }
  const unknownService = await app.inject({ method: 'POST', url: '/v1/events/billing/invoice', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: '{}' });
  t.equal(unknownService.statusCode, 404);
  t.match(unknownService.json().error.message, /unknown service "billing"/);
  const unknownVersion = await app.inject({ ...json(validOrder()), url: URL_ORDERS, headers: { ...SERVICE_AUTH, 'content-type': 'application/json', 'x-schema-version': '3' } });
  t.equal(unknownVersion.statusCode, 404);
  t.match(unknownVersion.json().error.message, /has no schema version 3/);
});

t.test('over the memory bound: 503 with Retry-After, counted', async (t) => {
  const { app, gateway } = injectableGateway(t, { buffer: { maxBytes: 65536 } });
  const batch = Array.from({ length: 200 }, (_, i) => validOrder({ orderId: `o${i}` }));
  const res = await app.inject(json(batch));
  t.equal(res.statusCode, 503);
  t.equal(res.headers['retry-after'], '1');
  t.equal(res.json().error.code, 'OVERLOADED');
  t.equal(metricValue(await gateway.metrics.render(), 'tracking_gateway_events_rejected_total', { reason: 'overloaded' }), 200);
});

t.test('not durable within ackTimeoutMs: 503 DELIVERY_FAILED with server.retryAfterSeconds as Retry-After', async (t) => {
  const blocked = new BlockedDestination('stuck');
  const { gateway, dataDir } = testGateway({ server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', ackTimeoutMs: 100, retryAfterSeconds: 7 }, spool: { enabled: false } }, {}, [blocked]);
  t.teardown(async () => {
    blocked.unblock();
    await gateway.close();
    removeDir(dataDir);
  });
  const res = await gateway.publicServer.inject(json([validOrder({ orderId: 'slow-1' })]));
  t.equal(res.statusCode, 503, res.body);
  t.equal(res.json().error.code, 'DELIVERY_FAILED');
  t.equal(res.headers['retry-after'], '7');
  t.match(res.json().error.message, /not confirmed durable within 100 ms/);
});
