import type { Destination, FailureKind } from '../destinations/destination';

/** What the route knows of a destination: `destination_state` reports it. */
export type DestinationState = 'healthy' | 'throttled' | 'down';

/** Whole-batch failures in a row after which a destination is skipped. */
const DOWN_AFTER_FAILURES = 3;
/** A skipped destination gets one probe batch after this, doubling up to the max. */
const PROBE_MIN_MS = 1_000;
const PROBE_MAX_MS = 30_000;
/** How long a throttle keeps the state at `throttled`. */
const THROTTLED_FOR_MS = 5_000;

/**
 * Decides whether a route sends to a destination now. One that keeps failing (or says it is
 * unhealthy, e.g. a Kafka producer without a connection) is skipped — its traffic goes
 * straight to the next hop — except for one probe batch every probe interval; a delivered
 * batch makes it healthy again and traffic returns to it.
 */
export class DestinationHealth {
  private consecutiveFailures = 0;
  private nextProbeAt = 0;
  private probeIntervalMs = PROBE_MIN_MS;
  private lastThrottledAt = -Infinity;

  constructor(readonly destination: Destination) {}

  isDown(): boolean {
    return this.consecutiveFailures >= DOWN_AFTER_FAILURES || !this.destination.isHealthy();
  }

  /** Whether it is up, or down with a probe due; unlike isAvailable, takes no probe. */
  isUpOrProbeDue(now: number): boolean {
    return !this.isDown() || now >= this.nextProbeAt;
  }

  /** Whether to send to it now; while down, true once per probe interval. */
  isAvailable(now: number): boolean {
    if (!this.isDown()) return true;
    if (now < this.nextProbeAt) return false;
    this.nextProbeAt = now + this.probeIntervalMs;
    this.probeIntervalMs = Math.min(this.probeIntervalMs * 2, PROBE_MAX_MS);
    return true;
  }

  onDelivered(): void {
    this.consecutiveFailures = 0;
    this.probeIntervalMs = PROBE_MIN_MS;
    this.nextProbeAt = 0;
  }

  onFailed(kind: FailureKind, wholeBatch: boolean, now: number): void {
    if (kind === 'throttled') {
      this.lastThrottledAt = now;
    } else if (kind === 'unavailable' && wholeBatch) {
      this.consecutiveFailures++;
      if (this.consecutiveFailures === DOWN_AFTER_FAILURES) this.nextProbeAt = now + this.probeIntervalMs;
    }
  }

  state(now: number): DestinationState {
    if (this.isDown()) return 'down';
    return now - this.lastThrottledAt < THROTTLED_FOR_MS ? 'throttled' : 'healthy';
  }
}
