import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Aggregator } from 'prom-client';
import { SummingCounter } from './summing-counter';

// Every metric the gateway exports, in one place. Names follow Prometheus conventions
// (`tracking_gateway_<name>_<unit>[_total]`); label values come only from the topic registry,
// the destination names in the config and fixed sets — never from raw request input.
// Counters are bumped once per request or batch with a count, not once per event.
// With several workers the primary's /metrics adds up every worker's values (prom-client's
// cluster aggregation); gauges that are states, not amounts, say how they combine instead.
// A destination type's own metrics live in its folder (DestinationType.metrics), registered in
// `registry` like these, and are aggregated the same way.

export const METRIC_PREFIX = 'tracking_gateway_';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.1, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600];

export class GatewayMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new SummingCounter({
    name: `${METRIC_PREFIX}http_requests_total`,
    help: 'HTTP requests answered, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status_code'] as const,
    registers: [this.registry],
  });
  readonly httpRequestDuration = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'Time from request start to response sent, by route pattern.',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly events = new SummingCounter({
    name: `${METRIC_PREFIX}events_total`,
    help: 'Events received, by service, topic, schema version and outcome (accepted, invalid, rejected, dead_lettered).',
    labelNames: ['service', 'topic', 'version', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly eventsRejected = new SummingCounter({
    name: `${METRIC_PREFIX}events_rejected_total`,
    help: 'Events refused with a 4xx or 503 answer, by reason.',
    labelNames: ['service', 'topic', 'reason'] as const,
    registers: [this.registry],
  });
  readonly eventsDeadLettered = new SummingCounter({
    name: `${METRIC_PREFIX}events_dead_lettered_total`,
    help: 'Events written to the dead-letter destination instead of their route, by reason.',
    labelNames: ['service', 'topic', 'reason'] as const,
    registers: [this.registry],
  });
  readonly eventsDropped = new SummingCounter({
    name: `${METRIC_PREFIX}events_dropped_total`,
    help: 'Accepted events that could not be delivered, spooled or dead-lettered (lost), by reason.',
    labelNames: ['service', 'topic', 'reason'] as const,
    registers: [this.registry],
  });
  readonly segmentCalls = new SummingCounter({
    name: `${METRIC_PREFIX}segment_calls_total`,
    help: 'Segment API calls received (/v1/batch, /v1/track, …), by outcome (accepted, refused); refusals by topic and reason are in events_rejected_total.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new SummingCounter({
    name: `${METRIC_PREFIX}rate_limited_requests_total`,
    help: 'Requests answered 429, by the limit they were over (ip: the client address, key: the service key).',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly serviceKeys = this.sampledGauge({
    name: `${METRIC_PREFIX}service_keys`,
    help: 'Service keys in force (config, GATEWAY_KEYS and the keys file).',
    // Every worker holds the same keys.
    aggregator: 'max',
  });
  readonly serviceKeyReloads = new Counter({
    name: `${METRIC_PREFIX}service_key_reloads_total`,
    help: 'Reloads of the keys file (SIGHUP or a change), by outcome (ok, failed: the previous keys stay).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly eventLag = new Histogram({
    name: `${METRIC_PREFIX}event_lag_seconds`,
    help: 'Receive time minus the client event time ($time), for events that carry one.',
    labelNames: ['service', 'topic'] as const,
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });
  readonly batchRecords = new Histogram({
    name: `${METRIC_PREFIX}batch_records`,
    help: 'Records per batch sent to a destination.',
    labelNames: ['destination'] as const,
    buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 5000, 10000],
    registers: [this.registry],
  });
  readonly batchBytes = new Histogram({
    name: `${METRIC_PREFIX}batch_bytes`,
    help: 'Bytes per batch sent to a destination (estimated event sizes).',
    labelNames: ['destination'] as const,
    buckets: [1024, 8192, 65536, 262144, 1048576, 4194304, 16777216],
    registers: [this.registry],
  });
  readonly destinationRecords = new SummingCounter({
    name: `${METRIC_PREFIX}destination_records_total`,
    help: 'Records sent to a destination, by outcome (delivered, failed, throttled, too_large, fell_back; spilled: beacons written straight to the spool under memory pressure).',
    labelNames: ['destination', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly destinationSendDuration = new Histogram({
    name: `${METRIC_PREFIX}destination_send_duration_seconds`,
    help: 'Time one batch send to a destination took, until acknowledged or failed.',
    labelNames: ['destination'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly fallbacks = new Counter({
    name: `${METRIC_PREFIX}fallbacks_total`,
    help: 'Records moved from one destination of a route to the next, by reason (throttled, unavailable).',
    labelNames: ['from', 'to', 'reason'] as const,
    registers: [this.registry],
  });
  readonly destinationState = this.sampledStateGauge();
  readonly routeEvents = new SummingCounter({
    name: `${METRIC_PREFIX}route_events_total`,
    help: 'Events per route of a topic (label: its destinations in fallback order, e.g. kafka>archive), by outcome: delivered (to a destination of the route), spooled (to the spool, for this route only), replayed (taken out of the spool and delivered or dead-lettered down this route), dead_lettered (this route cannot carry it).',
    labelNames: ['route', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly destinationMisconfigured = this.sampledMisconfiguredGauge();
  readonly learnedRate = sampledPerDestination(this.registry, {
    name: `${METRIC_PREFIX}destination_learned_rate_records_per_second`,
    help: 'Records/s a destination is sent at most: its quota, lowered by throttling and raised back while it is not throttled (+Inf: no limit known).',
  });
  readonly bufferBytes = this.sampledGauge({
    name: `${METRIC_PREFIX}buffer_bytes`,
    help: 'Bytes of accepted events held in memory, not yet delivered.',
  });
  readonly bufferLimitBytes = new Gauge({
    name: `${METRIC_PREFIX}buffer_limit_bytes`,
    help: 'The configured bound on buffer_bytes (buffer.maxBytes).',
    registers: [this.registry],
  });
  readonly decodeBudgetBytes = this.sampledGauge({
    name: `${METRIC_PREFIX}decode_budget_bytes`,
    help: 'Bytes reserved by requests whose bodies are being read and decoded (server.decodeBudgetBytes bounds it).',
  });
  readonly decodeBudgetLimitBytes = new Gauge({
    name: `${METRIC_PREFIX}decode_budget_limit_bytes`,
    help: 'The configured bound on decode_budget_bytes (server.decodeBudgetBytes), per process.',
    registers: [this.registry],
  });
  readonly decodeBudgetRefusals = new Counter({
    name: `${METRIC_PREFIX}decode_budget_refusals_total`,
    help: 'Requests answered 503 OVERLOADED because the decode budget had no room for them within server.decodeWaitMs.',
    registers: [this.registry],
  });
  readonly idleCollections = this.sampledGauge({
    name: `${METRIC_PREFIX}idle_collections`,
    help: 'Full garbage collections run because the process went idle after decoding large bodies (src/http/idle-collection.ts); grows by one per burst.',
  });
  readonly spoolBytes = this.sampledGauge({
    name: `${METRIC_PREFIX}spool_bytes`,
    help: 'Bytes of events in the disk spool, waiting to be replayed.',
  });
  readonly spoolRecords = this.sampledGauge({
    name: `${METRIC_PREFIX}spool_records`,
    help: 'Events in the disk spool, waiting to be replayed.',
  });
  readonly deadLetterBytes = this.sampledGauge({
    name: `${METRIC_PREFIX}dead_letter_bytes`,
    help: 'Bytes the dead letter holds on disk (what it found at start plus what it wrote since, counted before gzip).',
  });
  readonly deadLetterLimitBytes = new Gauge({
    name: `${METRIC_PREFIX}dead_letter_limit_bytes`,
    help: 'The configured bound on dead_letter_bytes (deadLetter.maxBytes).',
    registers: [this.registry],
  });
  readonly spoolLimitBytes = new Gauge({
    name: `${METRIC_PREFIX}spool_limit_bytes`,
    help: 'The configured bound on spool_bytes (spool.maxBytes).',
    registers: [this.registry],
  });
  readonly spoolReplayedRecords = new Counter({
    name: `${METRIC_PREFIX}spool_replayed_records_total`,
    help: 'Events taken out of the spool and handed back to the head of their route.',
    registers: [this.registry],
  });
  readonly tornTailsCut = new Counter({
    name: `${METRIC_PREFIX}torn_tails_cut_total`,
    help: 'Torn tails (a write cut short by a crash, or bytes that fail their checksum) cut off a minute file or spool segment, at start or when a file is opened again; never acknowledged data. By store (minute_file, spool_segment).',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly tornTailBytesCut = new Counter({
    name: `${METRIC_PREFIX}torn_tail_bytes_cut_total`,
    help: 'Bytes of the torn tails counted in torn_tails_cut_total.',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly diskAppendFailures = new Counter({
    name: `${METRIC_PREFIX}disk_append_failures_total`,
    help: 'Appends to a file that failed (disk full, I/O error) and were cut back to the last fsynced offset; their callers were not acknowledged. By store (file, dead_letter, spool).',
    labelNames: ['store'] as const,
    registers: [this.registry],
  });
  readonly backgroundErrors = new Counter({
    name: `${METRIC_PREFIX}background_errors_total`,
    help: 'Errors caught in a background task (spool_replay, minute_file_sweep, batch_result, torn_tail_repair, and those of destination types, named <type>_<task>, e.g. file_s3_shipping), each logged with its context; the task goes on, after a backoff where it repeats.',
    labelNames: ['task'] as const,
    registers: [this.registry],
  });
  readonly deadLetterReplayed = new Counter({
    name: `${METRIC_PREFIX}dead_letter_replayed_total`,
    help: 'Dead-letter entries re-driven (tracking-gateway dead-letter replay, or the inspector page), by outcome (accepted: passed today\'s validation and became durable, it leaves the dead letter; invalid: still fails, it stays; unreadable: payload cut or topic gone, it stays; failed: not durable in time, it stays).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly inspectorDroppedSubscribers = new Counter({
    name: `${METRIC_PREFIX}inspector_dropped_subscribers_total`,
    help: 'Inspector pages whose live stream was closed because they read slower than events came (inspector.subscriberQueueBytes).',
    registers: [this.registry],
  });
  readonly spoolFullRejections = new Counter({
    name: `${METRIC_PREFIX}spool_full_rejections_total`,
    help: 'Events the spool refused because it was full (they stay in memory, then 503).',
    registers: [this.registry],
  });
  readonly ready = this.sampledGauge({
    name: `${METRIC_PREFIX}ready`,
    help: '1 while /readyz would answer 200, else 0 (read at scrape time).',
    // One ready worker takes the traffic, as /readyz says.
    aggregator: 'max',
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: '' });
  }

  /**
   * A gauge read at scrape time from `sample`, so that hot paths keep plain numbers and
   * never touch the metric.
   */
  sampledGauge(options: { name: string; help: string; aggregator?: Aggregator }): { gauge: Gauge; sample: () => number } {
    const holder = {
      sample: () => 0,
      gauge: new Gauge({
        ...options,
        registers: [this.registry],
        collect() {
          this.set(holder.sample());
        },
      }),
    };
    return holder;
  }

  /** `destination_state{destination,state}`: 1 for each destination's current state, 0 for the others. */
  private sampledStateGauge(): { gauge: Gauge; sample: () => [string, string][] } {
    const holder = {
      sample: (): [string, string][] => [],
      gauge: new Gauge({
        name: `${METRIC_PREFIX}destination_state`,
        help: 'Each destination is in one state: healthy, throttled (throttled in the last 5 s) or down (skipped, probed back); with several workers, 1 for every state some worker sees.',
        labelNames: ['destination', 'state'] as const,
        aggregator: 'max',
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [destination, current] of holder.sample()) {
            for (const state of ['healthy', 'throttled', 'down']) this.labels(destination, state).set(state === current ? 1 : 0);
          }
        },
      }),
    };
    return holder;
  }

  /** `destination_misconfigured{destination,reason}`: 1 while a destination refuses for that configuration reason. */
  private sampledMisconfiguredGauge(): { gauge: Gauge; sample: () => [string, string][] } {
    const holder = {
      sample: (): [string, string][] => [],
      gauge: new Gauge({
        name: `${METRIC_PREFIX}destination_misconfigured`,
        help: '1 while a destination refuses every batch for a configuration reason (missing_topic, missing_stream, no_permission) that no retry cures; /readyz names it. With several workers, 1 when some worker sees it.',
        labelNames: ['destination', 'reason'] as const,
        aggregator: 'max',
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [destination, reason] of holder.sample()) this.labels(destination, reason).set(1);
        },
      }),
    };
    return holder;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * A gauge with a `destination` label, each value read at scrape time from the source its
 * destination registered; the gateway's and a destination type's own metrics make them alike.
 */
export function sampledPerDestination(registry: Registry, options: { name: string; help: string }): { register: (destination: string, sample: () => number) => void } {
  const sources = new Map<string, () => number>();
  new Gauge({
    ...options,
    labelNames: ['destination'] as const,
    registers: [registry],
    collect() {
      for (const [destination, sample] of sources) this.labels(destination).set(sample());
    },
  });
  return { register: (destination, sample) => void sources.set(destination, sample) };
}
