import type { FailureKind } from '../destination';

// Kafka errors classified at the destination boundary. kafkajs wraps the broker's error code
// (a KafkaJSProtocolError with a `type`) in retry errors, so the chain of causes is searched.
// Kafka has no throttling error: a broker over its quota delays its answers (throttle_time_ms)
// and kafkajs waits them out, so slowness shows as latency, or as a timeout (unavailable).

/** Broker error codes that are the records' fault; anything else is the cluster's, and retryable. */
const TERMINAL_ERRORS: Readonly<Record<string, FailureKind>> = {
  // https://kafka.apache.org/protocol#protocol_error_codes
  MESSAGE_TOO_LARGE: 'too_large',
  RECORD_LIST_TOO_LARGE: 'too_large',
  CORRUPT_MESSAGE: 'malformed',
  INVALID_RECORD: 'malformed',
};

const MAX_CAUSE_DEPTH = 8;

export function classifyKafkaError(err: unknown): FailureKind {
  let current = err as { type?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current && depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current.type === 'string' && current.type in TERMINAL_ERRORS) return TERMINAL_ERRORS[current.type];
    current = current.cause as typeof current;
  }
  return 'unavailable';
}

/** The innermost message, which names what the broker or the socket said. */
export function kafkaErrorMessage(err: unknown): string {
  let current = err as { message?: unknown; cause?: unknown } | undefined;
  let message = String(err);
  for (let depth = 0; current && depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current.message === 'string' && current.message !== '') message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}
