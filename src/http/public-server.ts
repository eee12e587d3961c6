import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/config';
import type { Ingest } from '../ingest/ingest';
import type { GatewayMetrics } from '../metrics/metrics';
import type { TopicRegistry } from '../topics/registry';
import { installErrorHandling } from './error-handler';
import { installRequestMetrics } from './request-metrics';
import { beaconRoutes } from './routes/beacon';
import { eventsRoutes } from './routes/events';
import { topicsRoutes } from './routes/topics';

export interface PublicServerParts {
  config: Readonly<GatewayConfig>;
  registry: TopicRegistry;
  ingest: Ingest;
  metrics: GatewayMetrics;
  /** True once shutdown began: answers then close their connection. */
  isClosing: () => boolean;
}

/** The public API: beacons, service events, topic discovery. */
export function buildPublicServer(parts: PublicServerParts): FastifyInstance {
  const { config, registry, ingest, metrics } = parts;
  const app = Fastify({
    logger: { level: config.logLevel },
    // Per-request log lines would cost more than the request; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    // Keep-alive clients must not hold shutdown open.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.decorateRequest('tally', null);
  // Every body is read as bytes and decoded per endpoint and content type (body-decoding.ts),
  // so that each error is ours and named.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // A keep-alive connection whose request was in flight at shutdown would otherwise hold
  // close() open until the client's idle timeout.
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (parts.isClosing()) reply.header('connection', 'close');
    done();
  });
  installRequestMetrics(app, metrics);
  installErrorHandling(app, registry, metrics);
  beaconRoutes(app, registry, ingest);
  eventsRoutes(app, registry, ingest, config.server.ackTimeoutMs);
  topicsRoutes(app, registry);
  return app;
}
