import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import pino from 'pino';
import type { AddressInfo, Socket } from 'node:net';
import { KeyRing, keysFromConfig } from './auth/service-keys';
import { MemoryBudget } from './buffer/memory-budget';
import type { GatewayConfig } from './config/config';
import { createDestination, deadLetterDir, spoolDir } from './destinations/create-destination';
import { DeadLetter } from './destinations/dead-letter/dead-letter';
import { DeadLetterStore, type DeadLetterFilter, type DeadLetterListing } from './destinations/dead-letter/dead-letter-store';
import type { Destination } from './destinations/destination';
import { destinationOptionsSchema, destinationRegistry, type DestinationRegistry } from './destinations/registry';
import { Spool } from './destinations/spool/spool';
import { buildAdminServer, type Readiness } from './http/admin-server';
import { buildPublicServer } from './http/public-server';
import { GatewayError } from './errors';
import { redrive, type RedriveResult } from './ingest/dead-letter-redrive';
import { Ingest } from './ingest/ingest';
import { EventStream } from './inspect/event-stream';
import { EventTap, type TapBatch } from './inspect/event-tap';
import { DeliveryWindow, inspectorState, type InspectorState } from './inspect/inspector-state';
import { GatewayMetrics } from './metrics/metrics';
import { Router } from './route/router';
import { SpoolReplay } from './route/spool-replay';
import { schemaIdSourceFor, type SchemaIdSource } from './schema-registry/schema-id-source';
import { embeddedSchemaSubjects } from './schema-registry/schema-subjects';
import { loadServedTopics } from './segment/segment-topics';
import type { Topic, TopicRegistry } from './topics/registry';

export interface GatewayOptions {
  /** This process is worker N of a cluster (logged with every line). */
  worker?: number;
  /** Listen on the admin port; a cluster's workers leave it to the primary, which aggregates them. */
  admin?: boolean;
  /** The destination types the config names (tests add their own); default: the registry's. */
  destinationTypes?: DestinationRegistry;
  /** Where the inspector's views go instead of this process's own stream (a worker: to the primary). */
  inspectorSink?: (batch: TapBatch) => void;
}

/** How often the delivered totals are sampled for the inspector's last-minute shares. */
const DELIVERY_SAMPLE_MS = 10_000;

/**
 * The whole pipeline wired together: http → ingest (validation, envelope) → router
 * (batching, fallback chain) → destinations; plus the admin server. `start` listens,
 * `close` shuts down gracefully. One process; src/cluster runs several.
 */
