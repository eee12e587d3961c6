import type { BatchConfig, GatewayConfig } from '../config/config';
import { batchConfigFor } from '../config/config';
import { Batcher, type BatchResult } from '../buffer/batcher';
import type { MemoryBudget } from '../buffer/memory-budget';
import type { DeadLetter, DeadLetterReason } from '../destinations/dead-letter/dead-letter';
import { RETRYABLE, type Destination, type FailureKind } from '../destinations/destination';
import { toCloudEventJson, type GatewayEvent } from '../envelope/envelope';
import type { GatewayMetrics } from '../metrics/metrics';
import type { Topic } from '../topics/registry';
import { Ack } from './ack';
import type { PendingEvent } from './pending-event';
import { Route } from './route';

/** Backoff before a route whose every hop failed is tried again from its head. */
const RETRY_BASE_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Moves accepted events down their topic's route: to the first destination that can take
 * them; on a retryable failure (throttled, unavailable) at once to the next; after the last,
 * back to the head after a backoff. Terminal failures go to the dead letter. Memory reserved
 * for an event is released, and its request's ack settled, when it is delivered or
 * dead-lettered.
 */
export class Router {
  private readonly batchers = new Map<string, Batcher>();
  private readonly routes = new Map<string, Route>();
  /** Events waiting out a backoff, by their timer. */
  private readonly retries = new Map<NodeJS.Timeout, PendingEvent[]>();
  private closing = false;

  constructor(
    destinations: readonly Destination[],
    private readonly config: Readonly<GatewayConfig>,
    private readonly deadLetter: DeadLetter,
    private readonly budget: MemoryBudget,
    private readonly metrics: GatewayMetrics,
  ) {
    for (const destination of destinations) {
      const batch: BatchConfig = batchConfigFor(config, destination.name);
      this.batchers.set(destination.name, new Batcher(destination, batch, (b, items, result) => this.onBatchResult(b, items, result), metrics));
    }
  }

  /** The route of a topic: its own, else the default route. Fails on a name with no destination. */
  routeFor(topic: Topic): Route {
    const key = `${topic.service}/${topic.name}`;
    let route = this.routes.get(key);
    if (!route) {
      const names = topic.config.route.length > 0 ? topic.config.route : this.config.defaultRoute;
      const hops = names.map((name) => {
        const batcher = this.batchers.get(name);
        if (!batcher) throw new Error(`topic ${key}: route names destination "${name}", which is not configured`);
        return batcher;
      });
      route = new Route(hops);
      this.routes.set(key, route);
    }
    return route;
  }

  /**
   * Queues accepted events (their memory already reserved). With `durable`, the returned ack
   * settles when every event is delivered or dead-lettered.
   */
  submit(events: readonly GatewayEvent[], route: Route, durable: boolean): Ack | undefined {
    const ack = durable ? new Ack(events.length) : undefined;
    for (const event of events) this.place({ event, route, hop: 0, attempts: 0, ack }, 0);
    return ack;
  }

  /** Sends everything queued and waits until it is settled or given up. */
  async drain(): Promise<void> {
    this.closing = true;
    // Events waiting out a backoff get one last try now rather than after it.
    for (const [timer, items] of this.retries) {
      clearTimeout(timer);
      this.retries.delete(timer);
      for (const item of items) this.place(item, 0);
    }
    // A failed send can move records on to another batcher, so wait until all are idle.
    const batchers = [...this.batchers.values()];
    do {
      await Promise.all(batchers.map((b) => b.drain()));
    } while (batchers.some((b) => b.queuedRecords > 0));
  }

  private place(item: PendingEvent, from: number): void {
    const hop = item.route.firstHopFor(item.event.size, from);
    if (hop === -1) {
      this.toDeadLetter([item], 'too_large', `event of ${item.event.size} bytes is larger than any destination of its route takes`);
      return;
    }
    item.hop = hop;
    item.route.hops[hop].add(item);
  }

  private onBatchResult(batcher: Batcher, items: PendingEvent[], result: BatchResult): void {
    const name = batcher.destination.name;
    if (!Array.isArray(result)) {
      this.countRecords(name, result.kind, items.length);
      this.handleFailed(batcher, items, result.kind, result.message);
      return;
    }
    if (result.length === 0) {
      this.delivered(name, items);
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
    this.delivered(name, delivered);
    for (const [kind, group] of failedByKind) {
      this.countRecords(name, kind, group.items.length);
      this.handleFailed(batcher, group.items, kind, group.message);
    }
  }

  private delivered(destination: string, items: PendingEvent[]): void {
    if (items.length === 0) return;
    this.metrics.destinationRecords.labels(destination, 'delivered').inc(items.length);
    for (const item of items) this.settle(item);
  }

  private handleFailed(batcher: Batcher, items: PendingEvent[], kind: FailureKind, message: string): void {
    if (!RETRYABLE[kind]) {
      this.toDeadLetter(items, kind === 'too_large' ? 'too_large' : 'malformed', `${batcher.destination.name}: ${message}`);
      return;
    }
    const retry: PendingEvent[] = [];
    let fellBack = 0;
    for (const item of items) {
      const next = item.route.firstHopFor(item.event.size, item.hop + 1);
      if (next !== -1) {
        this.metrics.fallbacks.labels(batcher.destination.name, item.route.hops[next].destination.name, kind).inc();
        fellBack++;
        item.hop = next;
        item.route.hops[next].add(item);
      } else {
        retry.push(item);
      }
    }
    if (fellBack > 0) this.metrics.destinationRecords.labels(batcher.destination.name, 'fell_back').inc(fellBack);
    if (retry.length > 0) this.retryLater(retry);
  }

  /** Every hop failed: back to the head of the route after a backoff, within the memory bound. */
  private retryLater(items: PendingEvent[]): void {
    const attempts = Math.max(...items.map((i) => ++i.attempts));
    if (this.closing) {
      this.drop(items, 'shutdown');
      return;
    }
    const delay = Math.min(RETRY_BASE_MS * 2 ** (attempts - 1), RETRY_MAX_MS);
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      for (const item of items) this.place(item, 0);
    }, delay);
    this.retries.set(timer, items);
  }

  private toDeadLetter(items: PendingEvent[], reason: DeadLetterReason, message: string): void {
    const records = items.map((item) => ({
      reason,
      message,
      service: item.event.schema.service,
      topic: item.event.schema.topic,
      version: item.event.schema.version,
      receivedAt: item.event.receivedAt,
      source: item.event.source,
      payload: JSON.parse(toCloudEventJson(item.event)),
    }));
    this.deadLetter.write(records).then(
      () => items.forEach((item) => this.settle(item)),
      () => this.drop(items, 'dead_letter_failed'),
    );
  }

  private drop(items: PendingEvent[], reason: 'shutdown' | 'dead_letter_failed'): void {
    for (const item of items) {
      this.metrics.eventsDropped.labels(item.event.schema.service, item.event.schema.topic, reason).inc();
      this.settle(item, false);
    }
  }

  private settle(item: PendingEvent, durable = true): void {
    this.budget.release(item.event.size);
    item.ack?.settle(durable);
  }

  private countRecords(destination: string, kind: FailureKind, count: number): void {
    const outcome = kind === 'throttled' ? 'throttled' : kind === 'too_large' ? 'too_large' : 'failed';
    this.metrics.destinationRecords.labels(destination, outcome).inc(count);
  }
}
