import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import pino from 'pino';
import type { AddressInfo, Socket } from 'node:net';
import { KeyRing, keysFromConfig } from './auth/service-keys';
import { MemoryBudget } from './buffer/memory-budget';
import type { GatewayConfig } from './config/config';
import { createDestination, deadLetterDir, spoolDir } from './destinations/create-destination';
import { DeadLetter } from './destinations/dead-letter/dead-letter';
import type { Destination } from './destinations/destination';
import { destinationOptionsSchema, destinationRegistry, type DestinationRegistry } from './destinations/registry';
import { Spool } from './destinations/spool/spool';
import { buildAdminServer, type Readiness } from './http/admin-server';
import { buildPublicServer } from './http/public-server';
import { Ingest } from './ingest/ingest';
import { GatewayMetrics } from './metrics/metrics';
import { Router } from './route/router';
import { SpoolReplay } from './route/spool-replay';
import { schemaIdSourceFor, type SchemaIdSource } from './schema-registry/schema-id-source';
import { embeddedSchemaSubjects } from './schema-registry/schema-subjects';
import { loadTopicRegistry, type Topic, type TopicRegistry } from './topics/registry';

export interface GatewayOptions {
  /** This process is worker N of a cluster (logged with every line). */
  worker?: number;
  /** Listen on the admin port; a cluster's workers leave it to the primary, which aggregates them. */
  admin?: boolean;
  /** The destination types the config names (tests add their own); default: the registry's. */
  destinationTypes?: DestinationRegistry;
}

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
    this.registry = loadTopicRegistry(config.topicsDir, destinationOptionsSchema(types));
    this.destinations = destinations ?? Object.entries(config.destinations).map(([name, entry]) => createDestination(name, entry, config, this.metrics, this.log, types));
    this.deadLetter = new DeadLetter(deadLetterDir(config), config.deadLetter, this.metrics, this.log);
    const budget = new MemoryBudget(config.buffer.maxBytes, this.metrics);
    if (config.spool.enabled) this.spool = new Spool('spool', spoolDir(config), config.spool.maxBytes, config.spool.segmentBytes, this.metrics, this.log);
    this.router = new Router(this.destinations, this.spool, config, this.deadLetter, budget, this.metrics, this.log, types);
    if (this.spool) this.replay = new SpoolReplay(this.spool, this.registry, this.router, budget, this.deadLetter, this.metrics, this.log);
    // Resolve every topic's route now, so that a route naming an unknown destination stops the start.
    for (const topic of this.registry.list()) this.router.routeFor(topic);
    const ingest = new Ingest(config, this.router, budget, this.deadLetter, this.spool, this.metrics);
    this.keys = new KeyRing(keysFromConfig(config.auth.keys), config.auth.keysFile, this.log);
    this.metrics.serviceKeys.sample = () => this.keys.size;
    this.publicServer = buildPublicServer({ config, registry: this.registry, ingest, metrics: this.metrics, keys: this.keys, log: this.log });
    this.publicServer.server.on('connection', (socket: Socket) => {
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
    });
    this.schemaIds = schemaIdSourceFor(config);
    this.adminServer = buildAdminServer(config, this.metrics, this.log, () => this.readiness(), undefined, embeddedSchemaSubjects(this.registry, config));
    this.metrics.ready.sample = () => (this.readiness().ready ? 1 : 0);
  }

  /** Starts destinations and both servers; resolves with the ports actually bound (admin 0: not listening). */
  async start(): Promise<{ port: number; adminPort: number }> {
    this.state = 'starting';
    const { server } = this.config;
    const adminPort = this.options.admin === false ? 0 : await this.listen(this.adminServer, server.adminHost, server.adminPort);
    const log = this.log;
    // Torn tails a crash left are cut before anything is appended: the dead letter's first, as
    // its folder may lie inside a file destination's.
    await this.deadLetter.start();
    await this.spool?.start();
    await Promise.all(this.destinations.map((d) => d.start({ topics: this.topicsRoutedTo(d), log, schemaIds: this.schemaIds })));
    this.replay?.start();
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

  private topicsRoutedTo(destination: Destination): Topic[] {
    return this.registry.list().filter((topic) => this.router.routeFor(topic).hops.some((hop) => hop.batcher.destination === destination));
  }

  readiness(): Readiness {
    if (this.state !== 'ready') return { ready: false, reason: this.state };
    // With every destination down the gateway still takes events while the spool has room.
    // The route's DestinationHealth decides for each, as it does for skipping and destination_state.
    if (!this.router.takesTraffic(Date.now())) {
      return { ready: false, reason: this.spool ? 'no destination is healthy and the spool is full or cannot write' : 'no destination is healthy' };
    }
    return { ready: true };
  }

  private async listen(app: FastifyInstance, host: string, port: number): Promise<number> {
    await app.listen({ host, port });
    return (app.server.address() as AddressInfo).port;
  }
}
