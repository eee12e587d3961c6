import type { GatewayConfig } from '../config/config';
import type { ServiceKey } from '../auth/service-keys';
import { GatewayError } from '../errors';
import { TokenBuckets, type RateRule, type TakeResult } from '../limits/token-buckets';
import type { GatewayMetrics } from '../metrics/metrics';
import type { Topic } from '../topics/registry';

// The public port's rate limits, in one place for both ways a request is answered: the
// Fastify hook (public-server.ts) and the pixel fast path call the same checks, so no path
// escapes a limit. Per client address (a topic may set its own), and per service key (by the
// key's class). Each replica keeps its own buckets: with N replicas behind a balancer a client
// gets up to N times a limit, so size them per pod (docs/limits.md, "Keys and rate limits").

export class RateLimits {
  private readonly buckets: TokenBuckets;
  private readonly byIp;
  private readonly byKey;
  private readonly topicRules = new WeakMap<RateRule, RateRule>();

  constructor(
    private readonly config: Readonly<GatewayConfig['rateLimit']>,
    metrics: GatewayMetrics,
  ) {
    this.buckets = new TokenBuckets(config.maxClients);
    this.byIp = metrics.rateLimited.labels('ip');
    this.byKey = metrics.rateLimited.labels('key');
  }

  /** The per-address rule for a request to `topic` (or to no topic), if one is on. */
  clientRule(topic: Topic | undefined): RateRule | undefined {
    const own = topic?.config.rateLimit?.perIp;
    let rule = this.config.perIp;
    if (own) {
      // Asked on every pixel: a topic's rule, with its burst filled in, is made once.
      let made = this.topicRules.get(own);
      if (made === undefined) {
        made = { requestsPerSecond: own.requestsPerSecond, burst: own.burst || Math.max(1, Math.ceil(own.requestsPerSecond)) };
        this.topicRules.set(own, made);
      }
      rule = made;
    }
    return rule.requestsPerSecond > 0 ? rule : undefined;
  }

  /** Takes a token from the client's bucket; throws RATE_LIMITED (429) when it is empty. */
  checkClient(address: string, topic: Topic | undefined): void {
    const rule = this.clientRule(topic);
    if (rule === undefined) return;
    const scope = topic?.config.rateLimit ? `${topic.service}/${topic.name}` : '*';
    const result = this.buckets.take(`ip ${scope} ${address}`, rule);
    if (!result.allowed) {
      this.byIp.inc();
      throw refusal(result, rule, `client ${address} is over its rate limit (${rule.requestsPerSecond} requests/s, bursts of ${rule.burst})`);
    }
  }

  /** Takes a token from the key's bucket (its class's rule, else `perKey`). */
  checkKey(key: ServiceKey): void {
    const rule = this.config.keyClasses[key.keyClass] ?? this.config.perKey;
    if (rule.requestsPerSecond <= 0) return;
    const result = this.buckets.take(`key ${key.name}`, rule);
    if (!result.allowed) {
      this.byKey.inc();
      throw refusal(result, rule, `key ${key.name} is over its rate limit (${rule.requestsPerSecond} requests/s, bursts of ${rule.burst})`);
    }
  }
}

/**
 * 429 with `Retry-After` and the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers):
 * the bucket's size, what is left, and the seconds until it is full.
 */
function refusal(result: TakeResult, rule: RateRule, message: string): GatewayError {
  const retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  return new GatewayError('RATE_LIMITED', `${message}; retry in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
    headers: {
      'ratelimit-limit': String(rule.burst),
      'ratelimit-remaining': String(result.remaining),
      'ratelimit-reset': String(Math.max(1, Math.ceil(result.resetMs / 1000))),
      'ratelimit-policy': `${rule.burst};w=${Math.max(1, Math.round(rule.burst / rule.requestsPerSecond))}`,
    },
  });
}
