import { backoffDelay } from '../background/backoff';
import type { GatewayConfig } from '../config/config';
import { batchConfigFor } from '../config/config';
import { Batcher, type BatchResult } from '../buffer/batcher';
import type { MemoryBudget } from '../buffer/memory-budget';
import type { DeadLetter, DeadLetterReason } from '../destinations/dead-letter/dead-letter';
import { RETRYABLE, type Destination, type DestinationLog, type FailureKind, type MisconfigurationReason } from '../destinations/destination';
import { destinationRegistry, type DestinationRegistry } from '../destinations/registry';
import { toCloudEventJson, type GatewayEvent } from '../envelope/envelope';
import type { GatewayMetrics } from '../metrics/metrics';
import { ConfigError } from '../errors';
import { LogLimiter } from '../log/log-limiter';
import type { Topic } from '../topics/registry';
import { Ack } from './ack';
import { DestinationHealth } from './destination-health';
import { Route, type Hop, type PendingEvent } from './route';
import { routeLabel, routeListProblems } from './route-list';

/** What /readyz says (admin-server.ts Readiness), and which destinations refuse for a setting. */
export interface RouteReadiness {
  ready: boolean;
  reason?: string;
  misconfigured: { destination: string; reason: MisconfigurationReason; message: string }[];
}

/**
 * The event as its destinations would carry it; when even that cannot be encoded (the reason
 * it is dead-lettered), its envelope and the encoder's complaint instead.
 */
function cloudEventOrEnvelope(event: GatewayEvent): unknown {
  try {
    return JSON.parse(toCloudEventJson(event));
  } catch (err) {
    return { id: event.id, type: event.schema.cloudEventType, source: event.source, receivedAt: event.receivedAt, eventTime: event.eventTime, unencodable: (err as Error).message };
  }
}

/** Backoff before a route whose every hop failed is tried again from its head. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;
/** Events a down destination due a probe is offered by replay: one probe batch's worth. */
const PROBE_RECORDS = 100;
/** How often terminal failures (too large, malformed) of one destination are logged at most. */
const LOG_INTERVAL_MS = 10_000;

/**
 * Moves accepted events down each of their topic's routes, each route on its own: to the
 * first destination that takes them now; on a retryable failure (throttled, unavailable) at
 * once to the next; after the last, back to the head after a backoff. Terminal failures go to the dead letter. Memory reserved
 * for an event is released, and its request's ack settled, when it is delivered, spooled or
 * dead-lettered.
 */
export class Router {
  private readonly hops = new Map<string, Hop>();
  /** Each topic's routes, by `<service>/<topic>`. */
  private readonly routes = new Map<string, readonly Route[]>();
  /** Topics of the same routes share one Route: its label, and its share of replay's room, are one. By index and label. */
  private readonly routesByChain = new Map<string, Route>();
  /** Events waiting out a backoff, by their timer. */
  private readonly retries = new Map<NodeJS.Timeout, PendingEvent[]>();
  private closing = false;
  private readonly logLimiter = new LogLimiter(LOG_INTERVAL_MS);

  /**
   * @param spool the last hop of every route, when spooling is enabled.
   * @param destinationTypes the types the config's entries name (their batch defaults).
   */
  constructor(
    destinations: readonly Destination[],
    private readonly spool: Destination | undefined,
    private readonly config: Readonly<GatewayConfig>,
    private readonly deadLetter: DeadLetter,
    private readonly budget: MemoryBudget,
    private readonly metrics: GatewayMetrics,
    private readonly log: DestinationLog,
    destinationTypes: DestinationRegistry = destinationRegistry,
  ) {
    for (const destination of spool ? [...destinations, spool] : destinations) {
      const batcher = new Batcher<PendingEvent>(destination, batchConfigFor(config, destination.name, destinationTypes), (b, items, result) => this.onBatchResult(b, items, result), metrics, log);
      this.hops.set(destination.name, { batcher, health: new DestinationHealth(destination, log) });
    }
    metrics.destinationState.sample = () => [...this.hops.values()].map((hop) => [hop.batcher.destination.name, hop.health.state(Date.now())]);
    metrics.destinationMisconfigured.sample = () => this.misconfigured().map((m) => [m.destination, m.reason]);
  }

