import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/config';
import type { GatewayMetrics } from '../metrics/metrics';
import { installErrorHandling } from './error-handler';
import { clientErrorHandler, createLimitedServer } from './http-server';
import { installRequestMetrics } from './request-metrics';

export interface Readiness {
  ready: boolean;
  reason?: string;
}

/**
 * The admin port, never public: Prometheus metrics and the Kubernetes probes. `render` is
 * the exposition /metrics answers: this process's metrics, or (the cluster's primary) every
 * worker's aggregated.
 */
export function buildAdminServer(
  config: Readonly<GatewayConfig>,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
  readiness: () => Readiness | Promise<Readiness>,
  render: () => Promise<string> = () => metrics.render(),
): FastifyInstance {
  const app = Fastify({
    serverFactory: (handler) => createLimitedServer(config.server, metrics, handler),
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
    return render();
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, reason } = await readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', reason });
  });
  return app;
}
