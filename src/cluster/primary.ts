import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { AggregatorRegistry, Counter, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { GatewayConfig } from '../config/config';
import { destinationOptionsSchema, destinationRegistry } from '../destinations/registry';
import { buildAdminServer, type Readiness } from '../http/admin-server';
import { embeddedSchemaSubjects } from '../schema-registry/schema-subjects';
import { loadServedTopics } from '../segment/segment-topics';
import { GatewayMetrics, METRIC_PREFIX } from '../metrics/metrics';
import { deadLetterDir } from '../destinations/create-destination';
import { DeadLetterStore } from '../destinations/dead-letter/dead-letter-store';
import type { InspectorBackend } from '../http/inspector-routes';
import { EventStream } from '../inspect/event-stream';
import { mergeStates, type InspectorState } from '../inspect/inspector-state';
import { mergeRedriveAnswers, relayWorkerEvents, tellWorkersWatching, type RedriveAnswer } from './worker-inspector';
import { askWorkers } from './worker-requests';
import { WORKER_ID_ENV, WORKER_READY } from './worker';

// The cluster's primary: forks `workers` gateway processes that share the public port
// (node:cluster hands each accepted connection to the next worker in turn), restarts one
// that dies, serves the admin port with every worker's metrics aggregated, and on SIGTERM
// drains them all. It handles no request itself. The inspector's page is served here too: the
// workers' live views come over IPC (worker-inspector.ts), their state and re-drives by asking.

/** A scrape or probe waits this long for the workers' answers; a hung worker is left out. */
const ASK_TIMEOUT_MS = 2_000;
/** A worker that dies sooner than this after its start is restarted after RESTART_DELAY_MS, so a crash loop does not spin. */
const EARLY_EXIT_MS = 5_000;
const RESTART_DELAY_MS = 1_000;
/** Beyond the workers' own grace period, for their exit to reach us before they are killed. */
const EXIT_MARGIN_MS = 5_000;
/** Beyond the ack timeout, for a re-drive's answer to come back from every worker. */
const REDRIVE_MARGIN_MS = 10_000;

export async function runPrimary(config: Readonly<GatewayConfig>, count: number): Promise<void> {
  const log = pino({ level: config.logLevel, base: { name: 'tracking-gateway', role: 'primary' } });
  const metrics = new GatewayMetrics();
  const running = new Gauge({ name: `${METRIC_PREFIX}workers`, help: 'Worker processes running (the setting `workers`, less those being restarted).', registers: [metrics.registry] });
  const restarts = new Counter({
    name: `${METRIC_PREFIX}worker_restarts_total`,
    help: 'Workers that exited unexpectedly (crashed or killed) and were started again.',
    registers: [metrics.registry],
  });

  const ids = new Map<Worker, { id: number; startedAt: number }>();
  const readyOnce = new Set<number>();
  const pendingRestarts = new Set<NodeJS.Timeout>();
  let stopping = false;

  const fork = (id: number) => {
    // glibc gives each thread that allocates (zlib inflates on libuv's pool) an arena of its
    // own, up to 8 per core, and keeps their freed pages; two arenas hand more back after a
    // burst of large bodies (docs/memory.md). Read once at process start, so set for workers.
    const worker = cluster.fork({ [WORKER_ID_ENV]: String(id), GATEWAY_WORKERS: String(count), MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' });
    ids.set(worker, { id, startedAt: Date.now() });
    running.set(ids.size);
    relayWorkerEvents(worker, (batch) => stream.publish(batch), () => stream.size > 0);
    worker.on('message', (message: { type?: string }) => {
      if (message?.type !== WORKER_READY) return;
      log.info({ worker: id, pid: worker.process.pid }, 'worker ready');
      readyOnce.add(id);
      if (readyOnce.size === count && !stopping) log.info({ port: config.server.port, adminPort, workers: count }, 'tracking-gateway ready');
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const entry = ids.get(worker);
    ids.delete(worker);
    running.set(ids.size);
    if (!entry || stopping) return;
    restarts.inc();
    const early = Date.now() - entry.startedAt < EARLY_EXIT_MS;
    log.error({ worker: entry.id, pid: worker.process.pid, code, signal, restartInMs: early ? RESTART_DELAY_MS : 0 }, 'worker exited unexpectedly; starting it again');
    const timer = setTimeout(() => {
      pendingRestarts.delete(timer);
      if (!stopping) fork(entry.id);
    }, early ? RESTART_DELAY_MS : 0);
    pendingRestarts.add(timer);
  });

  const readiness = async (): Promise<Readiness> => {
    if (stopping) return { ready: false, reason: 'closing' };
    const answers = (await askWorkers('readiness', ASK_TIMEOUT_MS)) as Readiness[];
    // The workers share one config: a destination misconfigured for one is for all; named once.
    const byName = new Map(answers.flatMap((a) => a.misconfigured ?? []).map((m) => [m.destination, m]));
    const misconfigured = byName.size > 0 ? [...byName.values()] : undefined;
    // Connections go only to workers that listen; one ready worker can take the traffic.
    if (answers.some((a) => a.ready)) return { ready: true, misconfigured };
    return { ready: false, reason: answers.length === 0 ? 'no worker is running' : answers.map((a) => a.reason).join('; '), misconfigured };
  };
  const render = async () => {
    const perWorker = (await askWorkers('metrics', ASK_TIMEOUT_MS)) as MetricObjectWithValues<MetricValue<string>>[][];
    const own = (await metrics.registry.getMetricsAsJSON()) ;
    return AggregatorRegistry.aggregate([own, ...perWorker]).metrics();
  };
  const stream = new EventStream({ maxSubscribers: config.inspector.maxSubscribers, queueBytes: config.inspector.subscriberQueueBytes }, tellWorkersWatching, metrics.inspectorDroppedSubscribers);
  // Every worker's dead letter lies under the cluster's folder (worker-config.ts); reading needs no worker.
  const deadLetters = new DeadLetterStore(deadLetterDir(config));
  const inspector: InspectorBackend = {
    stream,
    state: async () => mergeStates((await askWorkers('inspector-state', ASK_TIMEOUT_MS)) as InspectorState[]),
    deadLetters: (filter) => deadLetters.list(filter),
    redrive: async (filter, dryRun) => mergeRedriveAnswers((await askWorkers('dead-letter-redrive', config.server.ackTimeoutMs + REDRIVE_MARGIN_MS, { filter, dryRun })) as RedriveAnswer[]),
  };
  // The workers write ids from the same topics/, so the primary serves the registry API for them.
  const subjects = embeddedSchemaSubjects(loadServedTopics(config, destinationOptionsSchema(destinationRegistry)), config);
  const admin = buildAdminServer(config, metrics, log, readiness, render, config.inspector.enabled ? inspector : undefined, subjects);
  await admin.listen({ host: config.server.adminHost, port: config.server.adminPort });
  const adminPort = (admin.server.address() as AddressInfo).port;

  log.info({ workers: count }, 'starting workers');
  for (let id = 1; id <= count; id++) fork(id);

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: ids.size }, 'shutting down: draining every worker');
    for (const timer of pendingRestarts) clearTimeout(timer);
    const exits = [...ids.keys()].map(
      (worker) => new Promise<number | null>((resolve) => (worker.isDead() ? resolve(worker.process.exitCode) : worker.once('exit', (code) => resolve(code)))),
    );
    for (const worker of ids.keys()) worker.process.kill('SIGTERM');
    const deadline = setTimeout(() => {
      log.error({ graceMs: config.shutdown.graceMs }, 'workers did not exit within the grace period; killing them');
      for (const worker of ids.keys()) worker.process.kill('SIGKILL');
    }, config.shutdown.graceMs + EXIT_MARGIN_MS);
    void Promise.all(exits).then(async (codes) => {
      clearTimeout(deadline);
      await admin.close();
      const clean = codes.every((code) => code === 0);
      if (clean) log.info('every worker shut down cleanly');
      else log.error({ codes }, 'a worker did not shut down cleanly');
      process.exit(clean ? 0 : 1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Key rotation: every worker re-reads the keys file.
  process.on('SIGHUP', () => {
    for (const worker of ids.keys()) worker.process.kill('SIGHUP');
  });
}
