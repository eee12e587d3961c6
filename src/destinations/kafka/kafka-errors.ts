import type { FailureKind, MisconfigurationReason } from '../destination';

// Kafka errors classified at the destination boundary. @platformatic/kafka reports a broker's
// error code as a ProtocolError whose `apiId` names it, inside a ResponseError (an
// AggregateError: `errors`) and under retry or multiple-error wrappers (`cause`, `errors`), so
// the tree of causes is searched. Kafka has no throttling error: a broker over its quota
// delays its answers (throttle_time_ms), so slowness shows as latency, or as a timeout
// (unavailable).

/** Broker error codes that are the records' fault; anything else is the cluster's, and retryable. */
const TERMINAL_ERRORS: Readonly<Record<string, FailureKind>> = {
  // https://kafka.apache.org/protocol#protocol_error_codes
  MESSAGE_TOO_LARGE: 'too_large',
  RECORD_LIST_TOO_LARGE: 'too_large',
  CORRUPT_MESSAGE: 'malformed',
  INVALID_RECORD: 'malformed',
};

/** Broker error codes that no retry cures: the credentials may not do what the gateway asks. */
const PERMISSION_ERRORS = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

/** Topics the gateway's routes name that the cluster does not have (and may not create). */
export class MissingKafkaTopicsError extends Error {
  constructor(readonly topics: readonly string[]) {
    super(`Kafka topics missing: ${topics.join(', ')} (create them, or set createTopics.enabled)`);
    this.name = 'MissingKafkaTopicsError';
  }
}

/** Bounds the walk: wrappers nest a few levels, and a cycle must not loop. */
const MAX_ERRORS_VISITED = 64;

interface ErrorNode {
  apiId?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Every error in the tree below `err`, breadth first, the outermost first. */
function* errorTree(err: unknown): Generator<ErrorNode> {
  const queue: unknown[] = [err];
  for (let visited = 0; visited < queue.length && visited < MAX_ERRORS_VISITED; visited++) {
    const node = queue[visited] as ErrorNode | undefined;
    if (!node || typeof node !== 'object') continue;
    yield node;
    if (Array.isArray(node.errors)) queue.push(...node.errors);
    if (node.cause) queue.push(node.cause);
  }
}

export function classifyKafkaError(err: unknown): FailureKind {
  for (const node of errorTree(err)) {
    if (typeof node.apiId === 'string' && node.apiId in TERMINAL_ERRORS) return TERMINAL_ERRORS[node.apiId];
  }
  return 'unavailable';
}

/** The innermost message, which names what the broker or the socket said. */
export function kafkaErrorMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (const node of errorTree(err)) {
    if (typeof node.message === 'string' && node.message !== '') message = node.message;
  }
  return message;
}

/** Whether a failure to connect or send is a setting's fault (a missing topic, no permission) rather than the cluster's for now. */
export function kafkaMisconfiguration(err: unknown): MisconfigurationReason | undefined {
  for (const node of errorTree(err)) {
    if (node instanceof MissingKafkaTopicsError) return 'missing_topic';
    if (typeof node.apiId === 'string' && PERMISSION_ERRORS.has(node.apiId)) return 'no_permission';
  }
  return undefined;
}

/**
 * Whether createTopics failed only because the topics exist: another worker or pod, starting
 * at the same moment, created them between our listTopics and createTopics.
 */
export function onlyTopicsAlreadyExist(err: unknown): boolean {
  const codes = [...errorTree(err)].map((node) => node.apiId).filter((id): id is string => typeof id === 'string');
  return codes.length > 0 && codes.every((id) => id === 'TOPIC_ALREADY_EXISTS');
}
