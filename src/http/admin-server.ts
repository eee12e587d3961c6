import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/config';
import type { GatewayMetrics } from '../metrics/metrics';
import { installErrorHandling } from './error-handler';
import { installInspectorRoutes, type InspectorBackend } from './inspector-routes';
import { clientErrorHandler, createLimitedServer } from './http-server';
import type { SchemaSubjects } from '../schema-registry/schema-subjects';
import { installRequestMetrics } from './request-metrics';
import { SCHEMA_REGISTRY_PREFIX, schemaRegistryRoutes } from './routes/schema-registry';

export interface Readiness {
  ready: boolean;
  reason?: string;
  /** Destinations that refuse for a configuration reason (a missing topic or stream, no permission), ready or not. */
  misconfigured?: { destination: string; reason: string; message: string }[];
}

/**
 * The admin port, never public: Prometheus metrics, the Kubernetes probes, when `inspector`
 * is given (inspector.enabled) the inspector at /inspect, and given `schemaSubjects` the
 * read-only Schema Registry API. `render` is the exposition /metrics answers: this process's
 * metrics, or (the cluster's primary) every worker's aggregated.
 */
export function buildAdminServer(
  config: Readonly<GatewayConfig>,
  metrics: GatewayMetrics,
  log: FastifyBaseLogger,
  readiness: () => Readiness | Promise<Readiness>,
  render: () => Promise<string> = () => metrics.render(),
  inspector?: InspectorBackend,
  schemaSubjects?: SchemaSubjects,
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
    const { ready, reason, misconfigured } = await readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', reason, misconfigured });
  });
  if (inspector) installInspectorRoutes(app, inspector);
  if (schemaSubjects) void app.register(schemaRegistryRoutes(schemaSubjects), { prefix: SCHEMA_REGISTRY_PREFIX });
  return app;
}
