import { Type, type Static } from '@sinclair/typebox';

// How much a destination may be sent now: configured quotas (records/s, bytes/s,
// requests/s) enforced over a sliding one-second window, as the services that publish such
// quotas count them, and a learned records/s rate that falls when the destination throttles
// and creeps back up while it does not (additive increase, multiplicative decrease). What
// does not fit goes to the next hop of the route before the destination throttles it.

export const quotaSchema = Type.Object(
  {
    recordsPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    bytesPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    requestsPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  { additionalProperties: false },
);

export type Quota = Static<typeof quotaSchema>;

/** On a throttle the learned rate drops to this share of what the destination took in the last second. */
const DECREASE_FACTOR = 0.9;
/** Each second without a throttle it rises by this share (at least one record/s). */
const INCREASE_SHARE = 0.1;
const MIN_LEARNED_RATE = 1;
/** Of what was sent in a second in which the destination took nothing, the share taken as its rate. */
const UNKNOWN_RATE_SHARE = 0.5;

/**
 * The window is kept as SLOTS slots of SLOT_MS each, spanning 1.05 s rather than 1 s: a call
 * reaches the destination some milliseconds after it is counted here, so counting over a
 * slightly longer window keeps the destination's own one-second window at or under the
 * quota. With exactly 1 s, the chain test saw stream-a throttle 15% of its records and carry
 * 80% of its quota; with 1.05 s, no throttling and all of it.
 */
const SLOT_MS = 50;
const SLOTS = 1050 / SLOT_MS;

/** Sums of records, bytes and requests admitted over the last second. */
class SlidingWindow {
  private readonly records = new Float64Array(SLOTS);
  private readonly bytes = new Float64Array(SLOTS);
  private readonly requests = new Float64Array(SLOTS);
  private slot = 0;
  private slotStart: number;
  sumRecords = 0;
  sumBytes = 0;
  sumRequests = 0;

  constructor(now: number) {
    this.slotStart = now;
  }

  advance(now: number): void {
    let steps = Math.floor((now - this.slotStart) / SLOT_MS);
    if (steps <= 0) return;
    this.slotStart += steps * SLOT_MS;
    for (steps = Math.min(steps, SLOTS); steps > 0; steps--) {
      this.slot = (this.slot + 1) % SLOTS;
      this.sumRecords -= this.records[this.slot];
      this.sumBytes -= this.bytes[this.slot];
      this.sumRequests -= this.requests[this.slot];
      this.records[this.slot] = this.bytes[this.slot] = this.requests[this.slot] = 0;
    }
  }

  add(records: number, bytes: number, requests: number): void {
    this.records[this.slot] += records;
    this.bytes[this.slot] += bytes;
    this.requests[this.slot] += requests;
    this.sumRecords += records;
    this.sumBytes += bytes;
    this.sumRequests += requests;
  }
}

export class ThroughputLimiter {
  /** What was sent; quotas and the learned rate bound it. */
  private readonly sent: SlidingWindow;
  /** What the destination took; a throttle sets the learned rate from it. */
  private readonly taken: SlidingWindow;
  /** Infinity until the first throttle: nothing is known to limit the destination yet. */
  private learned = Infinity;
  private lastDecreaseAt = -Infinity;
  private lastIncreaseAt: number;

  /**
   * @param options.throttlesBelowQuota the quota is a ceiling the destination may throttle well
   *   below (Kinesis enforces its quota per shard, and keys may crowd one shard): a throttle
   *   then steps the rate down from what the destination took, as without a quota.
   */
  constructor(
    private readonly quota: Quota,
    private readonly learn: boolean,
    private readonly clock: () => number = Date.now,
    private readonly options: { throttlesBelowQuota?: boolean } = {},
  ) {
    const now = clock();
    this.sent = new SlidingWindow(now);
    this.taken = new SlidingWindow(now);
    this.lastIncreaseAt = now;
  }

  /** Records/s it may be sent: the quota, or less once learned (Infinity: no limit known). */
  get recordsPerSecond(): number {
    return Math.min(this.learned, this.quota.recordsPerSecond ?? Infinity);
  }

  /**
   * How many of these records (a prefix, by their sizes) one request may carry now; counts
   * them as sent. 0 when the request itself is over the requests/s quota.
   */
  admit(recordSizes: readonly number[]): number {
    const now = this.clock();
    this.sent.advance(now);
    this.raiseLearnedRate(now);
    if (this.quota.requestsPerSecond !== undefined && this.sent.sumRequests + 1 > this.quota.requestsPerSecond) return 0;
    const recordRoom = this.recordsPerSecond - this.sent.sumRecords;
    const byteRoom = (this.quota.bytesPerSecond ?? Infinity) - this.sent.sumBytes;
    let count = 0;
    let bytes = 0;
    while (count < recordSizes.length && count + 1 <= recordRoom && bytes + recordSizes[count] <= byteRoom) {
      bytes += recordSizes[count];
      count++;
    }
    if (count > 0) this.sent.add(count, bytes, 1);
    return count;
  }

  /**
   * Records and bytes it may be sent now, by the quotas and the learned rate, without counting
   * them (Infinity: no limit known); 0 records when the requests/s quota is spent.
   */
  room(): { records: number; bytes: number } {
    const now = this.clock();
    this.sent.advance(now);
    this.raiseLearnedRate(now);
    if (this.quota.requestsPerSecond !== undefined && this.sent.sumRequests + 1 > this.quota.requestsPerSecond) return { records: 0, bytes: 0 };
    return {
      records: Math.max(0, Math.floor(this.recordsPerSecond - this.sent.sumRecords)),
      bytes: Math.max(0, (this.quota.bytesPerSecond ?? Infinity) - this.sent.sumBytes),
    };
  }

  onAccepted(records: number): void {
    const now = this.clock();
    this.taken.advance(now);
    this.taken.add(records, 0, 0);
  }

  /** Lowers the learned rate, at most once a second: one throttle episode, one decrease. */
  onThrottled(): void {
    if (!this.learn) return;
    const now = this.clock();
    if (now - this.lastDecreaseAt < 1000) return;
    this.taken.advance(now);
    this.lastDecreaseAt = now;
    this.lastIncreaseAt = now;
    // With a configured quota the throttle is a matter of timing (calls arrive later than
    // they were counted here), so the rate steps down from the quota; without one, from
    // what the destination took in the last second. A throttle in a second in which it took
    // nothing (the first call after a quiet spell) only says the rate is below what was sent:
    // half of that, rather than the 1 record/s "took nothing" would mean, from which the
    // additive increase would need minutes to climb back.
    this.sent.advance(now);
    const took = this.taken.sumRecords > 0 ? this.taken.sumRecords : this.sent.sumRecords * UNKNOWN_RATE_SHARE;
    const stepFromQuota = this.quota.recordsPerSecond !== undefined && !this.options.throttlesBelowQuota;
    const basis = stepFromQuota ? this.recordsPerSecond : Math.min(this.recordsPerSecond, took);
    this.learned = Math.max(MIN_LEARNED_RATE, basis * DECREASE_FACTOR);
  }

  private raiseLearnedRate(now: number): void {
    if (!Number.isFinite(this.learned) || now - this.lastIncreaseAt < 1000) return;
    this.lastIncreaseAt = now;
    this.learned += Math.max(1, this.learned * INCREASE_SHARE);
    // Back at the configured quota, nothing more is known than the quota itself.
    if (this.quota.recordsPerSecond !== undefined && this.learned >= this.quota.recordsPerSecond) this.learned = Infinity;
  }
}
