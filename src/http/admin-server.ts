import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/config';
import type { GatewayMetrics } from '../metrics/metrics';
import { installErrorHandling } from './error-handler';
import { clientErrorHandler, createLimitedServer } from './http-server';
import { installRequestMetrics } from './request-metrics';

/** The admin port, never public: Prometheus metrics and the Kubernetes probes. */
export function buildAdminServer(
  config: Readonly<GatewayConfig>,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
  readiness: () => { ready: boolean; reason?: string },
): FastifyInstance {
  const app = Fastify({
    serverFactory: (handler) => createLimitedServer(config.server, handler),
    clientErrorHandler: clientErrorHandler(metrics),
    logger: false,
    // Scrapers and probes keep connections alive; shutdown must not wait for them.
    forceCloseConnections: true,
    exposeHeadRoutes: false,
  });
  installRequestMetrics(app, metrics);
  installErrorHandling(app, { metrics, log, maxUrlBytes: config.server.maxUrlBytes });
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.render();
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, reason } = readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', reason });
  });
  return app;
}
