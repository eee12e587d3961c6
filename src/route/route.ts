import type { Batcher } from '../buffer/batcher';
import type { GatewayEvent } from '../envelope/envelope';
import type { Ack } from './ack';
import type { DestinationHealth } from './destination-health';

/** An accepted event on its way down its route. */
export interface PendingEvent {
  /** The event, shared by the topic's routes; an event of a later route is copied, naming it, when it reaches the spool (Router.queue). */
  event: GatewayEvent;
  route: Route;
  /** Index in `route.hops` of the destination it is queued for. */
  hop: number;
  /** Times the whole route was tried and failed. */
  attempts: number;
  /** Set for service requests, whose answer waits until every event is durable. */
  ack?: Ack;
  /**
   * Set for events replayed from the spool: when no hop before the spool takes the event now,
   * it is handed back here (it is still in the spool) instead of being spooled again.
   */
  giveBack?: (event: GatewayEvent) => void;
}

/** One destination of a route: where its events queue, and whether it takes them now. */
export interface Hop {
  batcher: Batcher<PendingEvent>;
  health: DestinationHealth;
}

/**
 * One of a topic's routes: a fallback chain, its destinations in order; the spool, when
 * enabled, last. Every event of the topic goes down each of its routes.
 */
export class Route {
  /** The hops before the spool (all of them, without a spool). */
  readonly streams: readonly Hop[];

  constructor(
    readonly hops: readonly Hop[],
    /** Whether the last hop is the spool. */
    readonly spooled: boolean,
    /** Its index in the topic's routes: what the spool records for an event of this route. */
    readonly index: number,
    /** Its `route` label and name in logs (route-list.ts routeLabel). */
    readonly label: string,
  ) {
    this.streams = spooled ? hops.slice(0, -1) : hops;
  }

  /**
   * The first hop from `from` on that takes an event of `size` bytes and is not being
   * skipped as down, or -1. The last hop is never skipped: with nowhere further to go, a
   * send there is the only way on. Without `toSpool` (events replayed from the spool) the
   * spool is no hop, and every hop may be skipped.
   */
  nextHop(size: number, from: number, now: number, toSpool = true): number {
    const hops = toSpool ? this.hops : this.streams;
    const last = hops.length - 1;
    for (let hop = from; hop <= last; hop++) {
      const { batcher, health } = hops[hop];
      if (batcher.destination.maxRecordBytes < size) continue;
      if ((toSpool && hop === last) || health.isAvailable(now)) return hop;
    }
    return -1;
  }

  /** Whether any hop (the spool too, with `toSpool`) takes an event of `size` bytes at all. */
  takes(size: number, toSpool: boolean): boolean {
    return (toSpool ? this.hops : this.streams).some((hop) => hop.batcher.destination.maxRecordBytes >= size);
  }
}
