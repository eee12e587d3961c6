// Exponential backoff with jitter, the one policy for everything that waits before trying
// again: the router's retries, probes of a destination that is down, a destination reconnecting, and
// background loops after an error. The jitter keeps many waiters (events, destinations,
// gateway pods) from trying again in the same instant.

/**
 * How long to wait before attempt `attempt` (1 = after the first failure): the exponential
 * cap `baseMs · 2^(attempt−1)`, at most `maxMs`, of which the second half is random ("equal
 * jitter": never less than half the cap, so a wait still grows; never more than the cap).
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return cap / 2 + random() * (cap / 2);
}

/** A backoff that counts its own attempts: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  /** Counts a failure and returns how long to wait before the next try. */
  next(): number {
    return backoffDelay(++this.attempt, this.baseMs, this.maxMs, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }
}
