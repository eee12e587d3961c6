import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../metrics/metrics';

/** Counts every answered request by route pattern (bounded), method and status. */
export function installRequestMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  // Histogram children cached by route: resolving labels costs more than the observation,
  // and this runs on every request. (The counter caches and sums its own children.)
  const durations = new Map<string, { observe: (v: number) => void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.labels(route, request.method, String(reply.statusCode)).inc();
    let duration = durations.get(route);
    if (!duration) durations.set(route, (duration = metrics.httpRequestDuration.labels(route)));
    duration.observe(reply.elapsedTime / 1000);
    done();
  });
}
