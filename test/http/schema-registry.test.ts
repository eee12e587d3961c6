// The read-only Schema Registry API on the admin port, over a real socket: Confluent's paths,
// answers, error codes and content type, served from topics/; writes refused; bodies bounded.
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MAX_REGISTRY_BODY_BYTES } from '../../src/http/routes/schema-registry';
import { removeDir, tempDir, testGateway, TOPICS_DIR } from '../helpers/gateway';
import { startServe } from '../helpers/process';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const v1 = readFileSync(join(TOPICS_DIR, 'widget/impression/v1.avsc'), 'utf8');
const v2 = readFileSync(join(TOPICS_DIR, 'widget/impression/v2.avsc'), 'utf8');

interface Answer {
  status: number;
  type: string;
  body: any;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

t.test('schema registry API', async (t) => {
  const { gateway, dataDir } = testGateway({ destinations: { kafka: { type: 'kafka', brokers: ['127.0.0.1:1'], topic: 'gw.{service}.{topic}' }, local: { type: 'file' } } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const { adminPort } = await gateway.start();
  const base = `http://127.0.0.1:${adminPort}/schema-registry`;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { 'content-type': CONTENT_TYPE }): Promise<Answer> => {
    const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: parsed, text, headers: Object.fromEntries(response.headers) };
  };
  const get = (path: string) => call('GET', path);

  t.test('subjects follow TopicNameStrategy on the Kafka topic names', async (t) => {
    const answer = await get('/subjects');
    t.equal(answer.status, 200);
    t.match(answer.type, CONTENT_TYPE);
    t.same(answer.body, ['gw.shop.order-placed-value', 'gw.widget.impression-value']);
    t.same((await get('/subjects?subjectPrefix=gw.widget')).body, ['gw.widget.impression-value']);
    t.same((await get('/subjects/gw.widget.impression-value/versions')).body, [1, 2]);
  });

  t.test('versions: by number, latest and -1, with the schema text of the vN.avsc', async (t) => {
    const one = await get('/subjects/gw.widget.impression-value/versions/1');
    t.same(one.body, { subject: 'gw.widget.impression-value', version: 1, id: 1, schema: JSON.stringify(JSON.parse(v1)) });
    for (const latest of ['latest', '-1']) t.match((await get(`/subjects/gw.widget.impression-value/versions/${latest}`)).body, { version: 2, id: 2 });
    const raw = await get('/subjects/gw.widget.impression-value/versions/2/schema');
    t.same(raw.body, JSON.parse(v2), '/schema answers the schema itself');
    t.same((await get('/subjects/gw.shop.order-placed-value/versions/latest')).body.id, 3);
    t.same((await get('/subjects/gw.widget.impression-value/versions/2/referencedby')).body, []);
  });

  t.test('schemas by id', async (t) => {
    t.same((await get('/schemas/ids/2')).body, { schema: JSON.stringify(JSON.parse(v2)) });
    t.same((await get('/schemas/ids/2?subject=gw.widget.impression-value')).body, { schema: JSON.stringify(JSON.parse(v2)) }, 'the subject parameter clients send');
    t.same((await get('/schemas/ids/1/schema')).body, JSON.parse(v1));
    t.same((await get('/schemas/ids/3/versions')).body, [{ subject: 'gw.shop.order-placed-value', version: 1 }]);
    t.same((await get('/schemas/ids/3/subjects')).body, ['gw.shop.order-placed-value']);
    t.same((await get('/schemas/types')).body, ['AVRO']);
    t.same((await get('/config')).body, { compatibilityLevel: 'BACKWARD' });
    t.same((await get('/config/gw.widget.impression-value')).body, { compatibilityLevel: 'BACKWARD' });
    t.same((await get('/mode')).body, { mode: 'READONLY' });
  });

  t.test('Confluent error codes', async (t) => {
    const cases: [string, number, number][] = [
      ['/subjects/nope-value/versions', 404, 40401],
      ['/subjects/nope-value/versions/1', 404, 40401],
      ['/subjects/gw.widget.impression-value/versions/3', 404, 40402],
      ['/subjects/gw.widget.impression-value/versions/0', 422, 42202],
      ['/subjects/gw.widget.impression-value/versions/abc', 422, 42202],
      ['/subjects/gw.widget.impression-value/versions/99999999999', 422, 42202],
      ['/schemas/ids/4', 404, 40403],
      ['/schemas/ids/x', 404, 40403],
      ['/schemas/ids/99999999999999', 404, 40403],
      ['/no/such/path', 404, 404],
    ];
    for (const [path, status, code] of cases) {
      const answer = await get(path);
      t.equal(answer.status, status, path);
      t.equal(answer.body?.error_code, code, path);
      t.type(answer.body?.message, 'string');
      t.match(answer.type, CONTENT_TYPE);
    }
    const patch = await call('PATCH', '/subjects');
    t.equal(patch.status, 405);
    t.equal(patch.body.error_code, 405);
    t.match(patch.headers.allow, /GET/);
  });

  t.test('lookup: a posted schema is found by its canonical form, whatever its docs and layout', async (t) => {
    const withoutDocs = JSON.parse(v2);
    delete withoutDocs.doc;
    for (const f of withoutDocs.fields) delete f.doc;
    const found = await call('POST', '/subjects/gw.widget.impression-value', { schema: JSON.stringify(withoutDocs, null, 2) });
    t.equal(found.status, 200);
    t.same(found.body, { subject: 'gw.widget.impression-value', version: 2, id: 2, schema: JSON.stringify(JSON.parse(v2)) });
    t.equal((await call('POST', '/subjects/gw.widget.impression-value', { schema: v1, schemaType: 'AVRO' })).body.id, 1);
    const orderSchema = readFileSync(join(TOPICS_DIR, 'shop/order-placed/v1.avsc'), 'utf8');
    t.match((await call('POST', '/subjects/gw.widget.impression-value', { schema: orderSchema })).body, { error_code: 40403 });
    t.match((await call('POST', '/subjects/nope-value', { schema: v1 })).body, { error_code: 40401 });
    t.match((await call('POST', '/subjects/gw.widget.impression-value', { schema: '{"type":"record"' })).body, { error_code: 42201 });
    t.match((await call('POST', '/subjects/gw.widget.impression-value', { schema: '{"type":"nonsense"}' })).body, { error_code: 42201 });
    t.match((await call('POST', '/subjects/gw.widget.impression-value', { schema: v1, schemaType: 'PROTOBUF' })).body, { error_code: 42201 });
    t.match((await call('POST', '/subjects/gw.widget.impression-value', { schema: v1, references: [{ name: 'x', subject: 'y', version: 1 }] })).body, { error_code: 42201 });
    t.match((await call('POST', '/subjects/gw.widget.impression-value', { nothing: 1 })).body, { error_code: 42201 });
    const invalid = await call('POST', '/subjects/gw.widget.impression-value', '{"schema": ');
    t.equal(invalid.status, 400);
    t.equal(invalid.body.error_code, 400);
    const poisoned = await call('POST', '/subjects/gw.widget.impression-value', '{"schema": "{}", "__proto__": {"x": 1}}');
    t.equal(poisoned.status, 400, 'prototype poisoning refused');
    const typed = await call('POST', '/subjects/gw.widget.impression-value', 'schema=x', { 'content-type': 'application/x-www-form-urlencoded' });
    t.equal(typed.status, 415);
    t.equal(typed.body.error_code, 415);
  });

  t.test('compatibility: the same resolution rules as topics check', async (t) => {
    const path = '/compatibility/subjects/gw.widget.impression-value/versions';
    t.same((await call('POST', `${path}/1`, { schema: v2 })).body, { is_compatible: true }, 'v2 reads v1');
    t.same((await call('POST', `${path}/latest`, { schema: v1 })).body, { is_compatible: true }, 'v1 reads v2 (it skips the added fields)');
    const breaking = JSON.parse(v2);
    breaking.fields.push({ name: 'required', type: 'string' });
    t.same((await call('POST', `${path}/latest`, { schema: JSON.stringify(breaking) })).body, { is_compatible: false });
    const verbose = await call('POST', `${path}/latest?verbose=true`, { schema: JSON.stringify(breaking) });
    t.equal(verbose.body.is_compatible, false);
    t.match(verbose.body.messages, [/cannot read data written with version 2/]);
    t.same((await call('POST', path, { schema: JSON.stringify(breaking) })).body, { is_compatible: false }, 'no version: the latest');
    t.match((await call('POST', `${path}/7`, { schema: v2 })).body, { error_code: 40402 });
    t.match((await call('POST', `${path}/x`, { schema: v2 })).body, { error_code: 42202 });
    t.match((await call('POST', '/compatibility/subjects/nope-value/versions/1', { schema: v2 })).body, { error_code: 40401 });
  });

  t.test('writes answer that schemas are changed in topics/', async (t) => {
    const writes: [string, string][] = [
      ['POST', '/subjects/gw.widget.impression-value/versions'],
      ['POST', '/subjects/brand-new-value/versions'],
      ['DELETE', '/subjects/gw.widget.impression-value'],
      ['DELETE', '/subjects/gw.widget.impression-value/versions/1'],
      ['PUT', '/config'],
      ['PUT', '/config/gw.widget.impression-value'],
      ['PUT', '/mode'],
    ];
    for (const [method, path] of writes) {
      const answer = await call(method, path, { schema: v1, compatibility: 'NONE', mode: 'READWRITE' });
      t.equal(answer.status, 422, `${method} ${path}`);
      t.equal(answer.body.error_code, 42205);
      t.match(answer.body.message, /schemas are changed in topics\//);
    }
    t.same((await get('/subjects/gw.widget.impression-value/versions')).body, [1, 2], 'nothing changed');
  });

  t.test('bounds, over a real socket', async (t) => {
    const big = JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'Big', doc: 'x'.repeat(MAX_REGISTRY_BODY_BYTES), fields: [] }) });
    const tooBig = await call('POST', '/subjects/gw.widget.impression-value', big);
    t.equal(tooBig.status, 413);
    t.equal(tooBig.body.error_code, 413);

    // A declared length past the bound is refused before the body is read.
    const declared = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/subjects/gw.widget.impression-value`, { method: 'POST', headers: { 'content-type': CONTENT_TYPE, 'content-length': String(1024 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"schema":');
    });
    t.equal(declared, 413, 'a 1 GiB Content-Length is answered 413 at once');

    // Deep nesting, as deep as the bound allows: refused or looked up, never a crash or a 5xx.
    let deep = '"int"';
    for (let i = 0; i < 1800; i++) deep = `{"type":"array","items":${deep}}`;
    const brackets = '['.repeat(60_000) + ']'.repeat(60_000);
    for (const schema of [deep, brackets.slice(0, 30_000) + brackets.slice(-30_000)]) {
      const nested = await call('POST', '/subjects/gw.widget.impression-value', { schema });
      t.ok(nested.status < 500, `deep nesting answered ${nested.status}`);
      t.match(String(nested.body.error_code), /^(42201|40403)$/);
    }

    // As many record types as the bound allows (each one compiled by avsc): answered quickly.
    const field = (i: number) => ({ name: `f${i}`, type: { type: 'record', name: `R${i}`, fields: [{ name: 'a', type: 'int' }] } });
    const count = Math.floor((MAX_REGISTRY_BODY_BYTES - 1000) / (JSON.stringify(JSON.stringify(field(99999))).length + 1));
    const manyTypes = JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'Impression', namespace: 'widget', fields: Array.from({ length: count }, (_, i) => field(i)) }) });
    t.ok(manyTypes.length <= MAX_REGISTRY_BODY_BYTES, `${count} record types in ${manyTypes.length} bytes`);
    const started = Date.now();
    const many = await call('POST', '/compatibility/subjects/gw.widget.impression-value/versions/latest', manyTypes);
    t.ok(many.status < 500, `answered ${many.status}`);
    t.ok(Date.now() - started < 3000, `in ${Date.now() - started} ms`);
    t.equal((await get('/subjects')).status, 200, 'still answering');
  });

  t.test('the registry API is counted like every admin route', async (t) => {
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    t.match(metrics, /tracking_gateway_http_requests_total\{route="\/schema-registry\/subjects\/:subject\/versions\/:version",method="GET",status_code="200"\} 4/);
  });
});

t.test('with an external registry configured, the admin port does not serve one of its own', async (t) => {
  const { gateway, dataDir } = testGateway({ schemaRegistry: { url: 'http://127.0.0.1:1' } });
  t.teardown(async () => {
    await gateway.close();
    removeDir(dataDir);
  });
  const { adminPort } = await gateway.start();
  const answer = await fetch(`http://127.0.0.1:${adminPort}/schema-registry/subjects`);
  t.equal(answer.status, 404);
  await answer.text();
});

t.test('with workers, the primary serves the registry API from the same topics/', async (t) => {
  const served = await startServe({ GATEWAY_WORKERS: '2', GATEWAY_DATA_DIR: tempDir() });
  t.teardown(() => served.stop());
  const answer = await fetch(`${served.admin}/schema-registry/subjects/widget.impression-value/versions/latest`);
  t.equal(answer.status, 200);
  t.match(await answer.json(), { subject: 'widget.impression-value', version: 2, id: 2 });
});
