import { Backoff } from '../background/backoff';
import type { Destination, DestinationLog, FailureKind } from '../destinations/destination';
import { LogLimiter } from '../log/log-limiter';

/** What the route knows of a destination: `destination_state` reports it. */
export type DestinationState = 'healthy' | 'throttled' | 'down';

/** Whole-batch failures in a row after which a destination is skipped. */
const DOWN_AFTER_FAILURES = 3;
/** A skipped destination gets one probe batch after this, doubling (with jitter) up to the max. */
const PROBE_MIN_MS = 1_000;
const PROBE_MAX_MS = 30_000;
/** How long a throttle keeps the state at `throttled`. */
const THROTTLED_FOR_MS = 5_000;
/** Failures short of `down` (a destination may fail a batch now and then) are logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * The one owner of a destination's health: whether a route sends to it now, its
 * `destination_state`, and whether it counts towards /readyz. One that keeps failing whole
 * batches, or says it is unhealthy (its own signal, `isHealthy()`: e.g. a producer without a
 * connection), is skipped — its traffic goes straight to the next hop — except for one probe
 * batch every probe interval; a delivered batch makes it healthy again and traffic returns to
 * it. Each change of state is logged once, with the failure that caused it, rather than every
 * failed batch.
 */
export class DestinationHealth {
  private consecutiveFailures = 0;
  private nextProbeAt = 0;
  private readonly probeBackoff = new Backoff(PROBE_MIN_MS, PROBE_MAX_MS);
  private lastThrottledAt = -Infinity;
  private loggedState: DestinationState = 'healthy';
  private lastProblem: string | undefined;
  private readonly failureLog = new LogLimiter(FAILURE_LOG_INTERVAL_MS);

  constructor(
    readonly destination: Destination,
    private readonly log: DestinationLog,
  ) {}

  isDown(): boolean {
    return this.consecutiveFailures >= DOWN_AFTER_FAILURES || !this.destination.isHealthy();
  }

  /** Whether it is up, or down with a probe due; unlike isAvailable, takes no probe. */
  isUpOrProbeDue(now: number): boolean {
    return !this.isDown() || now >= this.nextProbeAt;
  }

  /**
   * Whether it can take traffic, for /readyz: its own signal says so, and it is up or due a
   * probe. A destination down only for its failed batches comes back through a probe, which
   * needs traffic; one that says it is unhealthy comes back by itself (it reconnects, or its
   * disk has room again).
   */
  takesTraffic(now: number): boolean {
    return this.destination.isHealthy() && this.isUpOrProbeDue(now);
  }

  /** Whether to send to it now; while down, true once per probe interval. */
  isAvailable(now: number): boolean {
    if (!this.isDown()) return true;
    if (now < this.nextProbeAt) return false;
    this.nextProbeAt = now + this.probeBackoff.next();
    return true;
  }

  onDelivered(now: number): void {
    this.consecutiveFailures = 0;
    this.probeBackoff.reset();
    this.nextProbeAt = 0;
    this.logChange(now);
  }

  onFailed(kind: FailureKind, wholeBatch: boolean, now: number, message: string): void {
    if (kind === 'throttled') {
      this.lastThrottledAt = now;
    } else if (kind === 'unavailable' && wholeBatch) {
      this.consecutiveFailures++;
      if (this.consecutiveFailures === DOWN_AFTER_FAILURES) this.nextProbeAt = now + this.probeBackoff.next();
    }
    if (kind === 'throttled' || kind === 'unavailable') this.lastProblem = message;
    this.logChange(now);
    if (kind === 'unavailable' && !this.isDown()) {
      const destination = this.destination.name;
      this.failureLog.run('unavailable', (suppressed) =>
        this.log.warn({ destination, kind, wholeBatch, consecutiveFailures: this.consecutiveFailures, suppressed }, `destination ${destination} failed ${wholeBatch ? 'a batch' : 'records'} (${message}); they move down the route`),
      );
    }
  }

  state(now: number): DestinationState {
    if (this.isDown()) return 'down';
    return now - this.lastThrottledAt < THROTTLED_FOR_MS ? 'throttled' : 'healthy';
  }

  private logChange(now: number): void {
    const state = this.state(now);
    if (state === this.loggedState) return;
    const fields = { destination: this.destination.name, state, previous: this.loggedState, problem: this.lastProblem };
    this.loggedState = state;
    const name = this.destination.name;
    if (state === 'healthy') this.log.info(fields, `destination ${name} is healthy again`);
    else if (state === 'throttled') this.log.warn(fields, `destination ${name} throttles (${this.lastProblem}); what it does not take moves down the route`);
    else this.log.error(fields, `destination ${name} is down (${this.lastProblem ?? 'it reports itself unhealthy'}); skipped and probed with one batch at growing intervals`);
  }
}