  /**
   * The routes of a topic: its own, else the default routes; each ends in the spool. Names
   * not under `destinations` stop the start (the gateway resolves every topic's routes then),
   * naming the key.
   */
  routesFor(topic: Topic): readonly Route[] {
    const key = `${topic.service}/${topic.name}`;
    let routes = this.routes.get(key);
    if (!routes) {
      const own = topic.config.routes.length > 0;
      const lists = own ? topic.config.routes : this.config.defaultRoutes;
      const known = (name: string) => this.hops.has(name) && this.hops.get(name)!.batcher.destination !== this.spool;
      const problems = routeListProblems(lists, own ? (topic.config.route ? 'route' : 'routes') : 'defaultRoutes', known).map((p) => p.replace(/^route\.0\./, 'route.'));
      if (problems.length > 0) throw new ConfigError(`topic ${key}: ${problems.join('; ')}`);
      routes = lists.map((names, index) => {
        const hops = names.map((name) => this.hops.get(name)!);
        if (this.spool) hops.push(this.hops.get(this.spool.name)!);
        return this.routeOf(hops, index, routeLabel(names));
      });
      this.routes.set(key, routes);
    }
    return routes;
  }

  private routeOf(hops: Hop[], index: number, label: string): Route {
    const key = `${index}\0${label}`;
    let route = this.routesByChain.get(key);
    if (!route) this.routesByChain.set(key, (route = new Route(hops, this.spool !== undefined, index, label)));
    return route;
  }

  /**
   * How many events replay may hand a route now without any of them throttling: the room of
   * each hop before the spool that is up (its quota or learned rate less what it was sent in
   * the last second and what waits in its batch; unknown: no limit, unless it throttled in the
   * last seconds) plus a probe batch for one that is down and due a probe. 0: replay waits.
   */
  replayRoom(route: Route, now: number): number {
    let room = 0;
    for (const { batcher, health } of route.streams) {
      if (health.isDown()) {
        if (health.isUpOrProbeDue(now)) room += PROBE_RECORDS;
        continue;
      }
      const own = batcher.destination.room?.() ?? (health.state(now) === 'throttled' ? 0 : Infinity);
      room += Math.max(0, own - batcher.queuedRecords);
    }
    return room;
  }

  /**
   * Ready when every route can deliver or spool now (some hop, the spool included, takes
   * traffic: DestinationHealth.takesTraffic) and no route depends only on destinations that
   * refuse for a setting: events would wait in the spool until someone changes it.
   */
  readiness(now: number): RouteReadiness {
    const misconfigured = this.misconfigured();
    const wrong = new Set(misconfigured.map((m) => m.destination));
    for (const route of this.routesByChain.values()) {
      if (!route.hops.some((hop) => hop.health.takesTraffic(now))) {
        return { ready: false, reason: `route ${route.label} can neither deliver nor spool: ${this.spool ? 'no destination is healthy and the spool is full or cannot write' : 'no destination is healthy'}`, misconfigured };
      }
      if (route.streams.length > 0 && route.streams.every((hop) => wrong.has(hop.batcher.destination.name))) {
        const names = misconfigured.filter((m) => route.streams.some((hop) => hop.batcher.destination.name === m.destination)).map((m) => `${m.destination} (${m.reason}: ${m.message})`);
        return { ready: false, reason: `route ${route.label} cannot deliver until its configuration is fixed: ${names.join('; ')}`, misconfigured };
      }
    }
    return { ready: true, misconfigured };
  }

  /** Destinations that refuse for a configuration reason now (Destination.misconfiguration). */
  private misconfigured(): RouteReadiness['misconfigured'] {
    const found: RouteReadiness['misconfigured'] = [];
    for (const hop of this.hops.values()) {
      const m = hop.batcher.destination.misconfiguration?.();
      if (m) found.push({ destination: hop.batcher.destination.name, reason: m.reason, message: m.message });
    }
    return found;
  }

  /** Whether some route has room for replayed events now (see replayRoom). */
  hasReplayRoom(now: number): boolean {
    for (const route of this.routesByChain.values()) if (this.replayRoom(route, now) > 0) return true;
    return false;
  }

  /**
   * Queues accepted events down each of `routes` (their memory already reserved once per
   * route, as each route holds its own copy). With `durable`, the returned ack settles when
   * every event is delivered, spooled or dead-lettered on every route: a route whose chain is
   * down costs that route a spool write, and the others go on as if it were not there.
   */
  submit(events: readonly GatewayEvent[], routes: readonly Route[], durable: boolean): Ack | undefined {
    const ack = durable ? new Ack(events.length * routes.length) : undefined;
    // The routes share each event; one that reaches the spool gets a copy naming its route (queue).
    for (const route of routes) this.placeAll(events.map((event) => ({ event, route, hop: 0, attempts: 0, ack })));
    return ack;
  }

  /**
   * Queues an item at a hop of its route. The spool records which route an entry is for; an
   * entry without one belongs to the first route (as every entry of older spools), so only
   * events of a later route are copied, naming it, and only when they reach the spool.
   */
  private queue(item: PendingEvent, hop: number): void {
    item.hop = hop;
    const { route } = item;
    if (route.index > 0 && route.spooled && hop === route.hops.length - 1 && item.event.routes === undefined) {
      item.event = { ...item.event, routes: [route.index] };
    }
    route.hops[hop].batcher.add(item);
  }

