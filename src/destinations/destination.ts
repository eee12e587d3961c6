import type { GatewayEvent } from '../envelope/envelope';
import type { Topic } from '../topics/registry';

// The one contract every destination keeps: Kafka, Firehose, file and spool are peers behind
// it, and the route (fallback chain) knows nothing vendor-specific. A destination classifies
// its own errors at this boundary; batching and retries live in buffer/ and route/.

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

/** What a destination learns when it starts. */
export interface DestinationContext {
  /** The topics whose route names this destination, e.g. to check that their streams exist. */
  topics: readonly Topic[];
  log: DestinationLog;
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
   * records that failed (none: all taken). Throws DestinationError when the whole batch failed.
   */
  send(events: readonly GatewayEvent[]): Promise<RecordFailure[]>;
  /** Whether sending is worth trying now; readiness and the route's skipping ask it. */
  isHealthy(): boolean;
  /**
   * How many more events it would take now without throttling (its quota or learned rate,
   * less what it was sent in the last second); absent: no limit known. Spool replay hands a
   * route no more than its hops have room for.
   */
  room?(): number;
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

/** Classifies anything a send threw: its own DestinationError, else unavailable. */
export function toDestinationError(err: unknown): DestinationError {
  if (err instanceof DestinationError) return err;
  return new DestinationError('unavailable', err instanceof Error ? err.message : String(err));
}
