import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyRing } from '../../auth/service-keys';
import type { Ingest } from '../../ingest/ingest';
import { durableWithin } from '../../route/ack';
import { GatewayError } from '../../errors';
import type { TopicRegistry } from '../../topics/registry';
import { decodeEventsBody, mediaTypeOf, type DecodeLimits } from '../body-decoding';
import type { PublicPaths } from '../paths';
import { clip, readQuery } from '../query';
import type { RateLimits } from '../rate-limits';
import { tallyOf } from '../request-context';
import { lookupTopic, lookupVersion, type TopicParams } from '../topic-lookup';

// Backend services: a 2xx means every accepted event is durable at its destination.

export interface EventsRouteParts {
  registry: TopicRegistry;
  ingest: Ingest;
  limits: DecodeLimits;
  ackTimeoutMs: number;
  /** Retry-After of a 503 (server.retryAfterSeconds). */
  retryAfterSeconds: number;
  keys: KeyRing;
  rateLimits: RateLimits;
  paths: PublicPaths;
}

/** Media types a browser may send cross-site without a CORS preflight. */
const BROWSER_SIMPLE_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

export function eventsRoutes(app: FastifyInstance, parts: EventsRouteParts): void {
  const { registry, ingest, limits, ackTimeoutMs, retryAfterSeconds, keys, rateLimits, paths } = parts;
  // The key is checked before the body is read: an unknown caller costs no decoding.
  const authenticate = (request: FastifyRequest<{ Params: TopicParams }>, _reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      // Node keeps the first of two Authorization headers; a proxy in front may keep the
      // other. Which key the request carries must not depend on who reads it.
      // (`inject` makes requests without headersDistinct: they cannot repeat a header.)
      const distinct: NodeJS.Dict<string[]> | undefined = request.raw.headersDistinct;
      const presented = distinct?.authorization?.length ?? 0;
      if (presented > 1) throw new GatewayError('BAD_REQUEST', `the request carries ${presented} Authorization headers; send one`);
      const key = keys.authenticate(request.headers.authorization);
      keys.authorize(key, request.params.service, request.params.topic);
      rateLimits.checkKey(key);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };

  app.post<{ Params: TopicParams; Body: Buffer }>(paths.eventsRoute, { onRequest: authenticate }, async (request, reply) => {
    const tally = tallyOf(request);
    const topic = (tally.topic = lookupTopic(registry, request.params));
    const query = readQuery(request.url);
    const version = lookupVersion(topic, query, request);
    tally.version = version.version;
    const mediaType = mediaTypeOf(request.headers['content-type']);
    if (BROWSER_SIMPLE_TYPES.has(mediaType) && topic.config.access !== 'public') {
      // Any web page can make its visitors' browsers POST these, with no preflight.
      throw new GatewayError(
        'UNSUPPORTED_CONTENT_TYPE',
        `${mediaType} is what any web page can send cross-site; service-only topic ${topic.service}/${topic.name} takes application/json, NDJSON or Avro`,
      );
    }
    const body = request.body ?? Buffer.alloc(0);
    const decoded = await decodeEventsBody(mediaType, body, version, limits);
    tally.events = decoded.events.length;
    const result = await ingest.acceptBatch({
      topic,
      version,
      events: decoded.events,
      prevalidated: decoded.prevalidated,
      datums: decoded.datums,
      bodyBytes: body.length,
      mode: 'service',
      partial: partialFlag(query.partial),
      source: paths.eventsPath(topic),
      clientIp: request.ip,
      userAgent: request.headers['user-agent'],
    });
    if (result.durable && !(await durableWithin(result.durable, ackTimeoutMs))) {
      throw new GatewayError(
        'DELIVERY_FAILED',
        `the events were accepted but not confirmed durable within ${ackTimeoutMs} ms; they stay queued and may still be delivered — retry with the same $id values to deduplicate`,
        { retryAfterSeconds },
      );
    }
    return reply.code(200).send({ accepted: result.accepted, rejected: result.rejected, errors: result.errors, moreErrors: result.moreErrors || undefined });
  });
}

/**
 * `?partial=`: `true` or `1`, `false` or `0`, as written. Anything else (`TRUE`, `yes`, an
 * empty value) is refused rather than read as false: the client asked for something.
 */
function partialFlag(value: string | undefined): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new GatewayError('BAD_PARAMETER', `parameter "partial" is "${clip(value, 16)}"; send partial=true or partial=false (or 1 / 0)`);
}
