import type { Batcher } from '../buffer/batcher';

/** A topic's fallback chain: the batchers of its destinations, in order. */
export class Route {
  constructor(readonly hops: readonly Batcher[]) {}

  /** The first hop from `from` on whose destination takes an event of `size` bytes, or -1. */
  firstHopFor(size: number, from = 0): number {
    for (let hop = from; hop < this.hops.length; hop++) {
      if (this.hops[hop].destination.maxRecordBytes >= size) return hop;
    }
    return -1;
  }
}