  /**
   * Hands events read back from the spool (their memory already reserved) to their route. An
   * event that no hop before the spool takes now is not spooled again (it is still there): it
   * goes to `giveBack`, for replay to offer again later. The ack settles when each event is
   * delivered, dead-lettered or given back.
   */
  replay(events: readonly GatewayEvent[], route: Route, giveBack: (event: GatewayEvent) => void): Ack {
    const ack = new Ack(events.length);
    this.placeAll(events.map((event) => ({ event, route, hop: 0, attempts: 0, ack, giveBack })));
    return ack;
  }

  /** Sends everything queued and waits until it is settled or given up. */
  async drain(): Promise<void> {
    this.closing = true;
    // Events waiting out a backoff get one last try now rather than after it.
    for (const [timer, items] of this.retries) {
      clearTimeout(timer);
      this.retries.delete(timer);
      this.placeAll(items);
    }
    // A failed send can move records on to another batcher, so wait until all are idle.
    const batchers = [...this.hops.values()].map((hop) => hop.batcher);
    do {
      await Promise.all(batchers.map((b) => b.drain()));
    } while (batchers.some((b) => b.queuedRecords > 0));
  }

  /**
   * Queues events at the first hop of their route that takes them now; those that skip a
   * down head are counted once per pair of destinations, not per event.
   */
  private placeAll(items: readonly PendingEvent[]): void {
    const now = Date.now();
    const skipped = new Map<string, { from: Hop; to: Hop; count: number }>();
    for (const item of items) {
      const toSpool = item.giveBack === undefined;
      const hop = item.route.nextHop(item.event.size, 0, now, toSpool);
      if (hop === -1) {
        if (item.route.takes(item.event.size, toSpool)) this.giveBack(item);
        else this.toDeadLetter([item], 'too_large', `event of ${item.event.size} bytes is larger than any destination of route ${item.route.label} takes`);
        continue;
      }
      const to = item.route.hops[hop];
      if (hop > 0) {
        const from = item.route.hops[0];
        const key = `${from.batcher.destination.name}\0${to.batcher.destination.name}`;
        const tally = skipped.get(key);
        if (tally) tally.count++;
        else skipped.set(key, { from, to, count: 1 });
      }
      this.queue(item, hop);
    }
    for (const { from, to, count } of skipped.values()) this.countFallbacks(from, to, 'skipped', count);
  }

  private onBatchResult(batcher: Batcher<PendingEvent>, items: PendingEvent[], result: BatchResult): void {
    const hop = this.hops.get(batcher.destination.name)!;
    const now = Date.now();
    if (!Array.isArray(result)) {
      hop.health.onFailed(result.kind, true, now, result.message);
      this.countRecords(batcher.destination.name, result.kind, items.length);
      this.handleFailed(hop, items, result.kind, result.message, now);
      return;
    }
    if (result.length === 0) {
      hop.health.onDelivered(now);
      this.delivered(batcher.destination.name, items);
      return;
    }
    const failedAt = new Map(result.map((f) => [f.index, f]));
    const delivered: PendingEvent[] = [];
    const failedByKind = new Map<FailureKind, { items: PendingEvent[]; message: string }>();
    items.forEach((item, index) => {
      const failure = failedAt.get(index);
      if (!failure) return void delivered.push(item);
      let group = failedByKind.get(failure.kind);
      if (!group) failedByKind.set(failure.kind, (group = { items: [], message: failure.message }));
      group.items.push(item);
    });
    if (delivered.length > 0) hop.health.onDelivered(now);
    this.delivered(batcher.destination.name, delivered);
    for (const [kind, group] of failedByKind) {
      hop.health.onFailed(kind, false, now, group.message);
      this.countRecords(batcher.destination.name, kind, group.items.length);
      this.handleFailed(hop, group.items, kind, group.message, now);
    }
  }

  private delivered(destination: string, items: PendingEvent[]): void {
    if (items.length === 0) return;
    this.metrics.destinationRecords.labels(destination, 'delivered').inc(items.length);
    const outcome = this.spool?.name === destination ? 'spooled' : 'delivered';
    // Counted per route, once per batch: a destination on routes of several topics takes them in one batch.
    let route = items[0].route;
    let count = 0;
    for (const item of items) {
      if (item.route !== route) {
        this.countRoute(route, outcome, count);
        route = item.route;
        count = 0;
      }
      count++;
      this.settle(item);
    }
    this.countRoute(route, outcome, count);
  }

