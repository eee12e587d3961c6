import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';
import { clip } from './query';
import type { TopicParams } from './topic-lookup';

// The one place where errors become HTTP answers: `{ error: { code, message, events?,
// moreErrors? } }` with the status from the error table, and where refused events are
// counted. Both ports use it, so a 404 or 405 looks the same on each.

/** Fastify's own errors that a client causes, mapped to our codes. */
export function fromFastifyError(err: FastifyError): GatewayError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('BODY_TOO_LARGE', `body is larger than the gateway takes (${err.message})`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('UNSUPPORTED_CONTENT_TYPE', err.message);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('MALFORMED_BODY', err.message);
    default:
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new GatewayError('BAD_REQUEST', err.message);
      }
      return new GatewayError('INTERNAL', 'internal error');
  }
}

/** The answer to an error: status, headers and the JSON body every refusal has. */
export function errorAnswer(error: GatewayError): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { ...error.headers, 'content-type': 'application/json; charset=utf-8' };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return {
    status: error.status,
    headers,
    body: JSON.stringify({ error: { code: error.code, message: error.message, events: error.events, moreErrors: error.moreErrors } }),
  };
}

export interface ErrorHandlingParts {
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
  maxUrlBytes: number;
  /** The public port's: refused events are counted by topic. */
  registry?: TopicRegistry;
  /** While true, every request is answered 503 SHUTTING_DOWN with `Connection: close`. */
  isClosing?: () => boolean;
  retryAfterSeconds?: number;
}

/** Installs URL-length checks, the error handler, and 404/405 answers. Call before adding routes. */
export function installErrorHandling(app: FastifyInstance, parts: ErrorHandlingParts): void {
  const { metrics, log, registry, maxUrlBytes, isClosing } = parts;
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => routes.add(route.url ?? route.path, route.method));

  app.addHook('onRequest', (request, _reply, done) => {
    if (isClosing?.()) {
      done(
        new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down; retry, another replica takes the request', {
          retryAfterSeconds: parts.retryAfterSeconds,
          headers: { connection: 'close' },
        }),
      );
      return;
    }
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      done(new GatewayError('BAD_REQUEST', 'an HTTP/1.1 request must carry a Host header'));
      return;
    }
    if (request.url.length > maxUrlBytes) {
      done(new GatewayError('URI_TOO_LONG', `the URL is ${request.url.length} bytes; the gateway takes at most ${maxUrlBytes} (server.maxUrlBytes)`));
      return;
    }
    done();
  });

  app.setErrorHandler((err: FastifyError | GatewayError, request: FastifyRequest, reply: FastifyReply) => {
    const error = err instanceof GatewayError ? err : fromFastifyError(err);
    if (error.code === 'INTERNAL') log.error({ err, method: request.method, url: clip(request.url, 200) }, 'unhandled error');
    if (registry) countRefused(request, error, registry, metrics);
    const answer = errorAnswer(error);
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  });

  app.setNotFoundHandler((request) => {
    const path = request.url.split('?')[0];
    const allowed = routes.methodsFor(path);
    if (allowed.length > 0) {
      throw new GatewayError('METHOD_NOT_ALLOWED', `${request.method} is not allowed here; use ${allowed.join(' or ')}`, { headers: { allow: allowed.join(', ') } });
    }
    throw new GatewayError('NOT_FOUND', `no route ${clip(request.method, 16)} ${clip(path, 100)}`);
  });
}

/**
 * Fastify's `frameworkErrors`: requests its router refuses before any route or hook runs (a
 * path segment that is not valid percent-encoding). Answered in our shape and counted, with
 * nothing of the path echoed.
 */
export function frameworkErrorHandler(metrics: GatewayMetrics) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const error = new GatewayError('BAD_REQUEST', err.code === 'FST_ERR_BAD_URL' ? 'the path is not valid percent-encoded UTF-8' : 'the path cannot be routed');
    metrics.httpRequests.labels('unmatched', request.method.length <= 16 ? request.method : 'unknown', String(error.status)).inc();
    const answer = errorAnswer(error);
    void reply.code(answer.status).headers(answer.headers).send(answer.body);
  };
}

/** Route patterns and their methods, to tell a wrong method (405) from a wrong path (404). */
export class RouteTable {
  private readonly patterns: { match: RegExp; methods: Set<string> }[] = [];

  add(url: string, method: string | string[]): void {
    const source = `^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}/?$`;
    let entry = this.patterns.find((p) => p.match.source === source);
    if (!entry) this.patterns.push((entry = { match: new RegExp(source), methods: new Set() }));
    for (const m of Array.isArray(method) ? method : [method]) if (m !== 'HEAD') entry.methods.add(m);
  }

  methodsFor(path: string): string[] {
    const methods = new Set<string>();
    for (const { match, methods: ms } of this.patterns) if (match.test(path)) for (const m of ms) methods.add(m);
    return [...methods].sort();
  }
}

function countRefused(request: FastifyRequest, error: GatewayError, registry: TopicRegistry, metrics: GatewayMetrics): void {
  if (error.counted) return;
  if (error.code === 'DELIVERY_FAILED') return; // accepted and counted; still queued for delivery
  const tally = request.tally ?? {};
  const params = (request.params ?? {}) as Partial<TopicParams>;
  // Labels only from the registry: an unknown name from the URL would make unbounded series.
  const topic = tally.topic ?? (params.service && params.topic ? registry.get(params.service, params.topic) : undefined);
  const service = topic?.service ?? '_unknown';
  const name = topic?.name ?? '_unknown';
  const count = tally.events ?? 1;
  metrics.events.labels(service, name, tally.version === undefined ? '' : String(tally.version), 'rejected').inc(count);
  metrics.eventsRejected.labels(service, name, error.reason).inc(count);
}
