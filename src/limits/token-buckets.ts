// Token buckets by key: each holds up to `burst` tokens and refills at `requestsPerSecond`;
// a request takes one. Unlike a fixed window, which lets twice the limit through across a
// window's edge, a bucket never admits more than `burst` + rate × time. Buckets live in a
// map bounded to `maxKeys`, oldest-used out first, so a flood of addresses costs bounded
// memory (an evicted client starts again with a full bucket).

export interface RateRule {
  requestsPerSecond: number;
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Until one token is back (0 when allowed). */
  retryAfterMs: number;
  /** Until the bucket is full again. */
  resetMs: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxKeys: number) {}

  take(key: string, rule: RateRule, now = Date.now()): TakeResult {
    const perMs = rule.requestsPerSecond / 1000;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: rule.burst, updatedAt: now };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    } else {
      bucket.tokens = Math.min(rule.burst, bucket.tokens + (now - bucket.updatedAt) * perMs);
      bucket.updatedAt = now;
      // Re-inserted so that the map's order is the order of last use.
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    return {
      allowed,
      remaining: Math.floor(bucket.tokens),
      retryAfterMs: allowed ? 0 : Math.ceil((1 - bucket.tokens) / perMs),
      resetMs: Math.ceil((rule.burst - bucket.tokens) / perMs),
    };
  }

  get size(): number {
    return this.buckets.size;
  }
}
