import type { FastifyInstance } from 'fastify';
import type { Ingest } from '../../ingest/ingest';
import { GatewayError } from '../../errors';
import type { TopicRegistry } from '../../topics/registry';
import { decodeEventsBody, mediaTypeOf } from '../body-decoding';
import { tallyOf } from '../request-context';
import { lookupTopic, lookupVersion, type TopicParams } from '../topic-lookup';

// Backend services: a 2xx means every accepted event is durable at its destination.

export function eventsRoutes(app: FastifyInstance, registry: TopicRegistry, ingest: Ingest, ackTimeoutMs: number): void {
  app.post<{ Params: TopicParams; Body: Buffer; Querystring: { partial?: string } }>('/v1/events/:service/:topic', async (request, reply) => {
    const tally = tallyOf(request);
    const topic = (tally.topic = lookupTopic(registry, request.params));
    const version = lookupVersion(topic, request);
    tally.version = version.version;
    const body = request.body ?? Buffer.alloc(0);
    const decoded = await decodeEventsBody(mediaTypeOf(request.headers['content-type']), body, version);
    tally.events = decoded.events.length;
    const result = ingest.accept({
      topic,
      version,
      events: decoded.events,
      prevalidated: decoded.prevalidated,
      bodyBytes: body.length,
      mode: 'service',
      partial: request.query.partial === 'true' || request.query.partial === '1',
      source: `/v1/events/${topic.service}/${topic.name}`,
      clientIp: request.ip,
      userAgent: request.headers['user-agent'],
    });
    if (result.durable && !(await withTimeout(result.durable, ackTimeoutMs))) {
      throw new GatewayError(
        'DELIVERY_FAILED',
        `the events were accepted but not confirmed durable within ${ackTimeoutMs} ms; they stay queued and may still be delivered — retry with the same $id values to deduplicate`,
        { retryAfterSeconds: 1 },
      );
    }
    return reply.code(200).send({ accepted: result.accepted, rejected: new Set(result.errors.map((e) => e.index)).size, errors: result.errors });
  });
}

/** True when `promise` resolved true within `ms`. */
async function withTimeout(promise: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
