import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors';
import type { GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';
import type { TopicParams } from './topic-lookup';

// The one place where errors become HTTP answers: `{ error: { code, message, events? } }`
// with the status from the error table, and where refused events are counted.

/** Fastify's own errors that a client causes, mapped to our codes. */
function fromFastifyError(err: FastifyError): GatewayError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('BODY_TOO_LARGE', `body is larger than the gateway takes (${err.message})`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('MALFORMED_BODY', err.message);
    default:
      if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
        return new GatewayError('MALFORMED_BODY', err.message);
      }
      return new GatewayError('INTERNAL', 'internal error');
  }
}

/** The answer to an error: status, headers and the JSON body every refusal has. */
export function errorAnswer(error: GatewayError): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  return { status: error.status, headers, body: JSON.stringify({ error: { code: error.code, message: error.message, events: error.events } }) };
}

export function installErrorHandling(app: FastifyInstance, registry: TopicRegistry, metrics: GatewayMetrics, log: FastifyBaseLogger): void {
  app.setErrorHandler((err: FastifyError | GatewayError, request: FastifyRequest, reply: FastifyReply) => {
    const error = err instanceof GatewayError ? err : fromFastifyError(err);
    if (error.code === 'INTERNAL') log.error({ err, method: request.method, url: request.url }, 'unhandled error');
    countRefused(request, error, registry, metrics);
    const answer = errorAnswer(error);
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}` } });
  });
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
