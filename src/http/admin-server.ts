import Fastify, { type FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../metrics/metrics';

/** The admin port, never public: Prometheus metrics and the Kubernetes probes. */
export function buildAdminServer(metrics: GatewayMetrics, readiness: () => { ready: boolean; reason?: string }): FastifyInstance {
  // Scrapers and probes keep connections alive; shutdown must not wait for them.
  const app = Fastify({ logger: false, forceCloseConnections: true });
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
