import { createServer } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/config';
import type { Ingest } from '../ingest/ingest';
import type { GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';
import { installErrorHandling } from './error-handler';
import { PixelFastPath } from './pixel-fast-path';
import { installRequestMetrics } from './request-metrics';
import { beaconRoutes } from './routes/beacon';
import { eventsRoutes } from './routes/events';
import { topicsRoutes } from './routes/topics';

export interface PublicServerParts {
  config: Readonly<GatewayConfig>;
  registry: TopicRegistry;
  ingest: Ingest;
  metrics: GatewayMetrics;
  log: FastifyBaseLogger;
}

/** The public API: beacons, service events, topic discovery. */
export function buildPublicServer(parts: PublicServerParts): FastifyInstance {
  const { config, registry, ingest, metrics } = parts;
  const pixel = new PixelFastPath(config, registry, ingest, metrics, parts.log);
  const app = Fastify({
    // Plain pixel GETs are answered before Fastify routes them (pixel-fast-path.ts says why).
    serverFactory: (handler, factoryOptions) => {
      const options = factoryOptions as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
      const server = createServer((request, response) => pixel.answer(request, response) || handler(request, response));
      // What Fastify does to the server it makes itself, which a factory replaces.
      server.keepAliveTimeout = options.keepAliveTimeout ?? 72_000;
      server.requestTimeout = options.requestTimeout ?? 0;
      server.setTimeout(options.connectionTimeout ?? 0);
      return server;
    },
    // No request logger: fastify would make a child logger per request, which costs more
    // than the beacon itself. Metrics count requests; errors go to the gateway's log.
    logger: false,
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    // Keep-alive clients must not hold shutdown open.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // A HEAD of the pixel (link checkers, prefetchers) must not record an impression.
    exposeHeadRoutes: false,
  });
  app.decorateRequest('tally', null);
  // Every body is read as bytes and decoded per endpoint and content type (body-decoding.ts),
  // so that each error is ours and named.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('preClose', (done) => {
    pixel.close();
    done();
  });
  installRequestMetrics(app, metrics);
  installErrorHandling(app, registry, metrics, parts.log);
  beaconRoutes(app, registry, ingest);
  eventsRoutes(app, registry, ingest, config.server.ackTimeoutMs);
  topicsRoutes(app, registry);
  return app;
}
