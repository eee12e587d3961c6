import type { Batcher } from '../buffer/batcher';
import type { DestinationHealth } from './destination-health';
import type { PendingEvent } from './pending-event';

/** One destination of a route: where its events queue, and whether it takes them now. */
export interface Hop {
  batcher: Batcher<PendingEvent>;
  health: DestinationHealth;
}

/** A topic's fallback chain: its destinations in order; the spool, when enabled, last. */
export class Route {
  /** The hops before the spool (all of them, without a spool). */
  readonly streams: readonly Hop[];

  constructor(
    readonly hops: readonly Hop[],
    /** Whether the last hop is the spool. */
    readonly spooled: boolean,
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
