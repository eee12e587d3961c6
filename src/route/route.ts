import type { Batcher } from '../buffer/batcher';
import type { DestinationHealth } from './destination-health';

/** One destination of a route: where its events queue, and whether it takes them now. */
export interface Hop {
  batcher: Batcher;
  health: DestinationHealth;
}

/** A topic's fallback chain: its destinations in order; the spool, when enabled, last. */
export class Route {
  constructor(readonly hops: readonly Hop[]) {}

  /**
   * The first hop from `from` on that takes an event of `size` bytes and is not being
   * skipped as down, or -1. The last hop is never skipped: with nowhere further to go, a
   * send there is the only way on.
   */
  nextHop(size: number, from: number, now: number): number {
    const last = this.hops.length - 1;
    for (let hop = from; hop <= last; hop++) {
      const { batcher, health } = this.hops[hop];
      if (batcher.destination.maxRecordBytes < size) continue;
      if (hop === last || health.isAvailable(now)) return hop;
    }
    return -1;
  }
}
