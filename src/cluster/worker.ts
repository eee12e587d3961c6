import type { GatewayConfig } from '../config/config';
import { Gateway } from '../gateway';
import { runGateway } from '../lifecycle';
import { followPrimaryWatching, primarySink, workerRedrive, type RedriveRequest } from './worker-inspector';
import { answerPrimary } from './worker-requests';
import { workerConfig } from './worker-config';

// One worker of a cluster: a whole gateway (its own batchers, producers, files and spool)
// on the shared public port. The primary owns the admin port and asks the workers for their
// metrics and readiness; a worker whose primary is gone drains and exits rather than
// serving on unwatched.

/** The environment the primary gives each worker: its number (1-based), stable across restarts. */
export const WORKER_ID_ENV = 'GATEWAY_WORKER_ID';
/** Message a worker sends once it listens. */
export const WORKER_READY = 'tracking-gateway:worker-ready';

export async function serveWorker(config: Readonly<GatewayConfig>): Promise<void> {
  const id = Number(process.env[WORKER_ID_ENV]);
  const count = config.workers;
  if (!Number.isInteger(id) || id < 1 || typeof count !== 'number' || id > count) {
    throw new Error(`a worker needs ${WORKER_ID_ENV} between 1 and workers (${count}), not ${process.env[WORKER_ID_ENV]}`);
  }
  const gateway = new Gateway(workerConfig(config, id, count), undefined, { worker: id, admin: false, inspectorSink: primarySink() });
  followPrimaryWatching(gateway.tap);
  answerPrimary({
    metrics: () => gateway.metrics.registry.getMetricsAsJSON(),
    readiness: () => gateway.readiness(),
    'inspector-state': () => gateway.inspectorState(),
    'dead-letter-redrive': (arg) => workerRedrive(gateway, id, arg as RedriveRequest),
  });
  const stop = await runGateway(gateway, config);
  process.on('disconnect', () => stop('primary gone'));
  process.send?.({ type: WORKER_READY });
}
