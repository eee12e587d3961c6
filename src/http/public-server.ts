import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config/config';
import type { Ingest } from '../ingest/ingest';
import type { GatewayMetrics } from '../metrics/metrics';
import type { KeyRing } from '../auth/service-keys';
import type { TopicRegistry } from '../topics/registry';
import { decodeContentEncoding, type DecodedLimit } from './content-encoding';
import { DecodeBudget, type Reservation } from './decode-budget';
import { IdleCollection } from './idle-collection';
import { frameworkErrorHandler, installErrorHandling } from './error-handler';
import { clientErrorHandler, createLimitedServer, sendContinue } from './http-server';
import { beaconOperations } from './openapi/beacon-operations';
import { openApiOperations, topicsOperations, trackerOperations } from './openapi/discovery-operations';
import { eventsOperations } from './openapi/events-operations';
import { segmentOperations } from './openapi/segment-operations';
import { publicPaths } from './paths';
import { PixelFastPath } from './pixel-fast-path';
import { RateLimits } from './rate-limits';
import { installRequestMetrics } from './request-metrics';
import { beaconRoutes } from './routes/beacon';
import { eventsRoutes } from './routes/events';
import { openApiRoute } from './routes/openapi';
import { segmentRoutes } from './routes/segment';
import { topicsRoutes } from './routes/topics';
import { trackerRoutes } from './routes/tracker';
import type { TopicParams } from './topic-lookup';

export interface PublicServerParts {
  config: Readonly<GatewayConfig>;
  registry: TopicRegistry;
  ingest: Ingest;
  metrics: GatewayMetrics;
  keys: KeyRing;
  log: FastifyBaseLogger;
}

/** The public API: beacons, service events, topic discovery, the browser tracker. */
export function buildPublicServer(parts: PublicServerParts): FastifyInstance {
  const { config, registry, ingest, metrics } = parts;
  const paths = publicPaths(config.server.paths);
  const rateLimits = new RateLimits(config.rateLimit, metrics);
  const pixel = new PixelFastPath(config, registry, ingest, metrics, rateLimits, parts.log, paths);
  const limits = { maxEvents: config.server.maxEventsPerRequest, maxDecodedBytes: config.server.maxDecodedBytes };
  const collection = new IdleCollection();
  const decodeBudget = new DecodeBudget(
    { ...config.server, budgetBytes: config.server.decodeBudgetBytes, waitMs: config.server.decodeWaitMs },
    { released: (bytes) => collection.decoded(bytes), idle: () => collection.idle(), active: () => collection.active() },
  );
  /** Each admitted request's share of the decode budget, until its answer is sent. */
  const reservations = new WeakMap<IncomingMessage, Reservation>();
  metrics.decodeBudgetBytes.sample = () => decodeBudget.reserved;
  metrics.decodeBudgetLimitBytes.set(config.server.decodeBudgetBytes);
  metrics.idleCollections.sample = () => collection.runs;
  const app = Fastify({
    // Plain pixel GETs are answered before Fastify routes them (pixel-fast-path.ts says why).
    serverFactory: (handler) => createLimitedServer(config.server, metrics, (request, response) => pixel.answer(request, response) || handler(request, response)),
    clientErrorHandler: clientErrorHandler(metrics),
    // No request logger: fastify would make a child logger per request, which costs more
    // than the beacon itself. Metrics count requests; errors go to the gateway's log.
    logger: false,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    // Keep-alive clients must not hold shutdown open.
    forceCloseConnections: 'idle',
    // Requests that arrive while closing get SHUTTING_DOWN from the error handler, in the
    // documented shape, rather than Fastify's own 503 body.
    return503OnClosing: false,
    // A path Fastify's router cannot decode (`%zz`) is answered in our shape too, not echoed.
    frameworkErrors: frameworkErrorHandler(metrics),
    // A HEAD of the pixel (link checkers, prefetchers) must not record an impression.
    exposeHeadRoutes: false,
  });
  app.decorateRequest('tally', null);
  // Every body is read as bytes and decoded per endpoint and content type (body-decoding.ts),
  // so that each error is ours and named.
  app.removeAllContentTypeParsers();
  // Content-Encoding is undone here, bounded by server.maxDecodedBytes (content-encoding.ts),
  // or by a route's own smaller bound (`config.decodedLimit`: the Segment routes'); then the
  // request's share of the decode budget shrinks to what it holds.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, async (request: FastifyRequest, body: Buffer) => {
    const own = (request.routeOptions.config as { decodedLimit?: DecodedLimit }).decodedLimit;
    const decoded = await decodeContentEncoding(request.headers['content-encoding'], body, own?.bytes ?? limits.maxDecodedBytes, own?.key);
    reservations.get(request.raw)?.shrinkTo(body.length + decoded.length + decodeBudget.blockBytes(request.headers));
    return decoded;
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    pixel.close();
    collection.close();
    done();
  });
  installRequestMetrics(app, metrics);
  // The body is about to be read: first its room in the decode budget (decode-budget.ts),
  // then a client that sent `Expect: 100-continue` may send it.
  app.addHook('preParsing', async (request, reply, payload) => {
    const weight = decodeBudget.weightOf(request.headers);
    if (weight > 0) {
      let gone = false;
      reply.raw.once('close', () => {
        gone = true;
        reservations.get(request.raw)?.release();
      });
      let reservation: Reservation;
      try {
        reservation = await decodeBudget.reserve(weight);
      } catch (err) {
        metrics.decodeBudgetRefusals.inc();
        throw err;
      }
      // A client that left while it waited frees its room at once.
      if (gone) reservation.release();
      else reservations.set(request.raw, reservation);
    }
    sendContinue(request.raw, reply.raw, request.routeOptions.bodyLimit);
    return payload;
  });
  installErrorHandling(app, { metrics, log: parts.log, maxUrlBytes: config.server.maxUrlBytes, registry, isClosing: () => closing, retryAfterSeconds: config.server.retryAfterSeconds });
  // Every request, by client address; the pixel fast path calls the same check.
  app.addHook('onRequest', (request, _reply, done) => {
    const params = request.params as Partial<TopicParams> | undefined;
    const topic = params?.service && params.topic ? registry.get(params.service, params.topic) : undefined;
    try {
      rateLimits.checkClient(request.ip, topic);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
  beaconRoutes(app, registry, ingest, limits, paths);
  eventsRoutes(app, { registry, ingest, limits, ackTimeoutMs: config.server.ackTimeoutMs, retryAfterSeconds: config.server.retryAfterSeconds, keys: parts.keys, rateLimits, paths });
  if (config.segment.enabled) segmentRoutes(app, { config, registry, ingest, metrics, keys: parts.keys, rateLimits, paths, prefix: config.server.paths.prefix });
  topicsRoutes(app, registry, paths);
  trackerRoutes(app, paths.trackerRoutes, parts.log);
  // Each route family above describes its operations; a new family adds its own here.
  const families = [beaconOperations, eventsOperations, segmentOperations(config.segment, config.server.paths.prefix), topicsOperations, trackerOperations, openApiOperations];
  openApiRoute(app, { registry, paths, server: config.server, families });
  return app;
}
