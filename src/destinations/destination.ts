import type { GatewayEvent } from '../envelope/envelope';
import type { SchemaIdSource } from '../schema-registry/schema-id-source';
import type { Topic } from '../topics/registry';

// The one contract every destination keeps: every type and the spool are peers behind it,
// and the route (fallback chain) knows nothing vendor-specific. A destination classifies its
// own errors at this boundary; batching and retries live in buffer/ and route/.
//
// Whole batch or single records, said one way only: `send` THROWS a DestinationError when the
// batch failed as a whole — the destination took none of it, for a reason of its own
// (unreachable, throttled, full) rather than of the records. The failures it RETURNS concern
// single records. A list in which every record failed with the same retryable kind is a
// whole-batch failure in disguise: destinations end `send` with `perRecord`, which throws it
// instead, and the batcher applies the same rule to whatever a destination returns, so the
// route sees one form. Terminal kinds (too_large, malformed) belong to the records: every
// record of a batch may be returned with one.
//
// Health has one owner, the route's DestinationHealth (route/destination-health.ts): it counts
// whole-batch failures and asks `isHealthy()`, the destination's own signal (e.g. a producer
// without a connection); the route's skipping, `destination_state` and /readyz all read it.
// Nothing else calls `isHealthy()`.

/**
 * Why records were not taken. `throttled` and `unavailable` are retryable: the records move
 * down the route. `too_large` and `malformed` are terminal: the records go to the dead letter.
 */
export type FailureKind = 'throttled' | 'unavailable' | 'too_large' | 'malformed';

export const RETRYABLE: Readonly<Record<FailureKind, boolean>> = {
  throttled: true,
  unavailable: true,
  too_large: false,
  malformed: false,
};

export interface RecordFailure {
  /** Index of the record in the batch given to `send`. */
  index: number;
  kind: FailureKind;
  message: string;
}

/** A whole batch failed; every record in it shares the kind. */
export class DestinationError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'DestinationError';
  }
}

/** Where a destination reports what it does on its own (connecting, retrying); pino's shape. */
export interface DestinationLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Why a destination refuses every batch until someone changes a setting, not until a cluster
 * comes back: /readyz names it and `destination_misconfigured` counts it. Bounded label values.
 */
export type MisconfigurationReason = 'missing_topic' | 'missing_stream' | 'no_permission';

export interface Misconfiguration {
  reason: MisconfigurationReason;
  message: string;
}

/** What a destination learns when it starts. */
export interface DestinationContext {
  /** The topics whose route names this destination, e.g. to check that their streams exist. */
  topics: readonly Topic[];
  log: DestinationLog;
  /** Schema Registry ids, for destinations that write them (Kafka's confluent-avro); default: topics/'s own. */
  schemaIds?: SchemaIdSource;
}

export interface Destination {
  /** The name given in the config; used in routes and metric labels. */
  readonly name: string;
  readonly type: string;
  /** The largest single event it takes; larger ones skip it without a send. */
  readonly maxRecordBytes: number;
  /**
   * Prepares connections or files; rejects when the destination cannot be used at all. One
   * that is only unreachable for now resolves, reports unhealthy and keeps trying.
   */
  start(context: DestinationContext): Promise<void>;
  /**
   * Sends one batch and resolves once the destination has acknowledged it durably, with the
   * records that failed (none: all taken; a 2xx to a service request waits for this). Throws
   * DestinationError when the whole batch failed (see above: never a list of them all).
   */
  send(events: readonly GatewayEvent[]): Promise<RecordFailure[]>;
  /**
   * The destination's own view of whether sending is worth trying now (connected, last write
   * worked). Only DestinationHealth asks; it adds the route's count of failed batches.
   */
  isHealthy(): boolean;
  /**
   * How many more events it would take now without throttling (its quota or learned rate,
   * less what it was sent in the last second); absent: no limit known. Spool replay hands a
   * route no more than its hops have room for.
   */
  room?(): number;
  /**
   * Set while it refuses for a configuration reason (its topic or stream does not exist, its
   * credentials may not write); absent: none known. Read by /readyz and its metric.
   */
  misconfiguration?(): Misconfiguration | undefined;
  close(): Promise<void>;
}

/**
 * Encodes each event of a batch on its own. An event its encoder cannot represent fails
 * alone, as `malformed` (so the route dead-letters it with the reason): one bad record never
 * fails its batch-mates or marks the destination down. Validation should have refused such a
 * value already; this is the second line.
 */
export function encodeEach<T>(events: readonly GatewayEvent[], encode: (event: GatewayEvent) => T, failures: RecordFailure[]): { index: number; value: T }[] {
  const encoded: { index: number; value: T }[] = [];
  for (let index = 0; index < events.length; index++) {
    try {
      encoded.push({ index, value: encode(events[index]) });
    } catch (err) {
      failures.push({ index, kind: 'malformed', message: `cannot encode event ${events[index].id}: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return encoded;
}

/**
 * The whole-batch failure a list of failures amounts to, if it is one: every record of a batch
 * of `size` failed, all with the same retryable kind.
 */
export function wholeBatchFailure(failures: readonly RecordFailure[], size: number): DestinationError | undefined {
  if (size === 0 || failures.length < size) return undefined;
  const kind = failures[0].kind;
  if (!RETRYABLE[kind] || failures.some((f) => f.kind !== kind)) return undefined;
  if (new Set(failures.map((f) => f.index)).size < size) return undefined;
  return new DestinationError(kind, failures[0].message);
}

/** What a send returns: its per-record failures, or it throws the whole-batch failure they amount to. */
export function perRecord(failures: RecordFailure[], size: number): RecordFailure[] {
  const whole = wholeBatchFailure(failures, size);
  if (whole) throw whole;
  return failures;
}

/** Classifies anything a send threw: its own DestinationError, else unavailable. */
export function toDestinationError(err: unknown): DestinationError {
  if (err instanceof DestinationError) return err;
  return new DestinationError('unavailable', err instanceof Error ? err.message : String(err));
}
