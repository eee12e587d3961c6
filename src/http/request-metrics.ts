import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../metrics/metrics';

/** Counts every answered request by route pattern (bounded), method and status. */
export function installRequestMetrics(app: FastifyInstance, metrics: GatewayMetrics): void {
  // Label children cached by key: resolving labels costs more than the increment.
  const counters = new Map<string, { inc: () => void }>();
  const durations = new Map<string, { observe: (v: number) => void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${route} ${request.method} ${reply.statusCode}`;
    let counter = counters.get(key);
    if (!counter) counters.set(key, (counter = metrics.httpRequests.labels(route, request.method, String(reply.statusCode))));
    counter.inc();
    let duration = durations.get(route);
    if (!duration) durations.set(route, (duration = metrics.httpRequestDuration.labels(route)));
    duration.observe(reply.elapsedTime / 1000);
    done();
  });
}