export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly log: FastifyBaseLogger;
  readonly registry: TopicRegistry;
  readonly publicServer: FastifyInstance;
  readonly adminServer: FastifyInstance;
  private readonly destinations: Destination[];
  private readonly keys: KeyRing;
  private readonly deadLetter: DeadLetter;
  private readonly router: Router;
  private readonly spool: Spool | undefined;
  private readonly replay: SpoolReplay | undefined;
  private readonly ingest: Ingest;
  /** The inspector's tap (ingest asks it whether anyone watches) and, in one process, its stream. */
  readonly tap: EventTap;
  readonly eventStream: EventStream;
  readonly deadLetterStore: DeadLetterStore;
  private readonly deliveryWindow = new DeliveryWindow();
  private deliverySampler: NodeJS.Timeout | undefined;
  private redriving = false;
  /** Ids of confluent-avro values: topics/'s, or an external registry's (resolved at start). */
  private readonly schemaIds: SchemaIdSource;
  private state: 'created' | 'starting' | 'ready' | 'closing' | 'closed' = 'created';
  /** Open connections of the public port, so that shutdown can close the ones left idle. */
  private readonly connections = new Set<Socket>();

  /** @param destinations built from `config.destinations` unless given (tests pass doubles). */
  constructor(
    readonly config: Readonly<GatewayConfig>,
    destinations?: Destination[],
    private readonly options: GatewayOptions = {},
  ) {
    this.log = pino({ level: config.logLevel, base: { name: 'tracking-gateway', worker: options.worker } });
    const types = options.destinationTypes ?? destinationRegistry;
    this.registry = loadServedTopics(config, destinationOptionsSchema(types));
    this.destinations = destinations ?? Object.entries(config.destinations).map(([name, entry]) => createDestination(name, entry, config, this.metrics, this.log, types));
    this.deadLetter = new DeadLetter(deadLetterDir(config), config.deadLetter, this.metrics, this.log);
    const budget = new MemoryBudget(config.buffer.maxBytes, this.metrics);
    if (config.spool.enabled) this.spool = new Spool('spool', spoolDir(config), config.spool.maxBytes, config.spool.segmentBytes, this.metrics, this.log);
    this.router = new Router(this.destinations, this.spool, config, this.deadLetter, budget, this.metrics, this.log, types);
    if (this.spool) this.replay = new SpoolReplay(this.spool, this.registry, this.router, budget, this.deadLetter, this.metrics, this.log);
    // Resolve every topic's routes now, so that a route naming an unknown destination stops the start.
    for (const topic of this.registry.list()) this.router.routesFor(topic);
    this.eventStream = new EventStream(
      { maxSubscribers: config.inspector.maxSubscribers, queueBytes: config.inspector.subscriberQueueBytes },
      (watching) => this.tap.setWatching(watching),
      this.metrics.inspectorDroppedSubscribers,
    );
    this.tap = new EventTap(options.inspectorSink ?? ((batch) => this.eventStream.publish(batch)), options.worker);
    this.deadLetterStore = new DeadLetterStore(deadLetterDir(config));
    const ingest = (this.ingest = new Ingest(config, this.router, budget, this.deadLetter, this.spool, this.metrics, this.tap));
    this.keys = new KeyRing(keysFromConfig(config.auth.keys), config.auth.keysFile, this.log);
    this.metrics.serviceKeys.sample = () => this.keys.size;
    this.publicServer = buildPublicServer({ config, registry: this.registry, ingest, metrics: this.metrics, keys: this.keys, log: this.log });
    this.publicServer.server.on('connection', (socket: Socket) => {
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
    });
    const inspector = config.inspector.enabled
      ? { stream: this.eventStream, state: () => this.inspectorState(), deadLetters: (f: DeadLetterFilter) => this.deadLetters(f), redrive: (f: DeadLetterFilter, dry: boolean) => this.redrive(f, dry) }
      : undefined;
        this.schemaIds = schemaIdSourceFor(config);
    this.adminServer = buildAdminServer(config, this.metrics, this.log, () => this.readiness(), undefined, inspector, embeddedSchemaSubjects(this.registry, config));
    this.metrics.ready.sample = () => (this.readiness().ready ? 1 : 0);
  }

  /** Starts destinations and both servers; resolves with the ports actually bound (admin 0: not listening). */
  async start(): Promise<{ port: number; adminPort: number }> {
    this.state = 'starting';
    const { server } = this.config;
    const adminPort = this.options.admin === false ? 0 : await this.listen(this.adminServer, server.adminHost, server.adminPort);
    const log = this.log;
    // Torn tails a crash left are cut before anything is appended: the dead letter's first, as
    // its folder may lie inside a file destination's. Entries re-driven before are removed
    // first, while nothing appends (dead-letter-store.ts).
    await this.deadLetterStore.compact();
    await this.deadLetter.start();
    await this.spool?.start();
    await Promise.all(this.destinations.map((d) => d.start({ topics: this.topicsRoutedTo(d), log, schemaIds: this.schemaIds })));
    this.replay?.start();
    if (this.config.inspector.enabled) {
      // The first sample is the window's start: what each hop delivered since is its share.
      await this.inspectorState();
      this.deliverySampler = setInterval(() => void this.inspectorState(), DELIVERY_SAMPLE_MS).unref();
    }
    this.keys.watch(() => this.reloadKeys());
    const port = await this.listen(this.publicServer, server.host, server.port);
    this.state = 'ready';
    // A cluster's primary says `tracking-gateway ready` once all of its workers are.
    const ready = this.options.worker === undefined ? 'tracking-gateway ready' : 'worker ready';
    this.log.info({ port, adminPort, topics: this.registry.list().length, destinations: this.destinations.map((d) => `${d.name} (${d.type})`) }, ready);
    return { port, adminPort };
  }

  /**
   * Graceful shutdown: stop being ready, finish in-flight requests, flush every buffer to
   * its destination, close destinations. Idempotent.
   */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    clearInterval(this.deliverySampler);
    this.eventStream.close();
    this.keys.close();
    // A keep-alive connection whose request was in flight when close() began becomes idle
    // only after its answer; close those as they go idle rather than at the client's timeout.
    // Node's closeIdleConnections leaves connections that never sent a byte (a browser's
    // preconnect), which would hold close() open for the headers timeout; those go too.
    const closeIdle = setInterval(() => {
      this.publicServer.server.closeIdleConnections();
      for (const socket of this.connections) if (socket.bytesRead === 0) socket.destroy();
    }, 50);
    await this.publicServer.close();
    clearInterval(closeIdle);
    await this.replay?.stop();
    await this.router.drain();
    await Promise.all(this.destinations.map((d) => d.close()));
    await this.spool?.close();
    await this.deadLetter.close();
    await this.adminServer.close();
    this.state = 'closed';
  }

  /** Reads the keys file again (SIGHUP, or it changed): rotation without a restart. */
  reloadKeys(): boolean {
    const ok = this.keys.reload();
    this.metrics.serviceKeyReloads.labels(ok ? 'ok' : 'failed').inc();
    return ok;
  }

  /** What the inspector shows of this process: topics, routes, destinations, sizes. */
  inspectorState(): Promise<InspectorState> {
    return inspectorState(this.registry, this.router, this.metrics, this.deliveryWindow, this.options.worker);
  }

  deadLetters(filter: DeadLetterFilter): Promise<DeadLetterListing> {
    return this.deadLetterStore.list(filter);
  }

  /** Re-drives the dead letters that match (dry run: only validates), one re-drive at a time. */
  async redrive(filter: DeadLetterFilter, dryRun: boolean): Promise<RedriveResult[]> {
    if (this.state !== 'ready' && !dryRun) throw new GatewayError('SHUTTING_DOWN', `the gateway is ${this.state}`);
    if (this.redriving) throw new GatewayError('REPLAY_IN_PROGRESS', 'a re-drive is running; retry when it is done');
    this.redriving = true;
    try {
      const { entries } = await this.deadLetterStore.list(filter);
      return await redrive(entries, {
        registry: this.registry,
        ingest: dryRun ? undefined : this.ingest,
        store: this.deadLetterStore,
        metrics: this.metrics,
        ackTimeoutMs: this.config.server.ackTimeoutMs,
        log: this.log,
      });
    } finally {
      this.redriving = false;
    }
  }

  private topicsRoutedTo(destination: Destination): Topic[] {
    return this.registry.list().filter((topic) => this.router.routesFor(topic).some((route) => route.hops.some((hop) => hop.batcher.destination === destination)));
  }

  readiness(): Readiness {
    if (this.state !== 'ready') return { ready: false, reason: this.state };
    // With every destination of a route down, the gateway still takes its events while the
    // spool has room; the route's DestinationHealth decides for each, as it does for skipping
    // and destination_state. A destination that refuses for a setting is named either way.
    const { ready, reason, misconfigured } = this.router.readiness(Date.now());
    return misconfigured.length > 0 ? { ready, reason, misconfigured } : { ready, reason };
  }

  private async listen(app: FastifyInstance, host: string, port: number): Promise<number> {
    await app.listen({ host, port });
    return (app.server.address() as AddressInfo).port;
  }
}
