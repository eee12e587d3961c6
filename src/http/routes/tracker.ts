import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { GatewayError } from '../../errors';

// The browser tracker (clients/browser/), as `npm run build` wrote it: read and gzipped once
// at start, answered from memory. Its URL stays the same across versions, so it is cached
// for an hour and then revalidated by ETag (a 304 costs a few bytes): an upgrade reaches every
// page within the hour. Pages load it cross-origin with `integrity=`, which needs CORS.

/** Where the build writes the IIFE: dist/clients/browser/tracker.js. */
export const TRACKER_FILE = join(__dirname, '..', '..', '..', 'clients', 'browser', 'tracker.js');

export const TRACKER_CACHE_CONTROL = 'public, max-age=3600';

/** A client that lists gzip, unless as `gzip;q=0` (RFC 9110 §12.5.3: not acceptable). */
const ACCEPTS_GZIP = /(?:^|,)\s*gzip\s*(?:$|,|;(?!\s*q=0(?:\.0*)?\s*(?:$|,)))/i;

export function trackerRoutes(app: FastifyInstance, routes: string[], log: FastifyBaseLogger, file = TRACKER_FILE): void {
  let script: Buffer | undefined;
  try {
    script = readFileSync(file);
  } catch (err) {
    log.warn({ file, err: (err as Error).message }, 'the browser tracker is not built (npm run build); its routes answer 404');
  }
  const gzipped = script && gzipSync(script, { level: 9 });
  const etag = script && `"${createHash('sha256').update(script).digest('base64url').slice(0, 22)}"`;
  const headers = {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': TRACKER_CACHE_CONTROL,
    etag,
    vary: 'accept-encoding',
    'access-control-allow-origin': '*',
    'cross-origin-resource-policy': 'cross-origin',
    'x-content-type-options': 'nosniff',
  };

  for (const route of routes) {
    app.get(route, (request, reply) => {
      if (!script || !gzipped) throw new GatewayError('NOT_FOUND', 'the browser tracker is not built on this gateway (npm run build writes it)');
      reply.headers(headers);
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return reply.code(304).send();
      if (ACCEPTS_GZIP.test(request.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(gzipped);
      return reply.send(script);
    });
  }
}
