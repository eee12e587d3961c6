import type { FastifyInstance } from 'fastify';
import type { Ingest } from '../../ingest/ingest';
import { GatewayError } from '../../errors';
import type { TopicRegistry } from '../../topics/registry';
import { decodeEventsBody, mediaTypeOf, type DecodeLimits } from '../body-decoding';
import type { PublicPaths } from '../paths';
import { readQuery } from '../query';
import { tallyOf } from '../request-context';
import { lookupTopic, lookupVersion, type TopicParams } from '../topic-lookup';

// Backend services: a 2xx means every accepted event is durable at its destination.

export function eventsRoutes(app: FastifyInstance, registry: TopicRegistry, ingest: Ingest, limits: DecodeLimits, ackTimeoutMs: number, paths: PublicPaths): void {
  app.post<{ Params: TopicParams; Body: Buffer }>(paths.eventsRoute, async (request, reply) => {
    const tally = tallyOf(request);
    const topic = (tally.topic = lookupTopic(registry, request.params));
    const query = readQuery(request.url);
    const version = lookupVersion(topic, query, request);
    tally.version = version.version;
    const body = request.body ?? Buffer.alloc(0);
    const decoded = await decodeEventsBody(mediaTypeOf(request.headers['content-type']), body, version, limits);
    tally.events = decoded.events.length;
    const result = await ingest.acceptBatch({
      topic,
      version,
      events: decoded.events,
      prevalidated: decoded.prevalidated,
      bodyBytes: body.length,
      mode: 'service',
      partial: query.partial === 'true' || query.partial === '1',
      source: paths.eventsPath(topic),
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
    return reply.code(200).send({ accepted: result.accepted, rejected: result.rejected, errors: result.errors, moreErrors: result.moreErrors || undefined });
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
