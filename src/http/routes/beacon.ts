import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ingest, IngestRequest } from '../../ingest/ingest';
import type { Topic, TopicRegistry, TopicVersion } from '../../topics/registry';
import { coerceParams, decodeBeaconBody, mediaTypeOf, type DecodeLimits } from '../body-decoding';
import { answerPreflight, checkBeaconAccess } from '../cors';
import type { PublicPaths } from '../paths';
import { PIXEL_CACHE_CONTROL, TRANSPARENT_GIF } from '../pixel';
import { readQuery, type Query } from '../query';
import { tallyOf } from '../request-context';
import { lookupTopic, lookupVersion, type TopicParams } from '../topic-lookup';

// Browser beacons: answered at once, whatever happens downstream. Invalid events are
// dead-lettered with the reason rather than answered with an error the page never reads.
// The same handlers answer the beacon path and its alias (server.paths): one endpoint under
// two names, whose CloudEvents `source` is the beacon path either way.

export function beaconRoutes(app: FastifyInstance, registry: TopicRegistry, ingest: Ingest, limits: DecodeLimits, paths: PublicPaths): void {
  for (const route of paths.beaconRoutes) beaconRoute(route);

  function beaconRoute(route: string): void {
    app.get<{ Params: TopicParams }>(route, (request, reply) => {
      const query = readQuery(request.url);
      const { topic, version } = resolve(request, query, reply);
      const event = coerceParams(query, version);
      ingest.accept(beaconRequest(request, topic, version, [event], request.url.length));
      reply.header('cache-control', PIXEL_CACHE_CONTROL);
      if (query.$status === '204') return reply.code(204).send();
      return reply.type('image/gif').send(TRANSPARENT_GIF);
    });

    app.post<{ Params: TopicParams; Body: Buffer }>(route, async (request, reply) => {
      const { topic, version } = resolve(request, readQuery(request.url), reply);
      const decoded = decodeBeaconBody(mediaTypeOf(request.headers['content-type']), request.body ?? Buffer.alloc(0), version, limits);
      await ingest.acceptBatch(beaconRequest(request, topic, version, decoded.events, request.body?.length ?? 0));
      return reply.code(204).header('cache-control', 'no-store').send();
    });

    app.options<{ Params: TopicParams }>(route, (request, reply) => {
      answerPreflight(lookupTopic(registry, request.params), request, reply);
    });
  }

  /** Beacons are accepted whatever their validity: invalid ones go to the dead letter. */
  function beaconRequest(request: FastifyRequest, topic: Topic, version: TopicVersion, events: unknown[], bodyBytes: number): IngestRequest {
    tallyOf(request).events = events.length;
    return {
      topic,
      version,
      events,
      prevalidated: false,
      bodyBytes,
      mode: 'beacon',
      partial: true,
      source: paths.beaconPath(topic),
      clientIp: request.ip,
      userAgent: request.headers['user-agent'],
    };
  }

  function resolve(request: FastifyRequest<{ Params: TopicParams }>, query: Query, reply: FastifyReply) {
    const tally = tallyOf(request);
    const topic = (tally.topic = lookupTopic(registry, request.params));
    checkBeaconAccess(topic, request, query, reply);
    const version = lookupVersion(topic, query, request);
    tally.version = version.version;
    return { topic, version };
  }
}