  private countRoute(route: Route, outcome: 'delivered' | 'spooled' | 'dead_lettered', count: number): void {
    this.metrics.routeEvents.labels(route.label, outcome).inc(count);
    if (outcome !== 'spooled') return;
    // A route that spools while the others deliver is what an operator needs to hear of: once per interval, not per batch.
    this.logLimiter.run(`spooled:${route.label}`, (suppressed) =>
      this.log.warn({ route: route.label, records: count, suppressed }, `route ${route.label} spools events: none of its destinations takes them now; they are replayed down this route only`),
    );
  }

  private handleFailed(from: Hop, items: PendingEvent[], kind: FailureKind, message: string, now: number): void {
    const destination = from.batcher.destination.name;
    if (!RETRYABLE[kind]) {
      // Throttled and unavailable are states, logged as they change (DestinationHealth); these
      // concern single records and can come at any rate.
      this.logLimiter.run(`${destination}:${kind}`, (suppressed) => {
        const routes = [...new Set(items.map((item) => item.route.label))];
        this.log.warn({ destination, kind, records: items.length, routes, suppressed }, `destination ${destination} refused records as ${kind}; they go to the dead letter for route ${routes.join(', ')}: ${message}`);
      });
      this.toDeadLetter(items, kind === 'too_large' ? 'too_large' : 'malformed', `${destination}: ${message}`);
      return;
    }
    const retry: PendingEvent[] = [];
    const movedTo = new Map<Hop, number>();
    for (const item of items) {
      const next = item.route.nextHop(item.event.size, item.hop + 1, now, item.giveBack === undefined);
      if (next === -1) {
        if (item.giveBack) this.giveBack(item);
        else retry.push(item);
        continue;
      }
      const to = item.route.hops[next];
      movedTo.set(to, (movedTo.get(to) ?? 0) + 1);
      this.queue(item, next);
    }
    for (const [to, count] of movedTo) this.countFallbacks(from, to, kind, count);
    if (retry.length > 0) this.retryLater(retry);
  }

  /** Every hop failed: back to the head of the route after a backoff, within the memory bound. */
  private retryLater(items: PendingEvent[]): void {
    let attempts = 0;
    for (const item of items) attempts = Math.max(attempts, ++item.attempts);
    if (this.closing) {
      this.drop(items, 'shutdown');
      return;
    }
    const delay = backoffDelay(attempts, RETRY_BASE_MS, RETRY_MAX_MS);
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      this.placeAll(items);
    }, delay);
    this.retries.set(timer, items);
  }

  /** For the route of each item only: the event's copies on other routes go on (dead letter once per route that cannot carry it). */
  private toDeadLetter(items: PendingEvent[], reason: DeadLetterReason, message: string): void {
    const routes = new Map<Route, number>();
    for (const item of items) routes.set(item.route, (routes.get(item.route) ?? 0) + 1);
    for (const [route, count] of routes) this.countRoute(route, 'dead_lettered', count);
    const records = items.map((item) => ({
      reason,
      message: `route ${item.route.label}: ${message}`,
      route: item.route.label,
      service: item.event.schema.service,
      topic: item.event.schema.topic,
      version: item.event.schema.version,
      receivedAt: item.event.receivedAt,
      source: item.event.source,
      payload: cloudEventOrEnvelope(item.event),
    }));
    // A dead letter that could not be written was counted and logged as dropped there.
    void this.deadLetter.write(records).then((written) => items.forEach((item) => this.settle(item, written)));
  }

  private drop(items: PendingEvent[], reason: 'shutdown'): void {
    for (const item of items) {
      this.metrics.eventsDropped.labels(item.event.schema.service, item.event.schema.topic, reason).inc();
      this.settle(item, false);
    }
  }

  /** A replayed event no hop takes now: back to replay, which still has it in the spool. */
  private giveBack(item: PendingEvent): void {
    item.giveBack!(item.event);
    this.settle(item, false);
  }

  private settle(item: PendingEvent, durable = true): void {
    this.budget.release(item.event.size);
    item.ack?.settle(durable);
  }

  private countFallbacks(from: Hop, to: Hop, reason: FailureKind | 'skipped', count: number): void {
    if (from === to) return;
    this.metrics.fallbacks.labels(from.batcher.destination.name, to.batcher.destination.name, reason).inc(count);
    this.metrics.destinationRecords.labels(from.batcher.destination.name, 'fell_back').inc(count);
  }

  private countRecords(destination: string, kind: FailureKind, count: number): void {
    const outcome = kind === 'throttled' ? 'throttled' : kind === 'too_large' ? 'too_large' : 'failed';
    this.metrics.destinationRecords.labels(destination, outcome).inc(count);
  }
}
