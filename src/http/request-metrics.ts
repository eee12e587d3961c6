import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../metrics/metrics';

/** Counts every answered request by route pattern (bounded), method and status. */
export function installRequestMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  // Label children cached by route, method and status: resolving labels costs more than the
  // increment, and this runs on every request.
  const counters = new Map<string, Map<number, { inc: () => void }>>();
  const durations = new Map<string, { observe: (v: number) => void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const routeMethod = `${request.method} ${route}`;
    let byStatus = counters.get(routeMethod);
    if (!byStatus) counters.set(routeMethod, (byStatus = new Map()));
    let counter = byStatus.get(reply.statusCode);
    if (!counter) byStatus.set(reply.statusCode, (counter = metrics.httpRequests.labels(route, request.method, String(reply.statusCode))));
    counter.inc();
    let duration = durations.get(route);
    if (!duration) durations.set(route, (duration = metrics.httpRequestDuration.labels(route)));
    duration.observe(reply.elapsedTime / 1000);
    done();
  });
}
