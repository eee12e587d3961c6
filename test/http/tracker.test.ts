import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import pino from 'pino';
import t from 'tap';
import { installErrorHandling } from '../../src/http/error-handler';
import { TRACKER_FILE, trackerRoutes } from '../../src/http/routes/tracker';
import { GatewayMetrics } from '../../src/metrics/metrics';
import { injectableGateway } from '../helpers/gateway';

// GET /v1/tracker.js: the built IIFE, cached an hour and revalidated by ETag, gzipped for
// clients that take it, loadable cross-origin with integrity= (CORS).

t.test('the tracker is served with its caching, CORS and encoding headers, under its name and the alias', async (t) => {
  const { app } = injectableGateway(t);
  const built = readFileSync(TRACKER_FILE);

  const plain = await app.inject({ url: '/v1/tracker.js' });
  t.equal(plain.statusCode, 200);
  t.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
  t.equal(plain.headers['cache-control'], 'public, max-age=3600');
  t.equal(plain.headers['access-control-allow-origin'], '*', 'a page on any origin may load it with integrity=');
  t.equal(plain.headers['x-content-type-options'], 'nosniff');
  t.equal(plain.headers.vary, 'accept-encoding');
  t.equal(plain.headers['content-encoding'], undefined);
  t.ok(plain.rawPayload.equals(built), 'the bytes the build wrote');
  const etag = plain.headers.etag as string;
  t.match(etag, /^"[A-Za-z0-9_-]{22}"$/);

  const gzipped = await app.inject({ url: '/v1/tracker.js', headers: { 'accept-encoding': 'gzip, deflate, br' } });
  t.equal(gzipped.headers['content-encoding'], 'gzip');
  t.ok(gunzipSync(gzipped.rawPayload).equals(built), 'gzip of the same bytes');
  t.ok(gzipped.rawPayload.length <= 2048, `gzipped on the wire: ${gzipped.rawPayload.length} bytes, within the 2 KB budget`);
  t.equal((await app.inject({ url: '/v1/tracker.js', headers: { 'accept-encoding': 'br, gzip;q=0' } })).headers['content-encoding'], undefined, 'gzip;q=0 is refused gzip');

  const revalidated = await app.inject({ url: '/v1/tracker.js', headers: { 'if-none-match': `W/"x", ${etag}` } });
  t.equal(revalidated.statusCode, 304, 'a cached copy with the same ETag is still good');
  t.equal(revalidated.rawPayload.length, 0);
  t.equal(revalidated.headers.etag, etag);
  t.equal((await app.inject({ url: '/v1/tracker.js', headers: { 'if-none-match': '"other"' } })).statusCode, 200);

  const alias = await app.inject({ url: '/v1/in.js' });
  t.equal(alias.statusCode, 200);
  t.ok(alias.rawPayload.equals(built), 'the alias serves the same script');
  t.equal(alias.headers.etag, etag);
});

t.test('a gateway built without the tracker starts, says so once, and answers 404 in the documented shape', async (t) => {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  const app = Fastify();
  installErrorHandling(app, { metrics: new GatewayMetrics(), log, maxUrlBytes: 8192 });
  trackerRoutes(app, ['/v1/tracker.js'], log, join(tmpdir(), 'tg-no-tracker-here', 'tracker.js'));
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/v1/tracker.js' });
  t.equal(res.statusCode, 404);
  t.match(res.json(), { error: { code: 'NOT_FOUND', message: /not built.*npm run build/ } });
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]), { level: 40, msg: /browser tracker is not built/ });
});
