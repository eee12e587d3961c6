// Every error the gateway answers with, in one table: a stable code, its HTTP status and
// the reason label it is counted under. Handlers throw `new GatewayError(code, message)`;
// the HTTP layer maps it to a response in one place (http/error-handler.ts).

export const ERRORS = {
  BAD_REQUEST: { status: 400, reason: 'bad_request' },
  MALFORMED_BODY: { status: 400, reason: 'malformed' },
  BAD_PARAMETER: { status: 400, reason: 'bad_parameter' },
  PROTOTYPE_POISONING: { status: 400, reason: 'prototype_poisoning' },
  BAD_VERSION: { status: 400, reason: 'bad_version' },
  UNAUTHORIZED: { status: 401, reason: 'unauthorized' },
  PUBLISHABLE_KEY_REQUIRED: { status: 401, reason: 'publishable_key' },
  FORBIDDEN_SCOPE: { status: 403, reason: 'forbidden' },
  ORIGIN_NOT_ALLOWED: { status: 403, reason: 'origin_not_allowed' },
  SERVICE_ONLY_TOPIC: { status: 403, reason: 'service_only' },
  UNKNOWN_SERVICE: { status: 404, reason: 'unknown_topic' },
  UNKNOWN_TOPIC: { status: 404, reason: 'unknown_topic' },
  UNKNOWN_VERSION: { status: 404, reason: 'unknown_version' },
  NOT_FOUND: { status: 404, reason: 'not_found' },
  METHOD_NOT_ALLOWED: { status: 405, reason: 'method_not_allowed' },
  REQUEST_TIMEOUT: { status: 408, reason: 'request_timeout' },
  BODY_TOO_LARGE: { status: 413, reason: 'body_too_large' },
  DECODED_TOO_LARGE: { status: 413, reason: 'decoded_too_large' },
  TOO_MANY_EVENTS: { status: 413, reason: 'too_many_events' },
  EVENT_TOO_LARGE: { status: 413, reason: 'event_too_large' },
  TOO_COMPLEX: { status: 413, reason: 'too_complex' },
  URI_TOO_LONG: { status: 414, reason: 'uri_too_long' },
  EXPECTATION_FAILED: { status: 417, reason: 'expectation_failed' },
  UNSUPPORTED_CONTENT_TYPE: { status: 415, reason: 'content_type' },
  UNSUPPORTED_CHARSET: { status: 415, reason: 'charset' },
  UNSUPPORTED_ENCODING: { status: 415, reason: 'content_encoding' },
  INVALID_EVENTS: { status: 422, reason: 'invalid' },
  // Segment calls (src/http/routes/segment.ts): refused one by one inside a batch.
  MALFORMED_CALL: { status: 422, reason: 'malformed_call' },
  CALL_TYPE_OFF: { status: 422, reason: 'call_type_off' },
  UNMAPPED_CALL: { status: 422, reason: 'unmapped' },
  CALL_TOO_LARGE: { status: 413, reason: 'call_too_large' },
  REPLAY_IN_PROGRESS: { status: 409, reason: 'replay_in_progress' },
  RATE_LIMITED: { status: 429, reason: 'rate_limited' },
  HEADERS_TOO_LARGE: { status: 431, reason: 'headers_too_large' },
  OVERLOADED: { status: 503, reason: 'overloaded' },
  SHUTTING_DOWN: { status: 503, reason: 'shutting_down' },
  INSPECTOR_FULL: { status: 503, reason: 'inspector_full' },
  DELIVERY_FAILED: { status: 503, reason: 'delivery_failed' },
  INTERNAL: { status: 500, reason: 'internal' },
  // The Schema Registry API's own (src/http/routes/schema-registry.ts): Confluent's error codes,
  // which its clients read from `error_code`; the other codes answer there with their status.
  SCHEMA_SUBJECT_NOT_FOUND: { status: 404, reason: 'not_found', registryCode: 40401 },
  SCHEMA_VERSION_NOT_FOUND: { status: 404, reason: 'not_found', registryCode: 40402 },
  SCHEMA_NOT_FOUND: { status: 404, reason: 'not_found', registryCode: 40403 },
  SCHEMA_INVALID: { status: 422, reason: 'invalid_schema', registryCode: 42201 },
  SCHEMA_VERSION_INVALID: { status: 422, reason: 'invalid_version', registryCode: 42202 },
  SCHEMA_REGISTRY_READ_ONLY: { status: 422, reason: 'read_only', registryCode: 42205 },
} as const satisfies Record<string, { status: number; reason: string; registryCode?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/** The `error_code` a Schema Registry client reads: Confluent's own code, else the HTTP status (as Confluent answers). */
export function registryErrorCode(code: ErrorCode): number {
  const entry: { status: number; registryCode?: number } = ERRORS[code];
  return entry.registryCode ?? entry.status;
}

/** A problem with one event of a request: its index in the request and the field path. */
export interface EventError {
  index: number;
  path: string;
  message: string;
  /** Segment calls: the call's type and event name, and the code of its refusal. */
  type?: string;
  event?: string;
  code?: ErrorCode;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly reason: string;
  readonly events?: EventError[];
  /** Per-event problems left out of `events` (server.maxErrorsReturned). */
  readonly moreErrors?: number;
  readonly retryAfterSeconds?: number;
  /** Headers the answer carries besides the error's own (RateLimit-*, WWW-Authenticate). */
  readonly headers?: Record<string, string>;
  /** The refused events were already counted where the error was raised. */
  readonly counted: boolean;

  constructor(code: ErrorCode, message: string, extra: { events?: EventError[]; moreErrors?: number; retryAfterSeconds?: number; headers?: Record<string, string>; counted?: boolean } = {}) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.reason = ERRORS[code].reason;
    this.events = extra.events;
    this.moreErrors = extra.moreErrors || undefined;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.headers = extra.headers;
    this.counted = extra.counted ?? false;
  }
}

/** A configuration or topic-definition problem found at start; names the file or key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
